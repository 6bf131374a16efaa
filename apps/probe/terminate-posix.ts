import { setTimeout as sleep } from 'node:timers/promises';
import { isLiving, readProcStat } from '../shared/proc-stat.ts';

const POLL_MS = 50;

/** Whether `pid` is still the very process first seen (same start time) and not dead or dying. */
export function isStillAlive(pid: number, startTicks: number): boolean {
  const stat = readProcStat(pid);
  return isLiving(stat) && stat.startTicks === startTicks;
}

/**
 * Sends `signal` to `pid` only if it is still the process that was verified (same start time), so a
 * pid reused in between is never hit. Returns whether the signal was sent.
 */
export function signalVerified(pid: number, startTicks: number, signal: NodeJS.Signals): boolean {
  if (!isStillAlive(pid, startTicks)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL if it is still alive after `graceMs`. Resolves with how it ended. */
export async function terminate(pid: number, startTicks: number, graceMs: number): Promise<'gone' | 'terminated' | 'killed'> {
  if (!signalVerified(pid, startTicks, 'SIGTERM')) return 'gone';
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isStillAlive(pid, startTicks)) return 'terminated';
    await sleep(POLL_MS);
  }
  return signalVerified(pid, startTicks, 'SIGKILL') ? 'killed' : 'terminated';
}
