import type { ClockIdentity } from '../../apps/probe/identity.ts';
import { readHeartbeat, type Heartbeat } from '../../apps/shared/heartbeat.ts';
import { clocksOfState } from './clock-processes.ts';

/** How many clocks of one state ran at once, over a whole run, sampled from the process table. */
export interface OverlapSummary {
  samples: number;
  /** How many clock processes may run at once: 1, or 2 in hot-standby mode (the active and the standby). */
  allowed: number;
  /** The most clocks seen in one sample. */
  most: number;
  /** The longest stretch with more than `allowed`, in ms (first sample with more to first with no more). */
  longestMs: number;
  /** When that stretch began and the pids seen then; undefined when there was none. */
  longest: { at: number; pids: number[] } | undefined;
  /** Every clock pid seen. */
  pids: Set<number>;
}

/** Folds samples (time, pids) into an OverlapSummary; pure, so that its arithmetic can be tested. */
export class OverlapTracker {
  private readonly summary: OverlapSummary;
  private open: { at: number; pids: number[] } | undefined;
  private lastAt = 0;

  constructor(allowed = 1) {
    this.summary = { samples: 0, allowed, most: 0, longestMs: 0, longest: undefined, pids: new Set() };
  }

  record(at: number, pids: number[]): void {
    const { summary } = this;
    summary.samples += 1;
    summary.most = Math.max(summary.most, pids.length);
    for (const pid of pids) summary.pids.add(pid);
    this.lastAt = at;
    if (pids.length > summary.allowed) {
      this.open ??= { at, pids };
      return;
    }
    this.close(at);
  }

  /** The summary so far; a stretch still open counts up to the last sample. */
  result(): OverlapSummary {
    this.close(this.lastAt);
    return { ...this.summary, pids: new Set(this.summary.pids) };
  }

  private close(at: number): void {
    if (!this.open) return;
    const ms = at - this.open.at;
    if (ms >= this.summary.longestMs) {
      this.summary.longestMs = ms;
      this.summary.longest = this.open;
    }
    this.open = undefined;
  }
}

/** Which clocks wrote a ticking heartbeat over a whole run, and whether one ever wrote again after another took over. */
export interface WritersSummary {
  /** Distinct heartbeats seen (each write has its own time). */
  samples: number;
  /** Clock processes seen writing a ticking heartbeat, in the order they took the state. */
  writers: number[];
  /**
   * Each time a clock wrote a ticking heartbeat after another clock had written one after it: two
   * clocks owned the state and ticked at once (a handover is one way: the old owner is dead or done).
   */
  returns: { pid: number; at: number; other: number }[];
}

type Beat = Pick<Heartbeat, 'pid' | 'startTicks' | 'writtenAt' | 'phase'>;

/**
 * Folds the heartbeats seen into a WritersSummary; pure. Only the owner of the state lock writes the
 * heartbeat, every 250 ms: sorted by their own write times, the ticking heartbeats must fall into one
 * stretch per writer (A A A B B C C …). Two clocks ticking at once would each keep writing it, so a
 * sampler sees it change hands back and forth (A B A): a writer that comes back is that overlap.
 * Sorting by write time, not by when it was seen, keeps a write that lands late (a stopping owner's
 * last one) from counting as a return. A process is its pid and start time: a reused pid is another.
 */
export class HeartbeatWriters {
  private readonly beats = new Map<string, { key: string; pid: number; at: number }>();

  record(heartbeat: Beat | undefined): void {
    if (!heartbeat || heartbeat.phase !== 'ticking') return;
    const key = `${heartbeat.pid}:${heartbeat.startTicks ?? ''}`;
    this.beats.set(`${key}@${heartbeat.writtenAt}`, { key, pid: heartbeat.pid, at: heartbeat.writtenAt });
  }

  result(): WritersSummary {
    const beats = [...this.beats.values()].sort((a, b) => a.at - b.at);
    const done = new Set<string>();
    const writers: number[] = [];
    const returns: WritersSummary['returns'] = [];
    let current: (typeof beats)[number] | undefined;
    for (const beat of beats) {
      if (beat.key === current?.key) continue;
      if (current) done.add(current.key);
      if (done.has(beat.key)) returns.push({ pid: beat.pid, at: beat.at, other: current?.pid ?? 0 });
      else writers.push(beat.pid);
      current = beat;
    }
    return { samples: beats.length, writers, returns };
  }
}

// Four samples per probe period at chaos's 200 ms: a second clock that outlives one period is seen.
export const SAMPLE_PERIOD_MS = 50;

const HOUR_MS = 3_600_000;

/**
 * A write time stamped by a clock whose wall clock may be stepped by whole hours (--machine), on
 * the true time: read within moments of its writing, it is off the true time by the step alone.
 */
export function unstepped(writtenAt: number, seenAt: number): number {
  return writtenAt + Math.round((seenAt - writtenAt) / HOUR_MS) * HOUR_MS;
}

/**
 * Samples the clocks of this state in the process table, and the heartbeat's writer, every
 * SAMPLE_PERIOD_MS until stopped. `allowed`: how many clock processes may run at once. `hourSteps`:
 * the clock's wall clock is stepped by hours (--machine); the heartbeats' write times, by which
 * they are ordered, are taken back to the true time.
 */
export function watchClockOverlap(
  identity: ClockIdentity,
  heartbeatPath: string,
  allowed = 1,
  periodMs = SAMPLE_PERIOD_MS,
  hourSteps = false,
): { stop(): Promise<{ overlap: OverlapSummary; writers: WritersSummary }> } {
  const tracker = new OverlapTracker(allowed);
  const writers = new HeartbeatWriters();
  let reading: Promise<void> | undefined;
  const sample = (): void => {
    tracker.record(Date.now(), clocksOfState(identity).map((proc) => proc.pid));
    // One read at a time: while one is slow, the samples meanwhile skip the heartbeat.
    reading ??= readHeartbeat(heartbeatPath).then((heartbeat) => {
      writers.record(hourSteps && heartbeat ? { ...heartbeat, writtenAt: unstepped(heartbeat.writtenAt, Date.now()) } : heartbeat);
      reading = undefined;
    });
  };
  sample();
  const timer = setInterval(sample, periodMs);
  return {
    async stop() {
      clearInterval(timer);
      await reading;
      sample();
      await reading;
      return { overlap: tracker.result(), writers: writers.result() };
    },
  };
}
