import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isInstanceOf, pm2ContainerIn, realpathOrUndefined, type AppIdentity } from '../../apps/probe/identity.ts';
import { findProcesses, readEnviron } from '../../apps/probe/proc-table.ts';
import { pm2AppOf, type Pm2App, type RawPm2Process } from '../../apps/probe/pm2-client.ts';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { GUARD_BEAT_CAP_BYTES, guardSettingsOf, parseGuardBeat, type GuardBeat, type GuardSettings } from '../../apps/shared/guard-contract.ts';
import { readStateFile } from '../../apps/shared/state-file.ts';

/**
 * The guarded app chaos runs beside the clock that is not the clock: the example worker, declared by
 * its own ecosystem file (examples/guarded-worker), started from it as it is, and seen the way the
 * probe sees it: PM2's entry, the beat in its GUARD_HEARTBEAT, its instances in the process table.
 */

export const WORKER_APP = 'worker';
/** The example's ecosystem file: chaos starts its `worker` app alone (`--only`), with the example's settings. */
export const WORKER_CONFIG = join(PROJECT_ROOT, 'examples', 'guarded-worker', 'ecosystem.config.js');
const WORKER_SCRIPT = join(PROJECT_ROOT, 'examples', 'guarded-worker', 'worker.mjs');

/** The worker as PM2 launched it: its guard settings (from its env in PM2) and how an instance of it is proven. */
export interface WorkerSpec {
  settings: GuardSettings;
  identity: AppIdentity;
}

/** One look at the worker. */
export interface WorkerView {
  /** PM2's entry for it, if PM2 lists it. */
  app: Pm2App | undefined;
  /** The beat in its GUARD_HEARTBEAT, if that file holds one of the contract. */
  beat: GuardBeat | undefined;
  /** How old the beat's file was when read (ms, by its modification time). */
  beatAgeMs: number | undefined;
  /** performance.now() once PM2's entry and the beat were both read: the worker's faults are timed on this clock. */
  seenAt: number;
  /** Pids of the instances of the worker (its script, on its beat) in the process table, whoever started them. */
  instances: number[];
}

/** The worker's spec from PM2's entry for it; throws if PM2 has none or the entry is not under guard. */
export function workerSpecOf(list: RawPm2Process[]): WorkerSpec {
  const raw = list.find((app) => app.name === WORKER_APP);
  if (!raw) throw new Error(`PM2 lists no app named ${WORKER_APP} (started from ${WORKER_CONFIG})`);
  const app = pm2AppOf(raw);
  const settings = guardSettingsOf(WORKER_APP, (name) => app.env?.[name]);
  if (!settings) throw new Error(`PM2's ${WORKER_APP} has no GUARD_HEARTBEAT in its env: it is not under guard`);
  const entry = realpathOrUndefined(WORKER_SCRIPT) ?? WORKER_SCRIPT;
  return {
    settings,
    identity: {
      name: WORKER_APP,
      entry,
      user: String(process.getuid?.() ?? -1),
      // The worker names no state of its own (no GUARD_STATE_ENV): its beat is its state.
      state: { env: 'GUARD_HEARTBEAT', path: settings.heartbeat, base: app.cwd ?? dirname(entry) },
      container: pm2ContainerIn(PROJECT_ROOT),
    },
  };
}

/** The worker as `list` (PM2's, just taken) shows it, with its beat and its instances read now. */
export async function lookAtWorker(spec: WorkerSpec, list: RawPm2Process[]): Promise<WorkerView> {
  const raw = list.find((app) => app.name === WORKER_APP);
  const read = await readBeat(spec.settings.heartbeat);
  const seenAt = performance.now();
  const instances = findProcesses('worker.mjs')
    .filter((proc) => isInstanceOf(proc, readEnviron(proc.pid), spec.identity))
    .map((proc) => proc.pid);
  return { app: raw && pm2AppOf(raw), beat: read?.beat, beatAgeMs: read && Date.now() - read.mtimeMs, seenAt, instances };
}

async function readBeat(path: string): Promise<{ beat: GuardBeat; mtimeMs: number } | undefined> {
  const file = await readStateFile(path, GUARD_BEAT_CAP_BYTES).catch(() => undefined);
  if (file?.kind !== 'read') return undefined;
  const parsed = parseGuardBeat(file.text);
  return parsed.kind === 'beat' ? { beat: parsed.beat, mtimeMs: file.mtimeMs } : undefined;
}
