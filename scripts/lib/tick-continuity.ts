import { parseTickLine, type TickLine } from '../../apps/shared/tick-line.ts';

/** What a clock log says about one thread's ticks. */
export interface ThreadContinuity {
  ticks: number;
  /** A tick printed again right after itself: allowed once per crash (the checkpoint lagged the print). */
  repeats: number;
  /** A tick number that was skipped (lost), or that went backwards: never allowed. */
  breaks: { after: string; got: string }[];
  first: TickLine;
  last: TickLine;
}

export interface Continuity {
  threads: Map<string, ThreadContinuity>;
  repeats: number;
  breaks: number;
}

/**
 * Checks every thread's ticks in a clock log: each tick must be the one after the previous, within a
 * run or across the rollover to the next run (tick N/N, then run+1 tick 1), or an immediate repeat.
 */
export function checkContinuity(logText: string): Continuity {
  const threads = new Map<string, ThreadContinuity>();
  for (const line of logText.split('\n')) {
    const tick = parseTickLine(line);
    if (!tick) continue;
    const seen = threads.get(tick.thread);
    if (!seen) {
      threads.set(tick.thread, { ticks: 1, repeats: 0, breaks: [], first: tick, last: tick });
      continue;
    }
    const previous = seen.last;
    seen.ticks += 1;
    seen.last = tick;
    if (tick.run === previous.run && tick.tick === previous.tick) seen.repeats += 1;
    else if (!follows(previous, tick)) seen.breaks.push({ after: label(previous), got: label(tick) });
  }
  let repeats = 0;
  let breaks = 0;
  for (const thread of threads.values()) {
    repeats += thread.repeats;
    breaks += thread.breaks.length;
  }
  return { threads, repeats, breaks };
}

function follows(previous: TickLine, tick: TickLine): boolean {
  if (tick.run === previous.run) return tick.tick === previous.tick + 1;
  return tick.run === previous.run + 1 && tick.tick === 1 && previous.tick === previous.ticksPerRun;
}

function label(tick: TickLine): string {
  return `run ${tick.run} tick ${tick.tick}/${tick.ticksPerRun}`;
}
