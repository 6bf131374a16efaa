import { parseTickLine, type TickLine } from '../../apps/shared/tick-line.ts';
import { checkContinuity, tickTimeMs, type Continuity } from '../lib/tick-continuity.ts';

/**
 * The verdict over every host's clock log: no tick number lost across failovers, and two hosts
 * never ticking at once, by the logs' own timestamps, not by the design.
 *
 * A host's ticks belong to the leadership term its log last announced ("this clock (h2:4711)
 * leads"). Merged by time, each term's ticks must form one unbroken stretch: a term that ticks
 * again after another term's tick ticked while that other one led.
 */

// "clock: cluster estatus: this clock (h2:4711) leads; resuming from …"
const LEADS = /^clock: cluster \S+: this clock \((\S+)\) leads/;

export interface HostTick extends TickLine {
  host: string;
  /** The leader that printed it: host:pid, from the log's last "leads" line. */
  term: string;
  at: number;
}

export interface ClusterVerdict {
  ticks: number;
  continuity: Continuity;
  /** The terms in the order they ticked: one per failover, plus the first. */
  terms: string[];
  /** Ticks of a term printed after another term had ticked: two hosts at once. */
  overlaps: { term: string; at: number; after: string }[];
}

export function hostTicks(host: string, logText: string): HostTick[] {
  let term = `${host}:?`;
  const ticks: HostTick[] = [];
  for (const line of logText.split('\n')) {
    const leads = LEADS.exec(line);
    if (leads) term = leads[1] ?? term;
    const tick = parseTickLine(line);
    if (tick) ticks.push({ ...tick, host, term, at: tickTimeMs(tick) });
  }
  return ticks;
}

export function clusterVerdict(logs: { host: string; text: string }[]): ClusterVerdict {
  const all = logs.flatMap(({ host, text }) => hostTicks(host, text)).sort((a, b) => a.at - b.at);
  const terms: string[] = [];
  const overlaps: ClusterVerdict['overlaps'] = [];
  for (const tick of all) {
    const current = terms.at(-1);
    if (tick.term === current) continue;
    if (terms.includes(tick.term)) overlaps.push({ term: tick.term, at: tick.at, after: current ?? '' });
    else terms.push(tick.term);
  }
  const merged = all.map((tick) => `${tick.thread} run ${tick.run} tick ${tick.tick}/${tick.ticksPerRun} ${tick.timestamp}`).join('\n');
  return { ticks: all.length, continuity: checkContinuity(merged), terms, overlaps };
}
