import { checkContinuity, withResetLines } from '../lib/tick-continuity.ts';
import { onTrueTime } from './machine-faults.ts';
import { takeovers } from './standby.ts';

/** The tick-continuity verdict of a chaos run, from the clock's whole out and error logs. */
export interface ContinuityVerdict {
  ok: boolean;
  ticks: number;
  threads: number;
  runs: number;
  repeats: number;
  /**
   * Clock processes that started ticking (each one after the first ended one before it: a crash or a
   * stop). In hot-standby mode a standby taking over counts too: it resumes from the checkpoint as a
   * restarted clock would.
   */
  clockStarts: number;
  /** Hot standby: each takeover's own time, from the old active's death to ticking (ms), from its log line. */
  takeovers: number[];
  /** Worker threads restarted in-process, by thread. */
  workerRestarts: Map<string, number>;
  /** Damaged-checkpoint resets the log accounts for. */
  resets: number;
  /** The most ticks one thread printed again at one restart, and where; undefined when none repeated more than one. */
  longestRewind: { thread: string; after: string; got: string; ticks: number } | undefined;
  /** Each lost or out-of-order tick, and each thread with more repeats than crashes, in one line. */
  problems: string[];
}

// The clock's own start lines: one per process that got as far as reading its progress.
const START_LINE = /^clock: (resumed run \d+ from the checkpoint|no checkpoint in )/;
// The supervisor's line for a worker it restarts or gives up on (apps/clock/supervisor.ts).
const WORKER_DOWN = /^clock: (thread-\d+) (exited with code|stopped ticking|did not become ready)/;

/**
 * No tick number may be missing, in any run of any thread; a repeat is allowed once per crash of
 * what printed it: a clock process that ended (every start after the first), or that thread's worker.
 * A clock that lost its PM2 daemon prints its last second's ticks again: each of them is a repeat.
 * `hourSteps`: the clock's wall clock was stepped by whole hours (--machine): its tick times, by which
 * the damaged-checkpoint lines are put in their place, are read on the true time.
 */
export function judgeContinuity(outText: string, errText: string, hourSteps = false): ContinuityVerdict {
  const continuity = checkContinuity(withResetLines(hourSteps ? onTrueTime(outText) : outText, errText), { rewinds: true });
  const outLines = outText.split('\n');
  const errLines = errText.split('\n');
  const resetLines = continuity.resets;
  const clockStarts = outLines.filter((line) => START_LINE.test(line)).length + resetLines;
  const workerRestarts = new Map<string, number>();
  for (const line of errLines) {
    const thread = WORKER_DOWN.exec(line)?.[1];
    if (thread) workerRestarts.set(thread, (workerRestarts.get(thread) ?? 0) + 1);
  }
  const problems: string[] = [];
  let ticks = 0;
  let runs = 0;
  let longestRewind: ContinuityVerdict['longestRewind'];
  for (const [name, thread] of continuity.threads) {
    ticks += thread.ticks;
    runs = Math.max(runs, thread.runs);
    for (const rewind of thread.rewinds) if (rewind.ticks > (longestRewind?.ticks ?? 0)) longestRewind = { thread: name, ...rewind };
    for (const gap of thread.breaks) problems.push(`${name}: after ${gap.after} came ${gap.got} (a tick lost or out of order)`);
    const crashes = Math.max(0, clockStarts - 1) + (workerRestarts.get(name) ?? 0);
    if (thread.repeats > crashes) problems.push(`${name}: ${thread.repeats} repeats for ${crashes} crash(es): at most one per crash`);
  }
  if (ticks === 0) problems.push('the clock log holds no tick at all');
  return {
    ok: problems.length === 0,
    ticks,
    threads: continuity.threads.size,
    runs,
    repeats: continuity.repeats,
    clockStarts,
    workerRestarts,
    resets: resetLines,
    takeovers: takeovers(outText).map((takeover) => takeover.ms),
    longestRewind,
    problems,
  };
}
