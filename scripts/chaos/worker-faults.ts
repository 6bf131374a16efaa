import { performance } from 'node:perf_hooks';
import { isInstanceOf } from '../../apps/probe/identity.ts';
import { readEnviron, readProcess } from '../../apps/probe/proc-table.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import type { WorkerFaultKind } from './plan.ts';
import type { Look, System } from './system.ts';

/**
 * The faults of the worker: a signal to PM2's worker, once it is proven an instance of the worker;
 * then watched until a new worker process (another pid) is online in PM2 and has written a ready beat
 * of its own. Timed on the monotonic clock (performance.now()), from the signal to the look that
 * first saw that.
 */

const SIGNALS: Record<WorkerFaultKind, NodeJS.Signals> = {
  // A stopped process beats no more: hung, as a blocked event loop (SIGUSR1, the worker's "hang") would be.
  'hang-worker': 'SIGSTOP',
  // The worker's own "stall": a job gets stuck; it beats on while the progress it owes runs late.
  'stall-worker': 'SIGUSR2',
  'sigkill-worker': 'SIGKILL',
};

/** A fault of the worker as it was done: the worker it struck, and when (performance.now()). */
export interface WorkerInjected {
  pid: number;
  at: number;
}

/** Signals PM2's ready worker at once; throws if there is none, or it is not proven the worker. */
export function injectWorkerFault(system: System, kind: WorkerFaultKind, seen: Look): WorkerInjected {
  const view = seen.worker;
  const app = view?.app;
  if (!system.worker || !view || app?.status !== 'online') throw new Error(`cannot inject ${kind}: PM2 does not report the worker online`);
  if (view.beat?.pid !== app.pid || !view.beat.ready) {
    throw new Error(`cannot inject ${kind}: the worker's beat is from pid ${view.beat?.pid ?? 'none'}${view.beat?.ready === false ? ', not ready' : ''}, not from PM2's worker ${app.pid} ready`);
  }
  const proc = readProcess(app.pid);
  if (!proc || !isInstanceOf(proc, readEnviron(app.pid), system.worker.identity)) {
    throw new Error(`cannot inject ${kind}: PM2's worker pid ${app.pid} is not a live instance of ${system.worker.identity.entry} on ${system.worker.settings.heartbeat}`);
  }
  // The same process that was proven (its start time): never a pid reused in between.
  if (readProcStat(app.pid)?.startTicks !== proc.createTime) throw new Error(`cannot inject ${kind}: worker pid ${app.pid} ended before it could be signalled`);
  const at = performance.now();
  process.kill(app.pid, SIGNALS[kind]);
  return { pid: app.pid, at };
}

/** Watches the worker after its fault until a new one has replaced it; keeps what the struck one owed. */
export class WorkerRecovery {
  /** ms from the fault to the first look that saw a new worker online in PM2 with a ready beat of its own. */
  replacedAfterMs: number | undefined;
  /**
   * ms from the fault to the moment the struck worker owed progress, by the last of its beats seen:
   * that beat's owedInMs, counted from the look that first saw it (at most one poll after its write).
   */
  owedAfterMs: number | undefined;
  private lastSeq: number | undefined;

  constructor(private readonly injected: WorkerInjected) {}

  /** What still stands between `seen` and the worker replaced; none once it is. */
  problems(seen: Look): string[] {
    const view = seen.worker;
    if (!view) return ['the worker was not looked at'];
    const { beat, app } = view;
    if (beat?.pid === this.injected.pid && beat.seq !== this.lastSeq) {
      this.lastSeq = beat.seq;
      this.owedAfterMs = beat.owedInMs === null ? undefined : Math.round(view.seenAt + beat.owedInMs - this.injected.at);
    }
    if (app?.status !== 'online' || app.pid === this.injected.pid) return [`PM2 has not replaced the struck worker (pid ${this.injected.pid}) yet`];
    if (beat?.pid !== app.pid || !beat.ready) return [`the new worker (pid ${app.pid}) has not written a ready beat yet`];
    this.replacedAfterMs ??= Math.round(view.seenAt - this.injected.at);
    return [];
  }
}
