import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import type { Sandbox } from '../lib/pm2-sandbox.ts';
import { cpuSeconds } from './proc-usage.ts';
import { isAlive, waitFor } from '../lib/wait.ts';

/** One SIGKILL of the active clock in standby mode. */
export interface Takeover {
  /** ms from the SIGKILL to the new active's own `readyAt` (ready to tick): what the bench judges. */
  ms: number;
  /**
   * What the new active logged itself ("took over … in X ms"): from the moment it saw the lock's
   * connection close to ticking. `ms - clockMs` is the part before that: the kernel tearing down the
   * dead process and its socket, and the standby's event loop waking up.
   */
  clockMs: number | undefined;
  killedPid: number;
  newPid: number;
  /** Whether the waiting standby took over (rather than the process PM2 restarted winning the lock). */
  byStandby: boolean;
}

/** CPU use of the idle standby over one window, beside the active's over the same window. */
export interface StandbyCpu {
  standbyPid: number;
  activePid: number;
  /** How long the standby had been running when the window began, in s. */
  standbyAgeSeconds: number;
  wallSeconds: number;
  standbyCpuSeconds: number;
  /** standbyCpuSeconds as a share of wallSeconds, in % of one core. */
  standbyPercent: number;
  activeCpuSeconds: number;
  activePercent: number;
}

interface Pair {
  active: number;
  standby: number;
}

// Written once by a clock that starts waiting on the state lock in standby mode (apps/clock/clock.ts),
// naming the active clock it waits for.
const standbyLine = (activePid: number) => `clock: standby: clock pid ${activePid} is active`;
// "clock: took over from clock pid 123 in 7.4 ms (its death to ticking here)"
const TOOK_OVER = /^clock: took over from clock pid (\d+) in ([\d.]+) ms/m;
// PM2 restarts the killed clock (node start, workers up) in well under this, even on a loaded machine.
const PAIR_TIMEOUT_MS = 30_000;
// The new active logs its takeover line before it writes the heartbeat the bench waits for, but that
// line reaches the log file through the PM2 daemon, a moment later.
const LOG_LINE_TIMEOUT_MS = 5_000;

/**
 * SIGKILLs the active clock `count` times, each time only once a standby exists again and the active
 * has been ready for over `settleMs`: every kill measures a warm standby taking over, not a restart
 * and not the crash-loop back-off.
 */
export async function measureTakeovers(
  sandbox: Sandbox,
  count: number,
  settleMs: number,
  progress: (line: string) => void,
): Promise<Takeover[]> {
  const heartbeatPath = statePaths(sandbox.stateDir).heartbeat;
  const outLog = join(sandbox.logDir, 'clock.out.log');
  const result: Takeover[] = [];
  for (let kill = 1; kill <= count; kill++) {
    const pair = await waitForPair(sandbox, settleMs);
    // The new active's takeover line is looked for only after this point.
    const logOffset = await fileSize(outLog);
    const killedAt = Date.now();
    process.kill(pair.active, 'SIGKILL');
    // The new active records readyAt itself: the bench's polling delay is not counted.
    const after = await waitFor(`a clock other than pid ${pair.active} to be ready`, async () => {
      const heartbeat = await readHeartbeat(heartbeatPath);
      return heartbeat && heartbeat.pid !== pair.active && heartbeat.readyAt !== null ? heartbeat : undefined;
    });
    const readyAt = after.readyAt ?? Number.NaN;
    const clockMs = await loggedTakeoverMs(outLog, logOffset, pair.active);
    const sample: Takeover = { ms: readyAt - killedAt, clockMs, killedPid: pair.active, newPid: after.pid, byStandby: after.pid === pair.standby };
    result.push(sample);
    const own = clockMs === undefined ? 'no takeover line logged' : `the clock logged ${clockMs} ms`;
    const who = sample.byStandby ? 'standby' : `pid ${after.pid}, NOT the standby ${pair.standby}`;
    progress(`takeover ${kill}/${count}: ${sample.ms} ms (${who}; ${own})`);
  }
  return result;
}

/**
 * The idle standby's CPU time over `seconds`, and the active's over the same window as an anchor.
 * The window begins once the standby has run for `warmupSeconds`: a Node process just started keeps
 * compiling and collecting garbage for several seconds (measured here: over 1 % of a core for its
 * first ~12 s, against ~0.25 % after), and that is the cost of a start, not of standing by.
 * The window is thrown away if either process was replaced during it: a new process starts its
 * count from zero.
 */
export async function measureStandbyCpu(sandbox: Sandbox, seconds: number, settleMs: number, warmupSeconds: number): Promise<StandbyCpu> {
  const pair = await waitForPair(sandbox, settleMs);
  const startTicks = [readProcStat(pair.standby)?.startTicks, readProcStat(pair.active)?.startTicks];
  if (startTicks[0] === undefined) throw new Error(`the standby ${pair.standby} vanished before its CPU time was measured`);
  const ageBefore = await secondsSinceStart(startTicks[0]);
  if (ageBefore < warmupSeconds) await sleep((warmupSeconds - ageBefore) * 1000);
  const standbyAgeSeconds = await secondsSinceStart(startTicks[0]);
  const standbyBefore = await cpuSeconds(pair.standby);
  const activeBefore = await cpuSeconds(pair.active);
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  const standbyAfter = await cpuSeconds(pair.standby);
  const activeAfter = await cpuSeconds(pair.active);
  const wallSeconds = (performance.now() - startedAt) / 1000;
  if (readProcStat(pair.standby)?.startTicks !== startTicks[0] || readProcStat(pair.active)?.startTicks !== startTicks[1]) {
    throw new Error(`the clock pair (active ${pair.active}, standby ${pair.standby}) changed while the standby's CPU time was measured`);
  }
  const heartbeat = await readHeartbeat(statePaths(sandbox.stateDir).heartbeat);
  if (heartbeat?.pid !== pair.active) throw new Error(`the standby ${pair.standby} took over while its CPU time was measured`);
  const standbyCpuSeconds = round(standbyAfter - standbyBefore, 2);
  const activeCpuSeconds = round(activeAfter - activeBefore, 2);
  return {
    standbyPid: pair.standby,
    activePid: pair.active,
    standbyAgeSeconds: round(standbyAgeSeconds, 1),
    wallSeconds: round(wallSeconds, 2),
    standbyCpuSeconds,
    standbyPercent: round((standbyCpuSeconds / wallSeconds) * 100, 3),
    activeCpuSeconds,
    activePercent: round((activeCpuSeconds / wallSeconds) * 100, 3),
  };
}

/**
 * Waits until the pair is whole again: the heartbeat's writer has been ticking for over `settleMs`,
 * PM2 reports two clocks online, the other one alive, and that one is a standby by its own word (its
 * standby line naming this active, or its role metric).
 */
async function waitForPair(sandbox: Sandbox, settleMs: number): Promise<Pair> {
  const heartbeatPath = statePaths(sandbox.stateDir).heartbeat;
  const outLog = join(sandbox.logDir, 'clock.out.log');
  // PM2's view is asked for while the active settles, not after: each list is a whole pm2 CLI
  // process (~0.5 s here), which would otherwise add to every kill. What it confirmed is checked
  // again, cheaply, at the end: both pids still alive, the same active.
  let confirmed: Pair | undefined;
  return waitFor(
    `an active clock ready for ${settleMs} ms and a standby beside it`,
    async () => {
      const heartbeat = await readHeartbeat(heartbeatPath);
      if (heartbeat?.phase !== 'ticking' || heartbeat.readyAt === null || !isAlive(heartbeat.pid)) return undefined;
      if (confirmed?.active !== heartbeat.pid || !isAlive(confirmed.standby)) {
        confirmed = await pairInPm2(sandbox, heartbeat.pid, outLog);
      }
      return confirmed && Date.now() - heartbeat.readyAt > settleMs ? confirmed : undefined;
    },
    PAIR_TIMEOUT_MS,
  );
}

async function pairInPm2(sandbox: Sandbox, activePid: number, outLog: string): Promise<Pair | undefined> {
  const clocks = (await sandbox.list()).filter((p) => p.name === 'clock');
  if (clocks.length !== 2 || clocks.some((p) => p.status !== 'online' || !(p.pid > 0) || !isAlive(p.pid))) return undefined;
  const active = clocks.find((p) => p.pid === activePid);
  const standby = clocks.find((p) => p.pid !== activePid);
  if (!active || !standby) return undefined;
  // A line naming this active can only come from a clock that began waiting while it was active. A
  // standby that had to wait again (the restarted clock won the lock) logs no second line, but
  // publishes its role again.
  const logged = (await readFrom(outLog, 0)).split('\n').some((line) => line.startsWith(standbyLine(activePid)));
  return logged || standby.metrics.role?.value === 'standby' ? { active: active.pid, standby: standby.pid } : undefined;
}

/** The takeover time the new active logged for `killedPid`, once the line is in the log; undefined if it never comes. */
async function loggedTakeoverMs(outLog: string, offset: number, killedPid: number): Promise<number | undefined> {
  return waitFor(
    'the takeover line',
    async () => {
      const match = TOOK_OVER.exec(await readFrom(outLog, offset));
      return match && Number(match[1]) === killedPid ? Number(match[2]) : undefined;
    },
    LOG_LINE_TIMEOUT_MS,
  ).catch(() => undefined);
}

// Linux counts a process's start time (/proc/<pid>/stat field 22) in USER_HZ, 100 everywhere Node runs.
const TICKS_PER_SECOND = 100;

/** How long ago a process with start time `startTicks` started, by the machine's uptime. */
async function secondsSinceStart(startTicks: number): Promise<number> {
  const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  return uptime - startTicks / TICKS_PER_SECOND;
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

async function readFrom(path: string, offset: number): Promise<string> {
  return (await readFile(path).catch(() => Buffer.alloc(0))).subarray(offset).toString('utf8');
}

function round(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}
