import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { cleanUpOnInterrupt } from '../lib/interrupt.ts';
import { waitFor } from '../lib/wait.ts';
import { createWindowsSandbox, windowsAvailability, type WindowsSandbox } from '../lib/windows-sandbox.ts';
import { toWindowsPath } from '../windows/windows-path.ts';

/**
 * The Windows rows of `npm run bench`: the same PM2 and the same ecosystem under Windows Node, in
 * wine on this Linux machine (wine, not Windows: its process starts and its scheduler are Linux's,
 * under a translation layer). Kill → ready of the clock beside a bare JavaScript app under the same
 * PM2, and the probe's CPU with nothing failing.
 */

export type WindowsMeasurements =
  | { measured: true; clockMs: number[]; bareMs: number[]; probeCpuPercent: number; probeSeconds: number }
  | { measured: false; reason: string };

// As on Linux (measure.ts): only a clock ready for over a second is on the healthy-restart path.
const SETTLE_MS = 1_200;
// Under wine every look at PM2 is a pm2 CLI of its own (~1 s): polls are spaced accordingly.
const POLL_MS = 250;
const WINE_WAIT_MS = 60_000;

export async function measureWindows(kills: number, probeSeconds: number, progress: (line: string) => void): Promise<WindowsMeasurements> {
  const available = await windowsAvailability();
  if (!available.ok) return { measured: false, reason: available.reason };
  const sandbox = await createWindowsSandbox({ CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20', CLOCK_STANDBY: '0', PROBE_PERIOD_MS: '500', PROBE_HANG_MS: '3000' });
  const cleanUp = cleanUpOnInterrupt(() => sandbox.cleanup());
  try {
    progress(`windows (wine): starting the ecosystem under PM2 on Windows Node in ${sandbox.home}`);
    await sandbox.pm2('start', 'ecosystem.config.js');
    await sandbox.onlinePid('clock');
    progress(`windows (wine): probe CPU over ${probeSeconds} s, nothing failing`);
    const probeCpuPercent = await probeCpu(sandbox, probeSeconds);
    const readyFile = join(sandbox.dir, 'bare-ready.json');
    await sandbox.pm2With({ BARE_READY_FILE: toWindowsPath(readyFile) }, 'start', join(PROJECT_ROOT, 'scripts/bench/bare-app.js'), '--name', 'bare');
    const heartbeatPath = statePaths(sandbox.stateDir).heartbeat;
    const clockMs: number[] = [];
    const bareMs: number[] = [];
    for (let kill = 1; kill <= kills; kill++) {
      progress(`windows (wine): kill ${kill}/${kills}`);
      clockMs.push(await recovery(sandbox, 'clock', async () => (await readHeartbeat(heartbeatPath))?.readyAt ?? undefined));
      bareMs.push(await recovery(sandbox, 'bare', async () => JSON.parse(await readFile(readyFile, 'utf8')).readyAt));
    }
    return { measured: true, clockMs, bareMs, probeCpuPercent, probeSeconds };
  } finally {
    await cleanUp();
  }
}

/**
 * Ends app `name` through Windows Node's own process.kill (TerminateProcess, what `taskkill /F`
 * does), which notes the wall-clock instant just before: the ~0.5 s wine takes to start that killer
 * is not counted. Returns ms from the kill to the new process's own readyAt.
 */
async function recovery(sandbox: WindowsSandbox, name: string, readyAt: () => Promise<number | undefined>): Promise<number> {
  const pid = await sandbox.onlinePid(name);
  await waitFor(`${name} to have been ready for ${SETTLE_MS} ms`, async () => {
    const at = await readyAt().catch(() => undefined);
    return at !== undefined && Date.now() - at > SETTLE_MS;
  }, WINE_WAIT_MS, POLL_MS);
  const before = await readyAt();
  const killer = await sandbox.run(['node', '-e', `const at = Date.now(); process.kill(${pid}); console.log(at)`]);
  const killedAt = Number(killer.stdout.trim());
  if (killer.code !== 0 || !Number.isFinite(killedAt)) throw new Error(`could not kill ${name} (Windows pid ${pid}): ${killer.stderr.trim()}`);
  const after = await waitFor(`${name} to be ready again`, async () => {
    const at = await readyAt().catch(() => undefined);
    return at !== undefined && at !== before ? at : undefined;
  }, WINE_WAIT_MS, 20);
  return after - killedAt;
}

/**
 * The probe's CPU share over `seconds`, from its own 'cpu' metric (process.cpuUsage): PM2 on
 * Windows reads other processes' CPU through wmic, which wine lacks (and Windows 11 dropped).
 * The probe's start-up is over before the window begins.
 */
async function probeCpu(sandbox: WindowsSandbox, seconds: number): Promise<number> {
  const cpuTime = async (): Promise<number | undefined> => {
    const value = (await sandbox.list()).find((p) => p.name === 'probe')?.metrics['cpu time']?.value;
    return typeof value === 'number' ? value : undefined;
  };
  await waitFor('the probe to publish its CPU time', cpuTime, WINE_WAIT_MS, POLL_MS);
  await sleep(5_000);
  const before = (await cpuTime()) ?? 0;
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  const used = ((await cpuTime()) ?? 0) - before;
  return (used / (performance.now() - startedAt)) * 100;
}
