import dayjs from 'dayjs';
import { parseTickLine, type TickLine } from '../../apps/shared/tick-line.ts';

/** What a clock log says about one thread's ticks. */
export interface ThreadContinuity {
  ticks: number;
  /** A tick printed again right after itself: allowed once per crash (the checkpoint lagged the print). */
  repeats: number;
  /** A tick number that was skipped (lost), or that went backwards: never allowed. */
  breaks: { after: string; got: string }[];
  /**
   * With `rewinds` on: a jump back to a tick this thread already printed, to just after where the
   * clock's resume line says the thread was. Nothing is lost; every tick printed again is a repeat.
   */
  rewinds: { after: string; got: string; ticks: number }[];
  /** Fresh starts at run 1 tick 1 that a logged damaged checkpoint accounts for. */
  resets: number;
  /** Runs this thread ticked in (a run started again after a reset counts again). */
  runs: number;
  first: TickLine;
  last: TickLine;
}

export interface Continuity {
  threads: Map<string, ThreadContinuity>;
  repeats: number;
  breaks: number;
  /** Damaged-checkpoint lines seen in the log. */
  resets: number;
}

/**
 * The line the clock writes (to its error log) when its checkpoint was unusable: it moved the file
 * aside and starts every thread again at run 1 tick 1. That is the one legitimate way back to tick 1.
 */
const RESET_LINE = /^clock: the checkpoint was damaged \(.*\); moved it aside to (.*); starting a fresh run 1$/;
// moveAside's name for the damaged copy: <path>.damaged-<ISO time, with - for : and .>.
const MOVED_ASIDE_AT = /\.damaged-(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z/;

export function isResetLine(line: string): boolean {
  return RESET_LINE.test(line.trimEnd());
}

export interface ContinuityOptions {
  /**
   * Count a jump back to an already printed tick as repeats rather than a break, where the clock's
   * resume line announced it. A clock whose PM2 daemon died takes back the ticks of its last second
   * (they may not have reached the log), and across a run's end that is more than one tick.
   */
  rewinds?: boolean;
}

// "clock: resumed run 7 from the checkpoint: thread-1 at tick 5/5, thread-2 at tick 4/5"
const RESUME_LINE = /^clock: resumed run (\d+) from the checkpoint: (.*)$/;
const RESUMED_THREAD = /(thread-\d+) at tick (\d+)\/(\d+)/g;

/** Where a resume line says each thread resumes from: its last checkpointed tick, by thread. */
export function resumedAt(line: string): Map<string, { run: number; tick: number; ticksPerRun: number }> {
  const resumed = new Map<string, { run: number; tick: number; ticksPerRun: number }>();
  const match = RESUME_LINE.exec(line.trimEnd());
  if (!match) return resumed;
  for (const [, thread, tick, ticksPerRun] of (match[2] ?? '').matchAll(RESUMED_THREAD)) {
    resumed.set(thread as string, { run: Number(match[1]), tick: Number(tick), ticksPerRun: Number(ticksPerRun) });
  }
  return resumed;
}

/**
 * Checks every thread's ticks in a clock log: each tick must be the one after the previous, within a
 * run or across the rollover to the next run (tick N/N, then run+1 tick 1), or an immediate repeat.
 * After a damaged-checkpoint line (see withResetLines), each thread's next tick must be run 1 tick 1;
 * without that line, a jump back to run 1 is a break like any other.
 */
export function checkContinuity(logText: string, options: ContinuityOptions = {}): Continuity {
  const threads = new Map<string, ThreadContinuity>();
  const resetPending = new Set<string>();
  // The tick each thread's next one must follow, as the last resume line announced it.
  const announced = new Map<string, TickLine>();
  let resets = 0;
  for (const line of logText.split('\n')) {
    if (isResetLine(line)) {
      resets += 1;
      for (const name of threads.keys()) resetPending.add(name);
      continue;
    }
    for (const [thread, at] of resumedAt(line)) announced.set(thread, { thread, ...at, timestamp: '' });
    const tick = parseTickLine(line);
    if (!tick) continue;
    const seen = threads.get(tick.thread);
    const resumedFrom = announced.get(tick.thread);
    announced.delete(tick.thread);
    if (!seen) {
      threads.set(tick.thread, { ticks: 1, repeats: 0, breaks: [], rewinds: [], resets: 0, runs: 1, first: tick, last: tick });
      continue;
    }
    const previous = seen.last;
    seen.ticks += 1;
    seen.last = tick;
    const reset = resetPending.delete(tick.thread);
    if (tick.run !== previous.run || reset) seen.runs += 1;
    const back = ordinal(previous) - ordinal(tick) + 1;
    if (reset) {
      if (tick.run === 1 && tick.tick === 1) seen.resets += 1;
      else seen.breaks.push({ after: `${label(previous)}, then a damaged checkpoint`, got: label(tick) });
    } else if (back === 1) seen.repeats += 1;
    else if (options.rewinds && back > 1 && resumedFrom && follows(resumedFrom, tick)) {
      seen.repeats += back;
      seen.rewinds.push({ after: label(previous), got: label(tick), ticks: back });
    } else if (!follows(previous, tick)) seen.breaks.push({ after: label(previous), got: label(tick) });
  }
  let repeats = 0;
  let breaks = 0;
  for (const thread of threads.values()) {
    repeats += thread.repeats;
    breaks += thread.breaks.length;
  }
  return { threads, repeats, breaks, resets };
}

/**
 * The clock's out log with its damaged-checkpoint lines, which it writes to the error log, put in
 * place. PM2's log lines carry no time of their own; the reset's time is in the name of the file it
 * moved aside, and every tick line has its own, so each reset goes before the first tick at or after
 * it. A reset line whose time cannot be read goes at the end, where it accounts for nothing.
 */
export function withResetLines(outText: string, errText: string): string {
  const resets = errText
    .split('\n')
    .filter(isResetLine)
    .map((line) => ({ line: line.trimEnd(), at: resetTimeMs(line) ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.at - b.at);
  if (resets.length === 0) return outText;
  const merged: string[] = [];
  for (const line of outText.split('\n')) {
    const tick = parseTickLine(line);
    if (tick) {
      const at = tickTimeMs(tick);
      while (resets.length > 0 && (resets[0]?.at ?? Number.POSITIVE_INFINITY) <= at) merged.push((resets.shift() as { line: string }).line);
    }
    merged.push(line);
  }
  return [...merged, ...resets.map((reset) => reset.line)].join('\n');
}

/** When a reset happened (ms since the epoch), from the moved-aside name in its line. */
export function resetTimeMs(line: string): number | undefined {
  const match = MOVED_ASIDE_AT.exec(line);
  if (!match) return undefined;
  const [, date, hours, minutes, seconds, ms] = match;
  const at = Date.parse(`${date}T${hours}:${minutes}:${seconds}.${ms}Z`);
  return Number.isNaN(at) ? undefined : at;
}

/** A tick line's own time (ms since the epoch): it is printed in local time. */
export function tickTimeMs(tick: TickLine): number {
  return dayjs(tick.timestamp).valueOf();
}

/** A tick's place in its thread's sequence since run 1 tick 1: runs are CLOCK_TICKS long. */
function ordinal(tick: TickLine): number {
  return (tick.run - 1) * tick.ticksPerRun + tick.tick;
}

function follows(previous: TickLine, tick: TickLine): boolean {
  if (tick.run === previous.run) return tick.tick === previous.tick + 1;
  return tick.run === previous.run + 1 && tick.tick === 1 && previous.tick === previous.ticksPerRun;
}

function label(tick: TickLine): string {
  return `run ${tick.run} tick ${tick.tick}/${tick.ticksPerRun}`;
}
