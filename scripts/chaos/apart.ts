import { isWorkerFault, type FaultKind } from './plan.ts';

/**
 * The clock and the worker kept apart: one probe guards both, through one path, so a fault of one
 * must heal that one alone. A fault of the worker must leave the clock (in hot-standby mode the active
 * and the standby) the very processes they were; a fault of the clock or the probe must leave the
 * worker so, except kill-daemon, which takes every app with its daemon.
 */

/** The processes a fault must not change unless it struck them (0: none was online). */
export interface AppPids {
  clock: number;
  standby: number;
  worker: number;
}

/** What `kind` changed that it did not strike, each in one line; none when the other app stayed as it was. */
export function disturbances(kind: FaultKind, before: AppPids, after: AppPids): string[] {
  const changed = (what: string, was: number, now: number) => (was > 0 && now !== was ? [`${kind} replaced ${what} (pid ${was}, now ${now || 'none'})`] : []);
  if (isWorkerFault(kind)) return [...changed('the clock', before.clock, after.clock), ...changed('the standby clock', before.standby, after.standby)];
  if (kind === 'kill-daemon') return [];
  return changed('the worker', before.worker, after.worker);
}

/** How many faults of each were checked, and what they disturbed: for the report. */
export function renderApart(results: { number: number; kind: FaultKind; recovered: boolean; disturbed?: string[] | undefined }[]): string {
  const checked = results.filter((result) => result.disturbed !== undefined);
  const ofWorker = checked.filter((result) => isWorkerFault(result.kind));
  const ofOthers = checked.filter((result) => !isWorkerFault(result.kind) && result.kind !== 'kill-daemon');
  const lines = checked.flatMap((result) => (result.disturbed ?? []).map((line) => `  DISTURBED: fault ${result.number}: ${line}`));
  const clean = (of: typeof checked) => of.filter((result) => (result.disturbed ?? []).length === 0).length;
  return [
    `the clock and the worker apart: ${clean(ofWorker)} of ${ofWorker.length} faults of the worker left the clock the same process; ` +
      `${clean(ofOthers)} of ${ofOthers.length} faults of the clock and the probe left the worker so (kill-daemon, which ends both, aside)`,
    ...lines,
  ].join('\n');
}
