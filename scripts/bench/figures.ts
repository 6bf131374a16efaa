import { median, percentile } from '../lib/stats.ts';
import { LONGEST_INTERVAL_MS, PROBE_HANG_MS, PROBE_PERIOD_MS, SHORTEST_INTERVAL_MS, type Measurements } from './measure.ts';
import type { Options } from './options.ts';
import type { ProbeCpu } from './probe-cost.ts';
import { PROBE_KILL_LIMIT_MS, type ProbeRecoveries } from './probe-recovery.ts';
import type { StandbyCpu, Takeover } from './takeover.ts';
import type { Accuracy } from './tick-accuracy.ts';
import type { ClusterMeasurements } from './cluster.ts';
import type { WindowsMeasurements } from './windows.ts';
import { WORKER_HANG_MS, WORKER_STALL_MS, type GuardedMeasurements, type WorkerFault } from './guarded-apps.ts';

/** `npm run bench`'s figures: each measurement beside its anchor and its target, as a table or JSON. */

// From the issue (hot standby): SIGKILL of the active to the new active ready, and the idle standby's CPU.
const TAKEOVER_MEDIAN_TARGET_MS = 10;
const TAKEOVER_P95_TARGET_MS = 25;
const STANDBY_CPU_TARGET_PERCENT = 0.1;

export interface Figure {
  name: string;
  value: string;
  anchor: string;
  target: string;
  /** null: not measured here (the value says why). */
  met: boolean | null;
}

export function toFigures({ clockMs, bareMs, hangs, stalls, accuracy, probeCost, memoryMb, standby, cluster, windows, guarded }: Measurements): Figure[] {
  const ratio = median(clockMs) / median(bareMs);
  return [
    {
      name: 'recovery after SIGKILL (median, p95)',
      value: `${median(clockMs)} ms, ${percentile(clockMs, 0.95)} ms`,
      anchor: `bare JS app: ${median(bareMs)} ms, ${percentile(bareMs, 0.95)} ms (ratio ${ratio.toFixed(2)})`,
      target: '<= 1.5 x bare',
      met: ratio <= 1.5,
    },
    takeoverFigure(standby.takeovers, clockMs),
    ...(cluster ? clusterFigures(cluster, clockMs, standby.takeovers, standby.cpu) : []),
    standbyCpuFigure(standby.cpu),
    hangFigure(hangs),
    stallFigure(stalls),
    accuracyFigure(accuracy),
    probeCpuFigure('probe CPU, machine as is', probeCost.quiet),
    probeCpuFigure(`probe CPU, +${probeCost.crowded.extra} idle processes`, probeCost.crowded),
    { name: 'clock resident memory', value: megabytes(memoryMb.clock), anchor: 'main thread + 2 workers', target: '< 80 MB', met: memoryMb.clock < 80 },
    {
      name: 'probe resident memory',
      value: megabytes(memoryMb.probe),
      anchor: `bare JS app: ${megabytes(memoryMb.bare)}`,
      target: '< 2 x bare',
      met: memoryMb.probe < 2 * memoryMb.bare,
    },
    { name: 'PM2 daemon resident memory', value: megabytes(memoryMb.daemon), anchor: 'PM2 itself, 3 apps', target: '< 150 MB', met: memoryMb.daemon < 150 },
    ...(guarded ? guardedFigures(guarded) : []),
    ...(windows ? windowsFigures(windows) : []),
  ];
}

// From the issue (guard any app): the probe's CPU with 20 guarded apps, nothing failing.
const GUARDED_CPU_TARGET_PERCENT = 1;

/** Apps under guard that are not the clock: the probe's cost with many, and a worker's hang and stall healed. */
export function guardedFigures({ apps, alone, many, hangs, stalls, failures }: GuardedMeasurements): Figure[] {
  const perApp = many.percent / many.apps;
  const growth = (many.percent - alone.percent) / Math.max(1, many.apps - alone.apps);
  const unhealed = (signal: string) => failures.filter((failure) => failure.includes(`(${signal})`)).length;
  const hangFailures = unhealed('SIGUSR1') + unhealed('SIGSTOP');
  const stallFailures = unhealed('SIGUSR2');
  const pastOwed = stalls.map((fault) => fault.replacedMs - (fault.owedMs ?? Number.NaN)).filter(Number.isFinite);
  return [
    {
      name: `probe CPU, ${apps} guarded apps, nothing failing`,
      value: `${many.percent.toFixed(2)} % of a core; per app ${perApp.toFixed(3)} %`,
      anchor: `clock alone: ${alone.percent.toFixed(2)} %; each app beyond it +${growth.toFixed(3)} %; ${many.fullScans} full scans in ${many.seconds} s`,
      target: `< ${GUARDED_CPU_TARGET_PERCENT} %`,
      met: many.percent < GUARDED_CPU_TARGET_PERCENT && many.apps === apps,
    },
    {
      name: 'worker hung -> replaced (median)',
      value: `${faultsValue(hangs.map((fault) => fault.replacedMs), hangFailures)}${signals(hangs)}`,
      anchor: `examples/guarded-worker: hung after ${WORKER_HANG_MS} ms silent; from the fault to a new one ready`,
      target: `<= ${WORKER_HANG_MS + 1_000} ms`,
      met: hangFailures === 0 && hangs.length > 0 && median(hangs.map((fault) => fault.replacedMs)) <= WORKER_HANG_MS + 1_000,
    },
    {
      name: 'worker stalled -> replaced (median)',
      value: `${faultsValue(pastOwed, stallFailures)} past its owed moment`,
      anchor: `from the fault: ${median(stalls.map((fault) => fault.replacedMs))} ms, owed ${median(stalls.map((fault) => fault.owedMs ?? Number.NaN))} ms after it; stalled ${WORKER_STALL_MS} ms past it`,
      target: `<= owed + ${WORKER_STALL_MS + 1_000} ms`,
      met: stallFailures === 0 && pastOwed.length > 0 && pastOwed.length === stalls.length && median(pastOwed) <= WORKER_STALL_MS + 1_000,
    },
  ];
}

function faultsValue(ms: number[], failures: number): string {
  const healed = ms.length > 0 ? `${median(ms)} ms (min ${Math.min(...ms)}, max ${Math.max(...ms)})` : 'never replaced';
  return `${healed}${failures > 0 ? `; ${failures} not replaced` : ''}`;
}

/** `; SIGUSR1 x2, SIGSTOP x1`: how the hangs were made. */
function signals(faults: WorkerFault[]): string {
  const counts = new Map<string, number>();
  for (const fault of faults) counts.set(fault.signal, (counts.get(fault.signal) ?? 0) + 1);
  return counts.size === 0 ? '' : `; ${[...counts].map(([signal, count]) => `${signal} x${count}`).join(', ')}`;
}

/** Under PM2 on Windows Node in wine: said as wine, not Windows, in every row's name. */
function windowsFigures(windows: WindowsMeasurements): Figure[] {
  const recovery = 'wine: recovery after a kill (median, p95)';
  const cpu = 'wine: probe CPU, nothing failing';
  if (!windows.measured) {
    const value = `not measured: ${windows.reason}`;
    return [
      { name: recovery, value, anchor: '-', target: '<= 1.5 x bare', met: null },
      { name: cpu, value, anchor: '-', target: '< 1 %', met: null },
    ];
  }
  const { clockMs, bareMs } = windows;
  const ratio = median(clockMs) / median(bareMs);
  return [
    {
      name: recovery,
      value: `${median(clockMs)} ms, ${percentile(clockMs, 0.95)} ms (${clockMs.length} kills)`,
      anchor: `bare JS app: ${median(bareMs)} ms, ${percentile(bareMs, 0.95)} ms (ratio ${ratio.toFixed(2)})`,
      target: '<= 1.5 x bare',
      met: ratio <= 1.5,
    },
    {
      name: cpu,
      value: `${windows.probeCpuPercent.toFixed(2)} % of a core`,
      anchor: `its own process.cpuUsage over ${windows.probeSeconds} s`,
      target: '< 1 %',
      met: windows.probeCpuPercent < 1,
    },
  ];
}

function takeoverFigure(takeovers: Takeover[], restartMs: number[]): Figure {
  const ms = takeovers.map((takeover) => takeover.ms);
  const ratio = median(ms) / median(restartMs);
  // A takeover the restarted process won instead of the waiting standby is counted, and named.
  const notByStandby = takeovers.filter((takeover) => !takeover.byStandby).length;
  return {
    name: 'takeover after SIGKILL (median, p95)',
    value: `${median(ms)} ms, ${percentile(ms, 0.95)} ms${notByStandby > 0 ? `; ${notByStandby} not by the standby` : ''}`,
    anchor: `restart (no standby): ${median(restartMs)} ms, ${percentile(restartMs, 0.95)} ms (ratio ${ratio.toFixed(2)})`,
    target: `< ${TAKEOVER_MEDIAN_TARGET_MS} ms, p95 < ${TAKEOVER_P95_TARGET_MS} ms`,
    met: median(ms) < TAKEOVER_MEDIAN_TARGET_MS && percentile(ms, 0.95) < TAKEOVER_P95_TARGET_MS,
  };
}

// From the issue (cluster mode): fault to the first tick on another host, no flapping, the leader's cost.
const FAILOVER_MEDIAN_TARGET_MS = 3_000;
const FAILOVER_P95_TARGET_MS = 4_000;
const CLUSTER_CPU_TARGET_PERCENT = 1;

function clusterFigures(cluster: ClusterMeasurements, restartMs: number[], takeovers: Takeover[], cpu: StandbyCpu): Figure[] {
  if (cluster.skipped) return [{ name: 'cluster failover', value: `skipped: ${cluster.skipped}`, anchor: 'npm run cluster', target: '-', met: null }];
  const anchor = `restart ${median(restartMs)} ms, takeover ${median(takeovers.map((t) => t.ms))} ms (same run)`;
  const failoverFigure = (name: string, ms: number[], kind: string): Figure => {
    const failed = cluster.failures.filter((failure) => failure.startsWith(kind)).length;
    return {
      name,
      value: `${median(ms)} ms, ${percentile(ms, 0.95)} ms (${ms.length} failovers${failed > 0 ? `; ${failed} FAILED` : ''})`,
      anchor,
      target: `median <= ${FAILOVER_MEDIAN_TARGET_MS} ms, p95 <= ${FAILOVER_P95_TARGET_MS} ms`,
      met: failed === 0 && ms.length > 0 && median(ms) <= FAILOVER_MEDIAN_TARGET_MS && percentile(ms, 0.95) <= FAILOVER_P95_TARGET_MS,
    };
  };
  const extra = cluster.leaderCpuPercent - cpu.activePercent;
  const readyFigure = (name: string, ms: number[]): Figure => ({
    name,
    value: `${median(ms)} ms, ${percentile(ms, 0.95)} ms`,
    anchor: 'the new leader ready to tick (its readyAt); a tick may not be due yet',
    target: '-',
    met: null,
  });
  return [
    {
      name: "leader's clock killed, host fine (median, p95)",
      value: `${median(cluster.clockKillReadyMs)} ms, ${percentile(cluster.clockKillReadyMs, 0.95)} ms to ready, same host (${cluster.clockKillReadyMs.length} kills${cluster.failures.some((f) => f.startsWith('clock-kill')) ? `; ${cluster.failures.filter((f) => f.startsWith('clock-kill')).length} FAILED` : ''})`,
      anchor: `single-host restart ${median(restartMs)} ms (same run)`,
      target: 'the lead stays on the host',
      met: cluster.clockKillReadyMs.length > 0 && !cluster.failures.some((f) => f.startsWith('clock-kill')),
    },
    failoverFigure('failover: leader cut off (median, p95)', cluster.cutMs, 'cut-leader'),
    readyFigure('  the same, to the new leader ready', cluster.cutReadyMs),
    failoverFigure('failover: leader powered off (median, p95)', cluster.powerOffMs, 'power-off-leader'),
    readyFigure('  the same, to the new leader ready', cluster.powerOffReadyMs),
    {
      name: 'leader changes, nothing failing',
      value: `${cluster.quietChanges} in ${cluster.quietSeconds} s`,
      anchor: '3 hosts, one 3-member etcd, lease 2 s',
      target: '0',
      met: cluster.quietChanges === 0,
    },
    {
      name: 'cluster leader CPU',
      value: `${cluster.leaderCpuPercent.toFixed(3)} % of a core`,
      anchor: `single-host clock: ${cpu.activePercent.toFixed(3)} % (+${extra.toFixed(3)} %)`,
      target: `< +${CLUSTER_CPU_TARGET_PERCENT} %`,
      met: Number.isFinite(extra) && extra < CLUSTER_CPU_TARGET_PERCENT,
    },
  ];
}

function standbyCpuFigure(cpu: StandbyCpu): Figure {
  return {
    name: 'standby CPU, idle',
    value: `${cpu.standbyPercent.toFixed(3)} % of a core`,
    anchor: `active clock: ${cpu.activePercent.toFixed(3)} %, same ${cpu.wallSeconds.toFixed(0)} s`,
    target: `< ${STANDBY_CPU_TARGET_PERCENT} %`,
    met: cpu.standbyPercent < STANDBY_CPU_TARGET_PERCENT,
  };
}

function hangFigure(hangs: ProbeRecoveries): Figure {
  const anchor = `probe: hung after ${PROBE_HANG_MS} ms silent, looks every ${PROBE_PERIOD_MS} ms`;
  return probeRecoveryFigure('recovery after a hang (median)', hangs, anchor, PROBE_HANG_MS + 1_000);
}

/**
 * A stall is found once a thread has owed a tick for its interval + PROBE_HANG_MS, and it owes one
 * an interval after its last tick: at worst two intervals + PROBE_HANG_MS after the stall, then a
 * look and a restart, which the second to spare covers. Which interval: in the first half of a run
 * the 2 s thread's; in the second, once that thread is done with the run, the 4 s thread's alone.
 */
function stallFigure(stalls: ProbeRecoveries): Figure {
  const anchor = `probe: stalled once a tick is owed its interval (${SHORTEST_INTERVAL_MS} or ${LONGEST_INTERVAL_MS}) + ${PROBE_HANG_MS} ms`;
  return probeRecoveryFigure('recovery after a stall (median)', stalls, anchor, 2 * LONGEST_INTERVAL_MS + PROBE_HANG_MS + 1_000);
}

function probeRecoveryFigure(name: string, { ms, failures }: ProbeRecoveries, anchor: string, targetMs: number): Figure {
  const healed = ms.length > 0 ? `${median(ms)} ms (min ${Math.min(...ms)}, max ${Math.max(...ms)})` : 'never healed';
  const unhealed = failures > 0 ? `; ${failures} not killed by the probe within ${PROBE_KILL_LIMIT_MS / 1000} s` : '';
  return { name, value: `${healed}${unhealed}`, anchor, target: `< ${targetMs} ms`, met: failures === 0 && median(ms) < targetMs };
}

// "No growth": the last ticks of a run are no later, on average, than its first ones, within 1 ms.
const GROWTH_TOLERANCE_MS = 1;

function accuracyFigure(accuracy: Accuracy | undefined): Figure {
  const name = 'tick lateness (p50, p99, max)';
  const target = 'p99 < 5 ms, no growth';
  if (!accuracy) return { name, value: 'run 1 was not fully seen', anchor: 'heartbeat samples', target, met: false };
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  return {
    name,
    value: `${ms(accuracy.p50)}, ${ms(accuracy.p99)}, ${ms(accuracy.max)}`,
    anchor: `run ${accuracy.run}, ${accuracy.ticks} ticks; last 5 vs first 5: ${accuracy.growthMs >= 0 ? '+' : ''}${ms(accuracy.growthMs)}`,
    target,
    met: accuracy.p99 < 5 && accuracy.growthMs < GROWTH_TOLERANCE_MS,
  };
}

function probeCpuFigure(name: string, cpu: ProbeCpu): Figure {
  const scan = cpu.lastScanMs === undefined ? 'no scan reported' : `last scan ${cpu.lastScanMs} ms`;
  return {
    name,
    value: `${cpu.percentOfCore.toFixed(2)} % of a core`,
    anchor: `${cpu.processes} processes, ${scan}`,
    target: '< 1 %',
    met: cpu.percentOfCore < 1,
  };
}

function megabytes(mb: number): string {
  return `${mb.toFixed(1)} MB`;
}

export function toJson(options: Options, measured: Measurements, figures: Figure[]): object {
  const { clockMs, bareMs, hangs, stalls, accuracy, probeCost, memoryMb, standby } = measured;
  return {
    kills: options.kills,
    clockMs,
    bareMs,
    rssMb: memoryMb.clock,
    hangs: options.hangs,
    hangMs: hangs.ms,
    hangFailures: hangs.failures,
    stalls: options.stalls,
    stallMs: stalls.ms,
    stallFailures: stalls.failures,
    probeHangMs: PROBE_HANG_MS,
    probePeriodMs: PROBE_PERIOD_MS,
    probeSeconds: options.probeSeconds,
    extra: options.extra,
    accuracy,
    probeCost,
    probeRssMb: memoryMb.probe,
    daemonRssMb: memoryMb.daemon,
    bareRssMb: memoryMb.bare,
    takeovers: options.takeovers,
    takeoverMs: standby.takeovers.map((takeover) => takeover.ms),
    // Per kill: the total, what the new active logged (its lock connection closing -> ticking), pids.
    takeoverSamples: standby.takeovers,
    standbySeconds: options.standbySeconds,
    standbyCpu: standby.cpu,
    failovers: options.failovers,
    cluster: measured.cluster,
    windows: measured.windows,
    guardedApps: options.guardedApps,
    guardedSeconds: options.guardedSeconds,
    guarded: measured.guarded,
    figures,
  };
}

export function printTable(figures: Figure[], options: Options): void {
  const rows = [['figure', 'measured', 'anchor', 'target', ''], ...figures.map((f) => [f.name, f.value, f.anchor, f.target, f.met === null ? (f.target === '-' ? '' : 'skipped') : f.met ? 'met' : 'MISSED'])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log(
    `estatus bench: ${options.kills} SIGKILLs per app, ${options.hangs} hangs, ${options.stalls} stalls, probe CPU over ${options.probeSeconds} s per window, ` +
      `${options.takeovers} takeovers, standby CPU over ${options.standbySeconds} s, ` +
      `${options.guardedApps > 0 ? `${options.guardedApps} guarded apps (probe CPU over ${options.guardedSeconds} s, ${options.workerHangs} worker hangs, ${options.workerStalls} stalls), ` : ''}` +
      `Node ${process.version}, PM2 in a temporary PM2_HOME`,
  );
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}
