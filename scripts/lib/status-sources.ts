import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { CheckpointDamage, parseCheckpoint } from '../../apps/clock/checkpoint.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { absence, chooseStateDir, type Absence, type CheckpointFile, type Gathered, type RawApp } from './status-report.ts';

/**
 * What `npm run status` reads, and how, so that looking never changes what it looks at: no PM2
 * daemon is ever started (nearly every pm2 CLI command, `pm2 ping` and `pm2 jlist` included, spawns
 * one when none answers), no PM2_HOME is created, and a damaged checkpoint is left where it is.
 */

interface RpcClient {
  pingDaemon(cb: (alive: boolean) => void): void;
  launchRPC(cb: (error: Error | null) => void): void;
  executeRemote(method: string, params: unknown, cb: (error: Error | null, result: unknown) => void): void;
  close(cb: () => void): void;
}

const CALL_TIMEOUT_MS = 5_000;

/** PM2_HOME as pm2 resolves it: an empty value counts as unset. */
export function pm2HomeOf(env: NodeJS.ProcessEnv): string {
  return resolve(env.PM2_HOME || join(homedir(), '.pm2'));
}

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
  if (procStat) return procStat.state === 'Z' ? undefined : pid;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

let rpc: RpcClient | undefined;

/**
 * PM2's process list (what `pm2 jlist` prints), or undefined when no daemon answers. Spoken over
 * PM2's RPC socket rather than through the CLI: a daemon that dies between two refreshes of --watch
 * must not be replaced by an empty one that status started.
 */
export async function readProcessList(): Promise<RawApp[] | undefined> {
  // pm2 binds itself to process.env.PM2_HOME and creates its folders there when loaded: only once a
  // daemon is known to be there.
  rpc ??= ((await import('pm2')).default as unknown as { Client: RpcClient }).Client;
  const client = rpc;
  if (!(await withDeadline('ping the PM2 daemon', new Promise<boolean>((done) => client.pingDaemon(done))))) return undefined;
  try {
    await withDeadline('connect to the PM2 daemon', callback<void>((done) => client.launchRPC((error) => done(error))));
    // Only now: without a connection, executeRemote would start a daemon to talk to.
    const list = await withDeadline('PM2 getMonitorData', callback<unknown>((done) => client.executeRemote('getMonitorData', {}, done)));
    if (!Array.isArray(list)) throw new Error(`PM2 getMonitorData: expected a list of processes, got ${typeof list}`);
    return list as RawApp[];
  } finally {
    await withDeadline('disconnect from PM2', new Promise<void>((done) => client.close(() => done()))).catch(() => {});
  }
}

/** The checkpoint as it is on disk, read only: status never moves a damaged one aside. */
export async function readCheckpointFile(path: string): Promise<CheckpointFile> {
  let mtimeMs: number;
  let text: string;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { path, mtimeMs: null, checkpoint: null, damage: null };
    return { path, mtimeMs: null, checkpoint: null, damage: `unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  try {
    return { path, mtimeMs, checkpoint: parseCheckpoint(text), damage: null };
  } catch (error) {
    if (!(error instanceof CheckpointDamage)) throw error;
    return { path, mtimeMs, checkpoint: null, damage: error.reason };
  }
}

/** One look at everything the screen shows, or what is missing instead; for this process's PM2_HOME, which pm2 binds to. */
export async function gather(): Promise<Gathered | Absence> {
  const { env } = process;
  const pm2Home = pm2HomeOf(env);
  const daemonPid = daemonPidOf(pm2Home);
  const apps = daemonPid === undefined ? undefined : await readProcessList().catch((error: unknown) => {
    throw new Error(`the PM2 daemon (pid ${daemonPid}, PM2_HOME=${pm2Home}) did not answer: ${error instanceof Error ? error.message : String(error)}`);
  });
  const missing = absence(pm2Home, daemonPid, apps);
  if (missing || daemonPid === undefined || apps === undefined) return missing ?? { problem: 'no-daemon', pm2Home };
  const stateDir = chooseStateDir(apps, env);
  const paths = statePaths(stateDir.path);
  const [heartbeat, checkpoint] = await Promise.all([readHeartbeat(paths.heartbeat), readCheckpointFile(paths.checkpoint)]);
  return { now: Date.now(), pm2Home, daemonPid, apps, stateDir, heartbeatPath: paths.heartbeat, heartbeat, checkpoint };
}

function callback<T>(run: (done: (error: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value as T))));
}

function withDeadline<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
