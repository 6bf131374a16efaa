import { setTimeout as sleep } from 'node:timers/promises';
import { isLiving, readProcStat } from '../../apps/shared/proc-stat.ts';

const POLL_MS = 50;

/**
 * Waits until `check` returns a value other than undefined/false, polling every `pollMs`, and fails
 * with `what` once `timeoutMs` has passed: tests wait for conditions, never for fixed times. A check
 * that is itself costly (it starts a process) polls less often.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  pollMs = POLL_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError ? ` (last error: ${String(lastError)})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(pollMs);
  }
}

/** Whether a process is alive: not gone and not a zombie (dead, waiting to be reaped). */
export function isAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return isLiving(stat);
}
