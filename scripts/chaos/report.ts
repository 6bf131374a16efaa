import { plot } from 'asciichart';
import dayjs from 'dayjs';
import { median } from '../lib/stats.ts';
import type { ContinuityVerdict } from './continuity-verdict.ts';
import type { OverlapSummary, WritersSummary } from './overlap.ts';
import type { ProbeHeals } from './probe-heals.ts';
import { ALL_FAULT_KINDS, type FaultKind } from './plan.ts';
import { renderTargets } from './targets.ts';
import { renderApart } from './apart.ts';

/** One fault of a run and how it ended. */
export interface FaultResult {
  number: number;
  kind: FaultKind;
  thread: number;
  recovered: boolean;
  recoveryMs: number | undefined;
  problem: string | undefined;
  /** The pid the fault struck: the clock (in hot-standby mode the active one, or the standby), the probe, or the PM2 daemon. */
  target?: number | undefined;
  /** A fault of the machine: the heals it called for none of (each in a line). */
  falseHeals?: string[];
  /** A disk fault: ms from the fault until the clock said it held for it. */
  heldAfterMs?: number;
  /** A stall of the worker: ms from the fault to the moment the stalled worker owed progress (its last beat seen). */
  owedMs?: number;
  /**
   * Run with the worker: what the fault changed of the app it did not strike (apart.ts), a line
   * each; empty when nothing; absent when not checked (no worker, or the fault did not recover).
   */
  disturbed?: string[];
}

/** Everything a chaos run found, for the verdict and the report. */
export interface ChaosOutcome {
  seed: number;
  /** Hot-standby mode (--standby): two clock instances, one active, one standby. */
  standby: boolean;
  /** Faults of the machine too (--machine). */
  machine?: boolean;
  /** The kinds the run was restricted to (--kinds), if it was. */
  kinds?: FaultKind[];
  /** The probe's PROBE_HANG_MS: a hung probe's target is this + 2 s. */
  probeHangMs?: number;
  /** The example worker ran beside the clock, with these guard settings (from its env in PM2). */
  worker?: { hangMs: number; stallMs: number };
  /** --no-worker: a run that would have had the worker left it out. */
  noWorker?: boolean;
  planned: number;
  results: FaultResult[];
  /** Why the run stopped before all planned faults, if it did. */
  stoppedEarly: string | undefined;
  continuity: ContinuityVerdict | undefined;
  overlap: OverlapSummary | undefined;
  /** Who wrote the ticking heartbeat, in turn: never two clocks ticking at once. */
  writers: WritersSummary | undefined;
  /** What the probe healed, from its log: for the report, not the verdict (chaos judges the clock). */
  probeHeals?: ProbeHeals | undefined;
  probePeriodMs: number;
  /** Where a failed run's logs and state were kept. */
  evidence: string | undefined;
}

export interface KindRow {
  kind: FaultKind | 'all';
  count: number;
  recovered: number;
  /** Over the recovered ones; NaN when none recovered. */
  minMs: number;
  medianMs: number;
  maxMs: number;
}

/** The table per fault kind (in the order of the kinds, only kinds that occurred), then all together. */
export function summarize(results: FaultResult[]): KindRow[] {
  const row = (kind: KindRow['kind'], of: FaultResult[]): KindRow => {
    const times = of.flatMap((result) => (result.recovered && result.recoveryMs !== undefined ? [result.recoveryMs] : []));
    return {
      kind,
      count: of.length,
      recovered: of.filter((result) => result.recovered).length,
      minMs: times.length > 0 ? Math.min(...times) : Number.NaN,
      medianMs: median(times),
      maxMs: times.length > 0 ? Math.max(...times) : Number.NaN,
    };
  };
  const rows = ALL_FAULT_KINDS.flatMap((kind) => {
    const of = results.filter((result) => result.kind === kind);
    return of.length > 0 ? [row(kind, of)] : [];
  });
  return [...rows, row('all', results)];
}

/** Pass only when every planned fault was done and healed, no tick was lost, and clocks never overlapped too long. */
export function verdict(outcome: ChaosOutcome): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (outcome.results.length < outcome.planned) {
    reasons.push(`only ${outcome.results.length} of ${outcome.planned} faults were done${outcome.stoppedEarly ? `: ${outcome.stoppedEarly}` : ''}`);
  }
  for (const result of outcome.results) {
    if (!result.recovered) reasons.push(`fault ${result.number} (${describe(result)}) did not recover: ${result.problem ?? 'unknown'}`);
    for (const line of result.disturbed ?? []) reasons.push(`fault ${result.number}: ${line}, which it did not strike`);
  }
  if (!outcome.continuity) reasons.push('the tick continuity was not checked');
  else reasons.push(...outcome.continuity.problems);
  const { overlap, writers, probePeriodMs } = outcome;
  if (!overlap) reasons.push('the process table was not watched');
  else if (overlap.longestMs > probePeriodMs) {
    reasons.push(
      `${overlap.longest?.pids.length ?? 2} clocks of this state ran at once for ${overlap.longestMs} ms (pids ${overlap.longest?.pids.join(', ')}), ` +
        `longer than one probe period (${probePeriodMs} ms)${overlap.allowed > 1 ? `; ${overlap.allowed} at most are expected` : ''}`,
    );
  }
  if (!writers) reasons.push('the heartbeat was not watched');
  else {
    for (const back of writers.returns) {
      reasons.push(`two clocks ticked at once: pid ${back.pid} wrote the heartbeat again at ${time(back.at)}, after pid ${back.other} had taken it over`);
    }
  }
  return { ok: reasons.length === 0, reasons };
}

export function renderReport(outcome: ChaosOutcome): string {
  const { ok, reasons } = verdict(outcome);
  const repeat = `--faults ${outcome.planned} --seed ${outcome.seed}${outcome.standby ? ' --standby' : ''}${outcome.machine ? ' --machine' : ''}${outcome.noWorker ? ' --no-worker' : ''}${outcome.kinds ? ` --kinds ${outcome.kinds.join(',')}` : ''}`;
  const { worker } = outcome;
  const targets = renderTargets(outcome);
  const sections = [
    [
      `chaos report (seed ${outcome.seed}; repeat with ${repeat})`,
      outcome.standby
        ? 'mode: hot standby (CLOCK_STANDBY=1): two clock instances, one active, one standby; "the clock" is the active one'
        : outcome.machine
          ? "mode: one clock (CLOCK_STANDBY=0), and faults of the machine (--machine): LOG_DIR and STATE_DIR each a small tmpfs; clock and probe each under libfaketime with a wall clock of its own, PM2's daemon on the true time"
          : 'mode: one clock (CLOCK_STANDBY=0)',
      ...(worker ? [`beside it: the example worker (examples/guarded-worker), under the same probe: GUARD_HANG_MS ${worker.hangMs}, GUARD_STALL_MS ${worker.stallMs}`] : []),
    ].join('\n'),
    renderTable(summarize(outcome.results)),
    ...(targets ? [targets] : []),
    `time to recover, fault by fault (ms):\n${recoveryChart(outcome.results)}`,
    renderContinuity(outcome.continuity, outcome.standby),
    renderOverlap(outcome.overlap, outcome.probePeriodMs),
    renderWriters(outcome.writers),
    ...(outcome.probeHeals ? [renderProbeHeals(outcome.probeHeals, outcome.results, worker !== undefined)] : []),
    ...(worker ? [renderApart(outcome.results)] : []),
    ok
      ? `verdict: PASS: all ${outcome.results.length} faults recovered; no tick lost${worker ? '; the worker\'s faults never touched the clock, nor the others the worker' : ''}`
      : `verdict: FAIL\n${reasons.map((reason) => `  - ${reason}`).join('\n')}`,
  ];
  if (outcome.evidence) sections.push(`the clock's logs and state are kept in ${outcome.evidence}`);
  return `${sections.join('\n\n')}\n`;
}

export function renderTable(rows: KindRow[]): string {
  const header = ['fault', 'count', 'recovered', 'min', 'median', 'max'];
  const cells = rows.map((row) => [row.kind, String(row.count), `${row.recovered}/${row.count}`, ms(row.minMs), ms(row.medianMs), ms(row.maxMs)]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => (line[column] ?? '').length)));
  const format = (line: string[]) =>
    line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  const body = cells.map(format);
  // The total sits under a rule of its own.
  return [format(header), rule, ...body.slice(0, -1), rule, ...body.slice(-1)].join('\n');
}

// Wider than this, a terminal wraps the chart: neighbouring faults share a column (the slowest shows).
const CHART_COLUMNS = 100;
const CHART_HEIGHT = 10;

/** A line chart of each recovered fault's time to recover, in the order the faults came. */
export function recoveryChart(results: FaultResult[]): string {
  const times = results.flatMap((result) => (result.recovered && result.recoveryMs !== undefined ? [result.recoveryMs] : []));
  if (times.length === 0) return '  (no fault recovered: nothing to chart)';
  const perColumn = Math.ceil(times.length / CHART_COLUMNS);
  const series: number[] = [];
  for (let start = 0; start < times.length; start += perColumn) series.push(Math.max(...times.slice(start, start + perColumn)));
  const chart = plot(series, { height: CHART_HEIGHT, min: 0, format: (value) => `${Math.round(value)}`.padStart(7) });
  const axis = perColumn > 1 ? `faults 1 to ${times.length}, ${perColumn} to a column (the slowest shown)` : `faults 1 to ${times.length} that recovered`;
  return `${chart}\n${' '.repeat(9)}${axis}`;
}

function renderContinuity(continuity: ContinuityVerdict | undefined, standby: boolean): string {
  if (!continuity) return 'tick continuity: not checked';
  const workerRestarts = [...continuity.workerRestarts.values()].reduce((sum, count) => sum + count, 0);
  const starts = Math.max(0, continuity.clockStarts - 1);
  const takeovers = continuity.takeovers;
  return [
    `tick continuity: ${continuity.ticks} ticks of ${continuity.threads} threads over ${continuity.runs} runs; ${continuity.ok ? 'no tick missing' : 'FAILED'}`,
    `  ${continuity.repeats} repeated (at most one per crash: ${starts} clock ${standby ? 'takeovers and restarts' : 'restarts'}, ${workerRestarts} worker restarts)`,
    ...(standby
      ? [
          takeovers.length === 0
            ? '  no takeover logged'
            : `  ${takeovers.length} takeovers logged by the standby ("took over from clock pid N in X ms": its death to ticking): ` +
              `min ${ms(Math.min(...takeovers))}, median ${ms(median(takeovers))}, max ${ms(Math.max(...takeovers))}`,
        ]
      : []),
    ...(continuity.longestRewind
      ? [`  the most printed again at one restart: ${continuity.longestRewind.ticks} ticks of ${continuity.longestRewind.thread} (after ${continuity.longestRewind.after} came ${continuity.longestRewind.got} again)`]
      : []),
    `  ${continuity.resets} fresh starts at run 1 after a damaged checkpoint, each accounted for by its log line`,
    ...continuity.problems.map((problem) => `  LOST: ${problem}`),
  ].join('\n');
}

function renderOverlap(overlap: OverlapSummary | undefined, probePeriodMs: number): string {
  if (!overlap) return 'one clock at a time: not watched';
  const { allowed } = overlap;
  const more = allowed === 1 ? 'more than one' : `more than ${allowed}`;
  const longest = overlap.longestMs > 0 ? `; ${more} for ${overlap.longestMs} ms at the longest` : '';
  const title = allowed === 1 ? 'one clock at a time' : `${allowed} clock processes at a time (the active and the standby)`;
  return [
    `${title}: at most ${overlap.most} at once${longest} (limit: one probe period, ${probePeriodMs} ms)`,
    `  ${overlap.samples} samples of the process table, ${overlap.pids.size} clock processes in all`,
  ].join('\n');
}

function renderWriters(writers: WritersSummary | undefined): string {
  if (!writers) return 'one ticking clock at a time: not watched';
  const seen = `${writers.samples} heartbeats seen`;
  if (writers.returns.length === 0) {
    return [
      'one ticking clock at a time: never two at once',
      `  ${writers.writers.length} clocks wrote the ticking heartbeat in turn, none again once another had taken over (${seen})`,
    ].join('\n');
  }
  return [
    `one ticking clock at a time: TWO AT ONCE, ${writers.returns.length} time(s)`,
    ...writers.returns.map((back) => `  pid ${back.pid} wrote the heartbeat again at ${time(back.at)}, after pid ${back.other} had taken it over (${seen})`),
  ].join('\n');
}

function renderProbeHeals(heals: ProbeHeals, results: FaultResult[], withWorker: boolean): string {
  const count = (kind: FaultKind) => results.filter((result) => result.kind === kind).length;
  const hangs = count('hang-clock');
  const stalls = count('stall-clock');
  const { worker } = heals;
  return [
    `probe heals (its log): hung ${heals.hung.length} (for ${hangs} hang-clock faults), stalled ${heals.stalled.length} (for ${stalls} stall-clock faults), ghost ${heals.ghost}, errored ${heals.errored}, duplicate ${heals.duplicate}`,
    ...(heals.unprovoked.length > 0
      ? [`  NOTE: the probe killed ${heals.unprovoked.length} clock(s) as hung or stalled that no fault had struck: pid ${heals.unprovoked.join(', ')} (see probe.err.log)`]
      : []),
    ...(withWorker
      ? [`  the worker: hung ${worker.hung.length} (for ${count('hang-worker')} hang-worker faults), stalled ${worker.stalled.length} (for ${count('stall-worker')} stall-worker faults), duplicate ${worker.duplicate}`]
      : []),
    ...(worker.unprovoked.length > 0
      ? [`  NOTE: the probe killed ${worker.unprovoked.length} worker(s) as hung or stalled that no fault had struck: pid ${worker.unprovoked.join(', ')} (see probe.err.log)`]
      : []),
  ].join('\n');
}

/** A moment as the tick lines print it (local time). */
function time(at: number): string {
  return dayjs(at).format('HH:mm:ss.SSS');
}

export function describe(result: Pick<FaultResult, 'kind' | 'thread'>): string {
  return result.kind === 'crash-thread' ? `crash-thread thread-${result.thread}` : result.kind;
}

function ms(value: number): string {
  return Number.isNaN(value) ? '-' : `${Math.round(value)} ms`;
}
