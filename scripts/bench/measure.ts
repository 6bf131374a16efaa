import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { ECOSYSTEM, type Sandbox } from '../lib/pm2-sandbox.ts';
import { waitFor } from '../lib/wait.ts';
import type { Options } from './options.ts';
import { measureProbeCost, type ProbeCpu } from './probe-cost.ts';
import { measureProbeRecoveries, waitUntilClockSettled, type ProbeRecoveries } from './probe-recovery.ts';
import { pm2DaemonPid, residentMb } from './proc-usage.ts';
import { measureStandbyCpu, measureTakeovers, type StandbyCpu, type Takeover } from './takeover.ts';
import type { ClusterMeasurements } from './cluster.ts';
import type { WindowsMeasurements } from './windows.ts';
import type { GuardedMeasurements } from './guarded-apps.ts';
import { accuracyOfFirstFullRun, sampleLateness, type Accuracy } from './tick-accuracy.ts';

/** What `npm run bench` measures, in the order it does: the plain ecosystem, then the hot-standby pair. */

// Kill only a clock that has been ready for over a second: the figure is the healthy-restart path,
// not the crash-loop back-off.
export const SETTLE_MS = 1_200;
// The hang and stall figures are for the probe's production defaults, whatever the caller's environment says.
export const PROBE_PERIOD_MS = 500;
export const PROBE_HANG_MS = 3_000;
// The bench's clock runs at the production defaults: run 1 is 20 ticks of 2 threads.
const THREADS = 2;
export const TICKS_PER_RUN = 20;
// Those defaults' intervals: a stall is found on the thread that owes a tick soonest.
export const SHORTEST_INTERVAL_MS = 2_000;
export const LONGEST_INTERVAL_MS = 4_000;
// The standby's own start-up (JIT, garbage collection) fades within ~12 s; see measureStandbyCpu.
export const STANDBY_WARMUP_S = 12;

export interface Measurements {
  clockMs: number[];
  bareMs: number[];
  hangs: ProbeRecoveries;
  stalls: ProbeRecoveries;
  accuracy: Accuracy | undefined;
  probeCost: { quiet: ProbeCpu; crowded: ProbeCpu };
  memoryMb: { clock: number; probe: number; daemon: number; bare: number };
  standby: { takeovers: Takeover[]; cpu: StandbyCpu };
  /** undefined with --failovers 0. */
  cluster: ClusterMeasurements | undefined;
  /** undefined with --windows-kills 0. */
  windows: WindowsMeasurements | undefined;
  /** Apps under guard that are not the clock; undefined with --guarded-apps 0. */
  guarded: GuardedMeasurements | undefined;
}

/**
 * The probe's cost comes first, while nothing else disturbs the clock it watches; the bare app
 * joins only for the SIGKILLs, its one use; memory is read last, after every restart.
 */
export async function measure(sandbox: Sandbox, options: Options, progress: (line: string) => void): Promise<Omit<Measurements, 'standby' | 'cluster' | 'windows' | 'guarded'>> {
  progress(`starting the ecosystem under PM2 in ${sandbox.home}`);
  const heartbeatPath = statePaths(sandbox.stateDir).heartbeat;
  let stopSampling = (): void => {};
  const lateness = sampleLateness(heartbeatPath, new Promise<void>((resolve) => (stopSampling = resolve)));
  let probeCost: Measurements['probeCost'];
  try {
    await sandbox.pm2('start', ECOSYSTEM);
    await waitUntilClockSettled(sandbox, await sandbox.onlinePid('clock'), SETTLE_MS);
    // Run 1 (80 s) began with the ecosystem; it is finished undisturbed, before the bench starts its
    // thousands of idle processes (which made single ticks 7 ms late here) and before the hangs.
    probeCost = await measureProbeCost(sandbox, options.probeSeconds, options.extra, progress, async () => {
      progress('waiting for run 1 to complete (tick accuracy)');
      await waitFor('run 1 to complete', async () => ((await readHeartbeat(heartbeatPath))?.run ?? 0) >= 2, 120_000);
      stopSampling();
    });
  } finally {
    stopSampling();
  }
  const accuracy = accuracyOfFirstFullRun(await lateness, THREADS, TICKS_PER_RUN);
  // One probe, one heal budget: the stalls wait for what the hangs used of it.
  const healedAt: number[] = [];
  const hangs = await measureProbeRecoveries(sandbox, 'hang', options.hangs, SETTLE_MS, healedAt, progress);
  const stalls = await measureProbeRecoveries(sandbox, 'stall', options.stalls, SETTLE_MS, healedAt, progress);

  const readyFile = join(sandbox.dir, 'bare-ready.json');
  await sandbox.pm2With({ BARE_READY_FILE: readyFile }, 'start', join(PROJECT_ROOT, 'scripts/bench/bare-app.js'), '--name', 'bare');
  const clockMs: number[] = [];
  const bareMs: number[] = [];
  for (let kill = 1; kill <= options.kills; kill++) {
    progress(`kill ${kill}/${options.kills}`);
    clockMs.push(await recovery(sandbox, 'clock', async () => (await readHeartbeat(heartbeatPath))?.readyAt ?? undefined));
    bareMs.push(await recovery(sandbox, 'bare', async () => JSON.parse(await readFile(readyFile, 'utf8')).readyAt));
  }

  const memoryMb = {
    clock: await residentMb(await sandbox.onlinePid('clock')),
    probe: await residentMb(await sandbox.onlinePid('probe')),
    daemon: await residentMb(await pm2DaemonPid(sandbox.home)),
    bare: await residentMb(await sandbox.onlinePid('bare')),
  };
  return { clockMs, bareMs, hangs, stalls, accuracy, probeCost, memoryMb };
}

/**
 * The hot-standby pair: the takeovers first, then the CPU window on the standby PM2 restarted after
 * the last kill, which by then has waited as long as any standby before it.
 */
export async function measureStandby(sandbox: Sandbox, options: Options, progress: (line: string) => void): Promise<Measurements['standby']> {
  progress(`starting the ecosystem with CLOCK_STANDBY=1 under PM2 in ${sandbox.home}`);
  await sandbox.pm2('start', ECOSYSTEM);
  const takeovers = await measureTakeovers(sandbox, options.takeovers, SETTLE_MS, progress);
  progress(`standby CPU: ${options.standbySeconds} s, once the standby has run for ${STANDBY_WARMUP_S} s`);
  const cpu = await measureStandbyCpu(sandbox, options.standbySeconds, SETTLE_MS, STANDBY_WARMUP_S);
  return { takeovers, cpu };
}

/**
 * SIGKILLs app `name` and returns the ms from the kill to the moment the new process says it is
 * ready, as that process itself recorded it (`readyAt`): no polling delay is counted.
 */
async function recovery(sandbox: Sandbox, name: string, readyAt: () => Promise<number | undefined>): Promise<number> {
  const pid = await sandbox.onlinePid(name);
  await waitFor(`${name} to have been ready for ${SETTLE_MS} ms`, async () => {
    const at = await readyAt().catch(() => undefined);
    return at !== undefined && Date.now() - at > SETTLE_MS;
  });
  const before = await readyAt();
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  const after = await waitFor(`${name} to be ready again`, async () => {
    const at = await readyAt().catch(() => undefined);
    return at !== undefined && at !== before ? at : undefined;
  });
  return after - killedAt;
}
