/**
 * What the probe did during a chaos run, read back from its log (apps/probe/probe.ts writes one line
 * per heal to its error log). Chaos judges the clock, not the probe; but a heal that no fault called
 * for (a clock killed as hung that nothing had stopped) is worth a line in the report.
 */
export interface ProbeHeals {
  /** Pids the probe killed as hung, in order. */
  hung: number[];
  ghost: number;
  errored: number;
  duplicate: number;
  /** Clocks killed as hung that no hang-clock fault had stopped. */
  unprovoked: number[];
}

const HUNG = /^probe: killed hung clock pid (\d+) \(SIGKILL\)/;
const RESTART = /^probe: restarting clock.* through PM2 \((ghost|errored)\)/;
const DUPLICATE = /^probe: terminating duplicate clock pid \d+/;

/** The heals in the probe's log; `stopped`: the pids the hang-clock faults stopped (the probe should kill those). */
export function probeHeals(probeLog: string, stopped: number[]): ProbeHeals {
  const heals: ProbeHeals = { hung: [], ghost: 0, errored: 0, duplicate: 0, unprovoked: [] };
  for (const line of probeLog.split('\n')) {
    const hung = HUNG.exec(line)?.[1];
    const restart = RESTART.exec(line)?.[1] as 'ghost' | 'errored' | undefined;
    if (hung) heals.hung.push(Number(hung));
    else if (restart) heals[restart] += 1;
    else if (DUPLICATE.test(line)) heals.duplicate += 1;
  }
  heals.unprovoked = heals.hung.filter((pid) => !stopped.includes(pid));
  return heals;
}
