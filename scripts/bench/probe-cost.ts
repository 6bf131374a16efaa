import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { IdleProcesses } from './idle-processes.ts';
import { cleanUpOnInterrupt } from '../lib/interrupt.ts';
import type { Sandbox } from '../lib/pm2-sandbox.ts';
import { cpuSeconds, processCount } from './proc-usage.ts';
import { waitFor } from '../lib/wait.ts';

/** The probe's CPU use over one window. */
export interface ProbeCpu {
  /** Idle processes the bench added for this window. */
  extra: number;
  /** Processes on the machine at the end of the window, the bench's extras included. */
  processes: number;
  cpuSeconds: number;
  wallSeconds: number;
  /** cpuSeconds as a share of wallSeconds, in % of one core. */
  percentOfCore: number;
  /** The probe's own 'last scan' metric: ms its last full scan of /proc took. */
  lastScanMs: number | undefined;
}

/**
 * The probe's CPU share over a window of `seconds` as the machine is, then over another with
 * `extra` idle processes added, whose /proc entries the probe's full scans have to go through.
 * `beforeCrowding` runs between the two: starting thousands of processes loads both cores for a
 * few seconds, and whatever else is being measured may want to be done first.
 */
export async function measureProbeCost(
  sandbox: Sandbox,
  seconds: number,
  extra: number,
  progress: (line: string) => void,
  beforeCrowding: () => Promise<void> = async () => {},
): Promise<{ quiet: ProbeCpu; crowded: ProbeCpu }> {
  // The probe's start-up (loading, first look, first scan) is not what it costs to keep watching.
  await waitFor('the probe to publish its first scan', async () => (await lastScanMs(sandbox)) !== undefined, 15_000);
  progress(`probe cost: ${seconds} s as the machine is`);
  const quiet = await probeCpu(sandbox, seconds, 0);
  await beforeCrowding();
  const idle = new IdleProcesses();
  const killIdle = cleanUpOnInterrupt(() => idle.killAll());
  try {
    progress(`probe cost: starting ${extra} idle processes`);
    await idle.start(extra);
    progress(`probe cost: ${seconds} s with ${extra} extra processes`);
    const crowded = await probeCpu(sandbox, seconds, extra);
    return { quiet, crowded };
  } finally {
    progress(`probe cost: killing the ${idle.pids.length} idle processes`);
    await killIdle();
  }
}

async function probeCpu(sandbox: Sandbox, seconds: number, extra: number): Promise<ProbeCpu> {
  const pid = await sandbox.onlinePid('probe');
  const startTicks = readProcStat(pid)?.startTicks;
  const cpuBefore = await cpuSeconds(pid);
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  // A probe restarted within the window counted its CPU time from zero again: no figure to be had.
  if (readProcStat(pid)?.startTicks !== startTicks) throw new Error(`the probe (pid ${pid}) restarted while its CPU time was measured`);
  const used = (await cpuSeconds(pid)) - cpuBefore;
  const wallSeconds = (performance.now() - startedAt) / 1000;
  return {
    extra,
    processes: await processCount(),
    cpuSeconds: round(used, 2),
    wallSeconds: round(wallSeconds, 2),
    percentOfCore: round((used / wallSeconds) * 100, 3),
    lastScanMs: await lastScanMs(sandbox),
  };
}

async function lastScanMs(sandbox: Sandbox): Promise<number | undefined> {
  const probe = (await sandbox.list()).find((process) => process.name === 'probe');
  const value = probe?.metrics['last scan']?.value;
  return typeof value === 'number' ? value : undefined;
}

function round(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}
