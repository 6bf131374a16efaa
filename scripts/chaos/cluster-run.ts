import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '../lib/stats.ts';
import { clockLog, down, keepEvidence, up } from '../cluster/cluster.ts';
import { failover, type FailoverResult } from '../cluster/failovers.ts';
import { CLUSTER_FAULT_KINDS } from '../cluster/faults.ts';
import { readManifest } from '../cluster/manifest.ts';
import { clusterVerdict, type ClusterVerdict } from '../cluster/verdict.ts';
import type { ChaosOptions } from './options.ts';
import { planFaults } from './plan.ts';
import type { Progress } from './progress.ts';
import { chaosSettings } from './run.ts';

/**
 * `npm run chaos -- --cluster`: three test hosts (npm run cluster), one etcd cluster, and
 * host-level faults one after the other, each healed before the next; then the verdict over every
 * host's log. The cluster is taken away at the end, also after a failure or Ctrl-C.
 */
export interface ClusterOutcome {
  seed: number;
  planned: number;
  results: FailoverResult[];
  verdict: ClusterVerdict | undefined;
  stoppedEarly: string | undefined;
  /** Where a failed run's host logs (clock, probe, etcd) were kept. */
  evidence?: string | undefined;
}

export const CLUSTER_HOSTS = 3;

export async function runClusterChaos(options: ChaosOptions, progress: Progress, signal: AbortSignal): Promise<ClusterOutcome> {
  // The same round-robin of kinds, each after 0.5-2 s, as the plain run's; no kind here picks a thread.
  const plan = planFaults(options.seed, options.faults, 0, CLUSTER_FAULT_KINDS);
  const outcome: ClusterOutcome = { seed: options.seed, planned: plan.length, results: [], verdict: undefined, stoppedEarly: undefined };
  const parent = await mkdtemp(join(tmpdir(), 'estatus-chaos-cluster-'));
  const dir = join(parent, 'cluster');
  const settings = { ...chaosSettings(process.env, false), CLOCK_FAULTS: '0' };
  try {
    await up({ hosts: CLUSTER_HOSTS, dir, dirCreated: true, settings, progress: (line) => progress.note(line) });
    const manifest = readManifest(dir);
    if (!manifest) throw new Error(`no cluster.json in ${dir}`);
    for (const [index, fault] of plan.entries()) {
      if (signal.aborted) throw signal.reason;
      progress.working(index, plan.length, `next: ${fault.kind} after ${fault.waitMs} ms`);
      const result = await failover(dir, manifest, fault.kind, fault.waitMs);
      outcome.results.push(result);
      const how = result.failoverMs === undefined ? '' : `: ${result.leaderAfter} ticking ${result.failoverMs} ms later`;
      if (result.recovered) progress.update(index + 1, plan.length, `${fault.kind} (${result.struck})${how}`);
      else progress.note(`fault ${index + 1} ${fault.kind} (${result.struck}) did not recover: ${result.problem}`);
    }
    progress.finish();
    outcome.verdict = clusterVerdict(manifest.hosts.map((host) => ({ host: host.name, text: clockLog(host) })));
    if (!clusterVerdictOk(outcome).ok) {
      outcome.evidence = await keepEvidence(manifest, 'estatus-chaos-evidence-');
    }
    return outcome;
  } finally {
    await down(dir, (line) => progress.note(line)).catch((error: unknown) => progress.note(`cleanup: ${error instanceof Error ? error.message : String(error)}`));
    await rm(parent, { recursive: true, force: true });
  }
}

/** Pass only when every fault recovered, no tick number was lost, and two hosts never ticked at once. */
export function clusterVerdictOk(outcome: ClusterOutcome): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (outcome.stoppedEarly) reasons.push(outcome.stoppedEarly);
  for (const [index, result] of outcome.results.entries()) if (!result.recovered) reasons.push(`fault ${index + 1} (${result.kind}) did not recover: ${result.problem}`);
  if (outcome.results.length < outcome.planned) reasons.push(`${outcome.planned - outcome.results.length} planned faults were not done`);
  const verdict = outcome.verdict;
  if (!verdict) reasons.push('the logs were not judged');
  else {
    const breaks = [...verdict.continuity.threads.values()].flatMap((thread) => thread.breaks);
    if (breaks.length > 0) reasons.push(`${breaks.length} tick number(s) lost: ${breaks.map((b) => `${b.after} then ${b.got}`).join('; ')}`);
    if (verdict.overlaps.length > 0) reasons.push(`two hosts ticked at once ${verdict.overlaps.length} time(s)`);
    const failovers = Math.max(0, verdict.terms.length - 1);
    if (verdict.continuity.repeats > 2 * failovers) reasons.push(`${verdict.continuity.repeats} ticks repeated over ${failovers} failovers (at most one per thread each)`);
  }
  return { ok: reasons.length === 0, reasons };
}

export function renderClusterReport(outcome: ClusterOutcome): string {
  const rows = CLUSTER_FAULT_KINDS.flatMap((kind) => {
    const of = outcome.results.filter((result) => result.kind === kind);
    if (of.length === 0) return [];
    const times = of.flatMap((result) => (result.recovered && result.failoverMs !== undefined ? [result.failoverMs] : []));
    const ms = (value: number) => (Number.isFinite(value) ? `${Math.round(value)} ms` : '-');
    return [[kind, String(of.length), `${of.filter((result) => result.recovered).length}/${of.length}`, ms(Math.min(...times)), ms(median(times)), ms(Math.max(...times))]];
  });
  const table = [['fault', 'count', 'recovered', 'min', 'median', 'max'], ...rows];
  const widths = (table[0] ?? []).map((_, column) => Math.max(...table.map((row) => row[column]?.length ?? 0)));
  const lines = table.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
  const verdict = outcome.verdict;
  const judged = clusterVerdictOk(outcome);
  lines.push(
    '',
    `mode: cluster, ${CLUSTER_HOSTS} hosts (network namespaces), one ${CLUSTER_HOSTS}-member etcd; failover = fault to the first tick on another host`,
    ...(verdict
      ? [
          `tick continuity over all hosts: ${verdict.ticks} ticks, ${[...verdict.continuity.threads.values()].reduce((sum, thread) => sum + thread.breaks.length, 0)} lost, ${verdict.continuity.repeats} repeated over ${Math.max(0, verdict.terms.length - 1)} failovers`,
          `one ticking host at a time: ${verdict.overlaps.length === 0 ? 'never two at once' : `TWO AT ONCE, ${verdict.overlaps.length} time(s)`} (${verdict.terms.length} leadership terms: ${verdict.terms.join(', ')})`,
        ]
      : []),
    ...(outcome.evidence ? [`the hosts' logs are kept in ${outcome.evidence}`] : []),
    judged.ok ? `verdict: PASS: all ${outcome.results.length} faults recovered; no tick lost; never two hosts at once` : `verdict: FAIL\n${judged.reasons.map((reason) => `  ${reason}`).join('\n')}`,
  );
  return `${lines.join('\n')}\n`;
}
