/**
 * What the probe did during a chaos run, read back from its log (apps/probe/probe.ts writes one line
 * per heal to its error log). Chaos judges the clock, not the probe; but a heal that no fault called
 * for (a clock killed as hung or stalled that nothing had stopped or stalled) is worth a line in the report.
 */
export interface ProbeHeals {
  /** Pids the probe killed as hung, in order. */
  hung: number[];
  /** Pids the probe killed as stalled (a fresh heartbeat, no ticks), in order. */
  stalled: number[];
  ghost: number;
  errored: number;
  duplicate: number;
  /** Clocks killed as hung or stalled that no hang-clock or stall-clock fault had struck. */
  unprovoked: number[];
  /** The same for the worker (examples/guarded-worker), which the same probe guards: none when it did not run. */
  worker: { hung: number[]; stalled: number[]; duplicate: number; unprovoked: number[] };
}

/** The clocks the faults struck that the probe should kill, by the finding it should kill them for. */
export interface Provoked {
  hung: number[];
  stalled: number[];
  /** The workers the hang-worker and stall-worker faults struck. */
  worker?: { hung: number[]; stalled: number[] };
}

const KILLED = /^probe: killed (hung|stalled) (clock|worker) pid (\d+) \(SIGKILL\)/;
const RESTART = /^probe: restarting clock.* through PM2 \((ghost|errored)\)/;
const DUPLICATE = /^probe: terminating duplicate (clock|worker) pid \d+/;

/** The heals in the probe's log, and those of its kills that no fault provoked. */
export function probeHeals(probeLog: string, provoked: Provoked): ProbeHeals {
  const heals: ProbeHeals = { hung: [], stalled: [], ghost: 0, errored: 0, duplicate: 0, unprovoked: [], worker: { hung: [], stalled: [], duplicate: 0, unprovoked: [] } };
  for (const line of probeLog.split('\n')) {
    const killed = KILLED.exec(line);
    const restart = RESTART.exec(line)?.[1] as 'ghost' | 'errored' | undefined;
    if (killed) (killed[2] === 'worker' ? heals.worker : heals)[killed[1] as 'hung' | 'stalled'].push(Number(killed[3]));
    else if (restart) heals[restart] += 1;
    else if (DUPLICATE.exec(line)?.[1] === 'worker') heals.worker.duplicate += 1;
    else if (DUPLICATE.test(line)) heals.duplicate += 1;
  }
  heals.unprovoked = [
    ...heals.hung.filter((pid) => !provoked.hung.includes(pid)),
    ...heals.stalled.filter((pid) => !provoked.stalled.includes(pid)),
  ];
  const worker = provoked.worker ?? { hung: [], stalled: [] };
  heals.worker.unprovoked = [...heals.worker.hung.filter((pid) => !worker.hung.includes(pid)), ...heals.worker.stalled.filter((pid) => !worker.stalled.includes(pid))];
  return heals;
}
