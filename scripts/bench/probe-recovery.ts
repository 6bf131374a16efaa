import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import dayjs from 'dayjs';
import { MAX_HEALS, WINDOW_MS } from '../../apps/probe/heal-budget.ts';
import { isStillAlive } from '../../apps/probe/terminate.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { parseTickLine } from '../../apps/shared/tick-line.ts';
import { cleanUpOnInterrupt } from '../lib/interrupt.ts';
import type { Sandbox } from '../lib/pm2-sandbox.ts';
import { waitFor } from '../lib/wait.ts';

/** How long the probe gets to kill a stopped or stalled clock before the bench does it and counts a failure. */
export const PROBE_KILL_LIMIT_MS = 15_000;

/**
 * What PM2 cannot see and the probe must: a hang (kill -STOP: no heartbeat) or a stall (`pm2 trigger
 * clock fault stall`, CLOCK_FAULTS=1: the heartbeat goes on, every tick is dropped).
 */
export type ProbeFault = 'hang' | 'stall';

export interface ProbeRecoveries {
  /** Per healed fault: ms from the fault to the restarted clock's first tick. */
  ms: number[];
  /** Faults the probe did not heal within PROBE_KILL_LIMIT_MS (the bench killed the clock instead). */
  failures: number;
}

/**
 * Does `fault` to the clock `count` times. The probe's own budget allows MAX_HEALS heals per
 * WINDOW_MS, so faults beyond it wait for the budget: otherwise they would measure the probe's
 * back-off. `healedAt` is that budget's record, shared by every measurement against one probe.
 */
export async function measureProbeRecoveries(
  sandbox: Sandbox,
  fault: ProbeFault,
  count: number,
  settleMs: number,
  healedAt: number[],
  progress: (line: string) => void,
): Promise<ProbeRecoveries> {
  const result: ProbeRecoveries = { ms: [], failures: 0 };
  for (let round = 1; round <= count; round++) {
    await waitForHealBudget(healedAt, progress);
    const ms = await probeRecovery(sandbox, fault, settleMs);
    if (ms === undefined) {
      result.failures += 1;
      progress(`${fault} ${round}/${count}: the probe did not kill the clock within ${PROBE_KILL_LIMIT_MS / 1000} s; the bench killed it`);
    } else {
      result.ms.push(ms);
      healedAt.push(Date.now());
      progress(`${fault} ${round}/${count}: ticking again after ${ms} ms`);
    }
  }
  return result;
}

async function waitForHealBudget(healedAt: number[], progress: (line: string) => void): Promise<void> {
  const recent = healedAt.filter((at) => at > Date.now() - WINDOW_MS);
  if (recent.length < MAX_HEALS) return;
  // A second to spare: the bench notes a heal only after the probe has made it.
  const waitMs = (recent[0] ?? 0) + WINDOW_MS + 1_000 - Date.now();
  progress(`waiting ${Math.ceil(waitMs / 1000)} s: the probe heals at most ${MAX_HEALS} times in ${WINDOW_MS / 1000} s`);
  await sleep(waitMs);
}

/**
 * Hangs (SIGSTOP) or stalls the clock, a fault PM2 cannot see: the process is still there. Returns
 * the ms from the fault to the first tick the restarted clock printed, by that tick's own timestamp
 * in PM2's log, so no polling delay is counted; undefined when the probe did not kill it within
 * PROBE_KILL_LIMIT_MS.
 */
async function probeRecovery(sandbox: Sandbox, fault: ProbeFault, settleMs: number): Promise<number | undefined> {
  const pid = await sandbox.onlinePid('clock');
  await waitUntilClockSettled(sandbox, pid, settleMs);
  const startTicks = readProcStat(pid)?.startTicks;
  if (startTicks === undefined) throw new Error(`clock pid ${pid} vanished before it could be stopped`);
  const outLog = join(sandbox.logDir, 'clock.out.log');
  const logOffset = (await stat(outLog)).size;
  // Whatever happens next (Ctrl-C included), no stopped or stalled clock is left behind.
  const killIfStillStopped = cleanUpOnInterrupt(() => sigkillIfSame(pid, startTicks));
  const faultAt = Date.now();
  if (fault === 'hang') process.kill(pid, 'SIGSTOP');
  else await sandbox.pm2('trigger', 'clock', 'fault', 'stall');
  let healed: boolean;
  try {
    healed = await waitFor(`the probe to kill the ${fault === 'hang' ? 'stopped' : 'stalled'} clock pid ${pid}`, () => !isStillAlive(pid, startTicks), PROBE_KILL_LIMIT_MS).then(
      () => true,
      () => false,
    );
  } finally {
    await killIfStillStopped();
  }
  if (!healed) return undefined;
  const tickedAt = await waitFor('the restarted clock to print a tick', async () => firstTickAfterResume(await readFrom(outLog, logOffset)), 15_000);
  return tickedAt - faultAt;
}

/**
 * A clock that has been ready for less than a second counts as a failed start, and its successor
 * holds back on purpose (crash-loop back-off): only a settled clock measures the healthy path.
 */
export async function waitUntilClockSettled(sandbox: Sandbox, pid: number, settleMs: number): Promise<void> {
  const heartbeatPath = statePaths(sandbox.stateDir).heartbeat;
  await waitFor(`clock pid ${pid} to have been ready for ${settleMs} ms`, async () => {
    const heartbeat = await readHeartbeat(heartbeatPath);
    return heartbeat?.phase === 'ticking' && heartbeat.pid === pid && heartbeat.readyAt !== null && Date.now() - heartbeat.readyAt > settleMs;
  });
}

function sigkillIfSame(pid: number, startTicks: number): void {
  if (isStillAlive(pid, startTicks)) process.kill(pid, 'SIGKILL');
}

async function readFrom(path: string, offset: number): Promise<string> {
  return (await readFile(path)).subarray(offset).toString('utf8');
}

/** The time (ms) of the first tick after the restarted clock's `clock: resumed run` line, once printed. */
function firstTickAfterResume(logText: string): number | undefined {
  const lines = logText.split('\n');
  const resumed = lines.findIndex((line) => line.startsWith('clock: resumed run'));
  if (resumed < 0) return undefined;
  for (const line of lines.slice(resumed + 1)) {
    const tick = parseTickLine(line);
    // Tick lines carry local time, as dayjs formatted it; dayjs reads it back the same way.
    if (tick) return dayjs(tick.timestamp).valueOf();
  }
  return undefined;
}
