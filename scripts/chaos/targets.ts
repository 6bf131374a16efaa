import { median } from '../lib/stats.ts';
import { DISK_FAULTS, STEP_FAULTS, type FaultKind } from './plan.ts';
import type { ChaosOutcome, FaultResult } from './report.ts';
import { workerTargets } from './worker-targets.ts';

/**
 * The targets issue 17 set for the faults of the machine, judged on a run's figures. They are the
 * report's, not the verdict's: the verdict fails a run for a fault not healed (a false heal is one)
 * or a tick lost; a target says whether it was healed as fast as promised, over enough faults.
 */
export interface Target {
  goal: string;
  /** The figures, a line each. */
  measured: string[];
  met: boolean;
  /** Why not met, when it is not. */
  why: string | undefined;
}

export const DISK_BACK_WITHIN_MS = 5_000;
export const DISK_FAULTS_NEEDED = 5;
export const STEPS_NEEDED = 10;
/** The hung probe's target: PROBE_HANG_MS and this. */
export const PROBE_BACK_MARGIN_MS = 2_000;
// Each step fault steps the wall clock by an hour and back again, and watches after each.
const STEPS_PER_FAULT = 2;

/** The targets whose kinds the run had: every one with --machine, unless --kinds left their kinds out. */
export function machineTargets(outcome: ChaosOutcome): Target[] {
  const kinds = outcome.kinds ?? (outcome.machine ? undefined : []);
  const had = (of: ReadonlySet<FaultKind> | FaultKind[]) => kinds === undefined || [...of].some((kind) => kinds.includes(kind));
  const targets: Target[] = [];
  if (had(DISK_FAULTS)) targets.push(diskTarget(outcome));
  if (had(STEP_FAULTS)) targets.push(stepTarget(outcome));
  if (had(['hang-probe'])) targets.push(hungProbeTarget(outcome));
  return targets;
}

/** The run's targets, a group for the machine's and one for the worker's (worker-targets.ts); undefined if it had none. */
export function renderTargets(outcome: ChaosOutcome): string | undefined {
  const groups = [
    { title: 'targets for faults of the machine', targets: machineTargets(outcome) },
    { title: 'targets for faults of the worker', targets: workerTargets(outcome) },
  ].filter((group) => group.targets.length > 0);
  if (groups.length === 0) return undefined;
  return groups
    .map(({ title, targets }) =>
      [
        `${title} (judged here; the verdict below judges heals and ticks):`,
        ...targets.flatMap((target) => [`  ${target.goal}`, ...target.measured.map((line) => `    ${line}`), `    ${target.met ? 'met' : `NOT MET: ${target.why}`}`]),
      ].join('\n'),
    )
    .join('\n\n');
}

function diskTarget(outcome: ChaosOutcome): Target {
  const kinds = [...DISK_FAULTS];
  const figures = kinds.map((kind) => {
    const of = outcome.results.filter((result) => result.kind === kind);
    return { kind, of, times: recoveryTimes(of), held: of.flatMap((result) => (result.heldAfterMs === undefined ? [] : [result.heldAfterMs])) };
  });
  const whys: string[] = [];
  for (const { kind, of, times } of figures) {
    if (of.length < DISK_FAULTS_NEEDED) whys.push(`${of.length} ${kind} of the ${DISK_FAULTS_NEEDED} needed`);
    else if (times.length < of.length) whys.push(`${of.length - times.length} ${kind} not healed`);
    else if (median(times) > DISK_BACK_WITHIN_MS) whys.push(`${kind} median over ${DISK_BACK_WITHIN_MS / 1000} s`);
  }
  const complete = outcome.continuity?.ok === true;
  if (!complete) whys.push(outcome.continuity ? 'ticks missing from the log' : 'the log was not checked');
  const each = figures.map(({ kind, of, times }) => `${kind} ${ms(median(times))} (${times.length} of ${of.length})`).join(', ');
  const held = figures.map(({ kind, held }) => `${kind} ${ms(median(held))}`).join(', ');
  return {
    goal: `after the state's or the log's filesystem frees up: ticking again, nothing missing from the log, within ${DISK_BACK_WITHIN_MS / 1000} s (median over ≥ ${DISK_FAULTS_NEEDED} of each)`,
    measured: [
      `median from the disk given back to the first tick after: ${each}; nothing missing from the log: ${complete ? 'yes' : 'NO'}`,
      `(the clock said it held, by PM2's held metric, a median of ${held} after the fault)`,
    ],
    met: whys.length === 0,
    why: whys.length > 0 ? whys.join('; ') : undefined,
  };
}

function stepTarget(outcome: ChaosOutcome): Target {
  const steps = outcome.results.filter((result) => STEP_FAULTS.has(result.kind));
  // A step counts once it was done and watched: its fault recovered, or failed on a heal.
  const judged = steps.filter((result) => result.recovered || (result.falseHeals?.length ?? 0) > 0);
  const falseHeals = steps.flatMap((result) => result.falseHeals ?? []);
  const stepsDone = STEPS_PER_FAULT * judged.length;
  const watchMs = 2 * ((outcome.probeHangMs ?? 0) + outcome.probePeriodMs);
  const whys: string[] = [];
  if (falseHeals.length > 0) whys.push(`${falseHeals.length} false heal(s): ${falseHeals.join('; ')}`);
  if (stepsDone < STEPS_NEEDED) whys.push(`${stepsDone} steps of the ${STEPS_NEEDED} needed`);
  return {
    goal: `0 false heals over ≥ ${STEPS_NEEDED} clock steps of ±1 h in either process`,
    measured: [
      `${falseHeals.length} false heals over ${stepsDone} steps: ${judged.length} step faults (of ${steps.length}), each a step of 1 h and the step back,`,
      `each watched ${ms(watchMs)}: the same clock process ticking on, the probe's heal counters unchanged`,
    ],
    met: whys.length === 0,
    why: whys.length > 0 ? whys.join('; ') : undefined,
  };
}

function hungProbeTarget(outcome: ChaosOutcome): Target {
  const of = outcome.results.filter((result) => result.kind === 'hang-probe');
  const times = recoveryTimes(of);
  const limitMs = (outcome.probeHangMs ?? 0) + PROBE_BACK_MARGIN_MS;
  const whys: string[] = [];
  if (of.length === 0) whys.push('no hang-probe fault was done');
  else if (times.length < of.length) whys.push(`${of.length - times.length} not replaced`);
  const slow = times.filter((time) => time > limitMs).length;
  if (slow > 0) whys.push(`${slow} replaced later than ${ms(limitMs)}`);
  return {
    goal: `a hung probe replaced within PROBE_HANG_MS + ${PROBE_BACK_MARGIN_MS / 1000} s (${ms(limitMs)})`,
    measured: [`kill -STOP to a new probe online, the stopped one gone: median ${ms(median(times))}, max ${ms(times.length > 0 ? Math.max(...times) : Number.NaN)}, over ${times.length} of ${of.length}`],
    met: whys.length === 0,
    why: whys.length > 0 ? whys.join('; ') : undefined,
  };
}

function recoveryTimes(results: FaultResult[]): number[] {
  return results.flatMap((result) => (result.recovered && result.recoveryMs !== undefined ? [result.recoveryMs] : []));
}

function ms(value: number): string {
  return Number.isNaN(value) ? '-' : `${Math.round(value)} ms`;
}
