import { median } from '../lib/stats.ts';
import type { ChaosOutcome, FaultResult } from './report.ts';
import type { Target } from './targets.ts';

/**
 * The targets issue 18 set for a guarded app that is not the clock, judged on the worker's faults:
 * a hung worker replaced within its GUARD_HANG_MS + 1 s of the fault; a stalled one within its
 * GUARD_STALL_MS + 1 s of the moment it owed progress. Replaced means a new worker process online in
 * PM2 with a ready beat of its own. Like the machine's, they are the report's, not the verdict's.
 */

export const WORKER_MARGIN_MS = 1_000;

/** The worker's targets whose kinds the run had (none when the worker did not run). */
export function workerTargets(outcome: ChaosOutcome): Target[] {
  const { worker } = outcome;
  if (!worker) return [];
  const had = (kind: FaultResult['kind']) => outcome.kinds === undefined || outcome.kinds.includes(kind);
  return [...(had('hang-worker') ? [hungTarget(outcome, worker.hangMs)] : []), ...(had('stall-worker') ? [stalledTarget(outcome, worker.stallMs)] : [])];
}

function hungTarget(outcome: ChaosOutcome, hangMs: number): Target {
  const of = outcome.results.filter((result) => result.kind === 'hang-worker');
  const times = recoveryTimes(of);
  const limitMs = hangMs + WORKER_MARGIN_MS;
  const whys: string[] = [];
  if (of.length === 0) whys.push('no hang-worker fault was done');
  else if (times.length < of.length) whys.push(`${of.length - times.length} not replaced`);
  const slow = times.filter((time) => time > limitMs);
  if (slow.length > 0) whys.push(`${slow.length} replaced later than ${ms(limitMs)} (${slow.map(ms).join(', ')})`);
  return {
    goal: `a hung worker replaced within its GUARD_HANG_MS + ${WORKER_MARGIN_MS / 1000} s (${ms(limitMs)} after the fault)`,
    measured: [`kill -STOP to a new worker online with a ready beat: median ${ms(median(times))}, max ${ms(max(times))}, over ${times.length} of ${of.length}`],
    met: whys.length === 0,
    why: whys.length > 0 ? whys.join('; ') : undefined,
  };
}

function stalledTarget(outcome: ChaosOutcome, stallMs: number): Target {
  const of = outcome.results.filter((result) => result.kind === 'stall-worker');
  const replaced = of.filter((result) => result.recovered && result.recoveryMs !== undefined);
  // How long after the moment it owed progress each was replaced; NaN where that moment was not seen.
  const pastOwed = replaced.map((result) => (result.recoveryMs ?? Number.NaN) - (result.owedMs ?? Number.NaN));
  const limitMs = stallMs + WORKER_MARGIN_MS;
  const whys: string[] = [];
  if (of.length === 0) whys.push('no stall-worker fault was done');
  else if (replaced.length < of.length) whys.push(`${of.length - replaced.length} not replaced`);
  const unseen = pastOwed.filter(Number.isNaN).length;
  if (unseen > 0) whys.push(`${unseen} without an owed moment seen in the stalled worker's beats`);
  const slow = pastOwed.filter((late) => late > limitMs);
  if (slow.length > 0) whys.push(`${slow.length} replaced later than ${ms(limitMs)} past the owed moment (${slow.map(ms).join(', ')})`);
  const seen = pastOwed.filter((late) => !Number.isNaN(late));
  const owed = replaced.flatMap((result) => (result.owedMs === undefined ? [] : [result.owedMs]));
  return {
    goal: `a stalled worker replaced within its GUARD_STALL_MS + ${WORKER_MARGIN_MS / 1000} s of the moment it owed progress (${ms(limitMs)})`,
    measured: [
      `the owed moment (its last beat's owedInMs, from when that beat was seen) to a new worker online with a ready beat: median ${ms(median(seen))}, max ${ms(max(seen))}, over ${seen.length} of ${of.length}`,
      `(it owed progress a median of ${ms(median(owed))} after kill -USR2; replaced a median of ${ms(median(recoveryTimes(of)))} after it)`,
    ],
    met: whys.length === 0,
    why: whys.length > 0 ? whys.join('; ') : undefined,
  };
}

function recoveryTimes(results: FaultResult[]): number[] {
  return results.flatMap((result) => (result.recovered && result.recoveryMs !== undefined ? [result.recoveryMs] : []));
}

function max(values: number[]): number {
  return values.length > 0 ? Math.max(...values) : Number.NaN;
}

function ms(value: number): string {
  return Number.isNaN(value) ? '-' : `${Math.round(value)} ms`;
}
