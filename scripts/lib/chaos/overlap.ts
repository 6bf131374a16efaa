import type { ClockIdentity } from '../../../apps/probe/identity.ts';
import { clocksOfState } from './clock-processes.ts';

/** How many clocks of one state ran at once, over a whole run, sampled from the process table. */
export interface OverlapSummary {
  samples: number;
  /** The most clocks seen in one sample. */
  most: number;
  /** The longest stretch with more than one, in ms (first sample with two to first with one or none). */
  longestMs: number;
  /** When that stretch began and the pids seen then; undefined when there was none. */
  longest: { at: number; pids: number[] } | undefined;
  /** Every clock pid seen. */
  pids: Set<number>;
}

/** Folds samples (time, pids) into an OverlapSummary; pure, so that its arithmetic can be tested. */
export class OverlapTracker {
  private readonly summary: OverlapSummary = { samples: 0, most: 0, longestMs: 0, longest: undefined, pids: new Set() };
  private open: { at: number; pids: number[] } | undefined;
  private lastAt = 0;

  record(at: number, pids: number[]): void {
    const { summary } = this;
    summary.samples += 1;
    summary.most = Math.max(summary.most, pids.length);
    for (const pid of pids) summary.pids.add(pid);
    this.lastAt = at;
    if (pids.length > 1) {
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

// Four samples per probe period at chaos's 200 ms: a second clock that outlives one period is seen.
export const SAMPLE_PERIOD_MS = 50;

/** Samples the clocks of this state every SAMPLE_PERIOD_MS until stopped. */
export function watchClockOverlap(identity: ClockIdentity, periodMs = SAMPLE_PERIOD_MS): { stop(): OverlapSummary } {
  const tracker = new OverlapTracker();
  const sample = (): void => tracker.record(Date.now(), clocksOfState(identity).map((proc) => proc.pid));
  sample();
  const timer = setInterval(sample, periodMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return tracker.result();
    },
  };
}
