import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_CAP_BYTES, CheckpointDamage, parseCheckpoint } from '../../apps/clock/checkpoint.ts';
import { GUARD_BEAT_CAP_BYTES, parseGuardBeat } from '../../apps/shared/guard-contract.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { isLiving, readProcStat } from '../../apps/shared/proc-stat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { readStateFile } from '../../apps/shared/state-file.ts';
import { Pm2Client, pm2HomeOf } from '../../apps/probe/pm2-client.ts';
import { guardDeclarations } from './guarded.ts';
import { absence, chooseStateDir } from './judge.ts';
import type { Absence, BeatFile, CheckpointFile, Gathered, RawApp } from './types.ts';

/**
 * What `npm run status` reads, and how, so that looking never changes what it looks at: no PM2
 * daemon is ever started (nearly every pm2 CLI command, `pm2 ping` and `pm2 jlist` included, spawns
 * one when none answers), no PM2_HOME is created, and a damaged checkpoint is left where it is.
 */

/** The pid in PM2_HOME/pm2.pid, if that process is alive (it may be another one that reused the pid). */
export function daemonPidOf(home: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(home, 'pm2.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  // A killed daemon whose parent never reaps it stays in the process table as a zombie.
  const procStat = readProcStat(pid);
  if (procStat) return isLiving(procStat) ? pid : undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/**
 * PM2's process list (what `pm2 jlist` prints), over PM2's RPC socket rather than through the CLI:
 * a daemon that dies between two refreshes of --watch must not be replaced by an empty one that
 * status started (Pm2Client never starts one).
 */
export async function readProcessList(pm2Home: string): Promise<RawApp[]> {
  const client = new Pm2Client(pm2Home);
  try {
    return (await client.processList()) as unknown as RawApp[];
  } finally {
    await client.disconnect();
  }
}

/** The checkpoint as it is on disk, read only (bounded, no symlink followed): status never moves a damaged one aside. */
export async function readCheckpointFile(path: string): Promise<CheckpointFile> {
  let file: Awaited<ReturnType<typeof readStateFile>>;
  try {
    file = await readStateFile(path, CHECKPOINT_CAP_BYTES);
  } catch (error) {
    return { path, mtimeMs: null, checkpoint: null, damage: `unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  if (file.kind === 'missing') return { path, mtimeMs: null, checkpoint: null, damage: null };
  if (file.kind === 'unusable') return { path, mtimeMs: null, checkpoint: null, damage: file.reason };
  try {
    return { path, mtimeMs: file.mtimeMs, checkpoint: parseCheckpoint(file.text), damage: null };
  } catch (error) {
    if (!(error instanceof CheckpointDamage)) throw error;
    return { path, mtimeMs: file.mtimeMs, checkpoint: null, damage: error.reason };
  }
}

/**
 * A guarded app's beat file as it is on disk: a regular file of at most the contract's cap, never
 * through a symlink, parsed by the contract's own parser. Anything else is only its reason.
 */
export async function readBeatFile(path: string): Promise<BeatFile> {
  let file: Awaited<ReturnType<typeof readStateFile>>;
  try {
    file = await readStateFile(path, GUARD_BEAT_CAP_BYTES);
  } catch (error) {
    return { mtimeMs: null, beat: null, problem: `unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  if (file.kind === 'missing') return { mtimeMs: null, beat: null, problem: null };
  if (file.kind === 'unusable') return { mtimeMs: null, beat: null, problem: file.reason };
  const parsed = parseGuardBeat(file.text);
  if (parsed.kind === 'not-a-beat') return { mtimeMs: null, beat: null, problem: parsed.reason };
  return { mtimeMs: file.mtimeMs, beat: parsed.beat, problem: null };
}

/** The beat file of every app PM2 lists with a good guard declaration, by path. */
async function readBeats(apps: RawApp[]): Promise<Record<string, BeatFile>> {
  const paths = [...new Set(guardDeclarations(apps).flatMap((declaration) => (declaration.settings ? [declaration.settings.heartbeat] : [])))];
  return Object.fromEntries(await Promise.all(paths.map(async (path) => [path, await readBeatFile(path)] as const)));
}

/** One look at everything the screen shows, or what is missing instead; for this process's PM2_HOME, which pm2 binds to. */
export async function gather(): Promise<Gathered | Absence> {
  const { env } = process;
  const pm2Home = pm2HomeOf(env);
  const daemonPid = daemonPidOf(pm2Home);
  const apps = daemonPid === undefined ? undefined : await readProcessList(pm2Home).catch((error: unknown) => {
    throw new Error(`the PM2 daemon (pid ${daemonPid}, PM2_HOME=${pm2Home}) did not answer: ${error instanceof Error ? error.message : String(error)}`);
  });
  const missing = absence(pm2Home, daemonPid, apps);
  if (missing || daemonPid === undefined || apps === undefined) return missing ?? { problem: 'no-daemon', pm2Home };
  const stateDir = chooseStateDir(apps, env);
  const paths = statePaths(stateDir.path);
  const [heartbeat, checkpoint, beats] = await Promise.all([readHeartbeat(paths.heartbeat), readCheckpointFile(paths.checkpoint), readBeats(apps)]);
  return { now: Date.now(), pm2Home, daemonPid, apps, stateDir, heartbeatPath: paths.heartbeat, heartbeat, checkpoint, beats };
}
