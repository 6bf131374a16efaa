import type { Heartbeat } from '../shared/heartbeat.ts';

/**
 * Which thread of a ticking clock is furthest past the moment it owed its tick, and by how much, from
 * the heartbeat alone; undefined when no thread is past its moment. It names the late thread for
 * people ("thread-1 has owed a tick for 7.0 s"); it judges nothing, and has no limit of its own:
 * whether the clock is stalled is the guard contract's one rule (overdueMs in guard-contract.ts, on
 * the contract's fields of the same heartbeat), so that the probe and npm run status cannot disagree.
 *
 * A thread owes its next tick one interval after it last progressed (ticked, or began a run); a
 * thread done with the run owes nothing while another still ticks, but once every thread is done the
 * next run is owed at once. Only a clock that says it ticks is looked at: one starting (a crash-loop
 * back-off included) or waiting as a standby writes no such heartbeat. A heartbeat of an older clock,
 * without intervals or quiet times, names no thread.
 *
 * `sinceWrittenMs`: how long ago the heartbeat was written (how long it has been seen unchanged).
 * Both it and the quiet times are monotonic durations: no wall clock is compared.
 */
export function lateThread(heartbeat: Heartbeat, sinceWrittenMs: number): { thread: string; owedMs: number } | undefined {
  const { ticksPerRun, threads } = heartbeat;
  if (heartbeat.phase !== 'ticking' || ticksPerRun === undefined || !Array.isArray(threads) || threads.length === 0) return undefined;
  const sinceWritten = Math.max(0, sinceWrittenMs);
  const runDone = threads.every((thread) => thread.tick >= ticksPerRun);
  let latest: { thread: string; owedMs: number } | undefined;
  for (const thread of threads) {
    const { intervalMs, quietMs } = thread;
    if (intervalMs === undefined || quietMs === undefined) return undefined;
    if (!runDone && thread.tick >= ticksPerRun) continue;
    const owedMs = quietMs + sinceWritten - (runDone ? 0 : intervalMs);
    if (owedMs > (latest?.owedMs ?? 0)) latest = { thread: thread.name, owedMs };
  }
  return latest;
}
