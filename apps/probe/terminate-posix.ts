import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { isLiving } from '../shared/proc-stat.ts';
import { readStat } from './proc-table.ts';
import type { Terminator } from './terminate.ts';

const POLL_MS = 50;

/** Signals on Linux and macOS: SIGTERM lets a clock flush its checkpoint; SIGKILL when it will not. */
export function posixTerminator(): Terminator {
  return { killName: 'SIGKILL', isStillAlive, killVerified: (pid, createTime) => signalVerified(pid, createTime, 'SIGKILL'), terminate };
}

function isStillAlive(pid: number, createTime: number): boolean {
  const stat = readStat(pid);
  return isLiving(stat) && stat.createTime === createTime;
}

/**
 * Sends `signal` to `pid` only if it is still the process that was verified (same creation time), so
 * a pid reused in between is never hit. Returns whether the signal was sent.
 */
function signalVerified(pid: number, createTime: number, signal: NodeJS.Signals): boolean {
  if (!isStillAlive(pid, createTime)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function terminate(pid: number, createTime: number, graceMs: number): Promise<'gone' | 'terminated' | 'killed'> {
  if (!signalVerified(pid, createTime, 'SIGTERM')) return 'gone';
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline) {
    if (!isStillAlive(pid, createTime)) return 'terminated';
    await sleep(POLL_MS);
  }
  return signalVerified(pid, createTime, 'SIGKILL') ? 'killed' : 'terminated';
}
