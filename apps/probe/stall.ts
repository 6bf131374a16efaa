import type { Heartbeat } from '../shared/heartbeat.ts';

/**
 * Progress, not just a pulse: the thread of a ticking clock that has owed a tick for longer than its
 * interval plus `hangMs`, from the heartbeat alone; undefined when every thread is on time.
 *
 * A thread owes its next tick one interval after it last progressed (ticked, or began a run); a
 * thread done with the run owes nothing while another still ticks, but once every thread is done the
 * next run is owed at once. Only a clock that says it ticks is judged: one starting (a crash-loop
 * back-off included) or waiting as a standby writes no such heartbeat. A heartbeat of an older clock,
 * without intervals or quiet times, is never judged stalled.
 *
 * `sinceWrittenMs`: how long ago the heartbeat was written, as the probe measured it (how long it has
 * seen this one unchanged). Both it and the quiet times are monotonic: no wall clock is compared.
 */
export function stalledThread(heartbeat: Heartbeat, sinceWrittenMs: number, hangMs: number): { thread: string; owedMs: number } | undefined {
  const { ticksPerRun, threads } = heartbeat;
  if (heartbeat.phase !== 'ticking' || ticksPerRun === undefined || threads.length === 0) return undefined;
  const sinceWritten = Math.max(0, sinceWrittenMs);
  const runDone = threads.every((thread) => thread.tick >= ticksPerRun);
  let worst: { thread: string; owedMs: number } | undefined;
  for (const thread of threads) {
    const { intervalMs, quietMs } = thread;
    if (intervalMs === undefined || quietMs === undefined) return undefined;
    if (!runDone && thread.tick >= ticksPerRun) continue;
    const owedMs = quietMs + sinceWritten - (runDone ? 0 : intervalMs);
    if (owedMs > intervalMs + hangMs && owedMs > (worst?.owedMs ?? 0)) worst = { thread: thread.name, owedMs };
  }
  return worst;
}
