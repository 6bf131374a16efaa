import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { parseCheckpoint } from '../../apps/clock/checkpoint.ts';
import { parseTickLine, type TickLine } from '../../apps/shared/tick-line.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

/** The tick lines of a clock log, in order. */
export function ticksOf(logText: string): TickLine[] {
  return logText.split('\n').flatMap((line) => parseTickLine(line) ?? []);
}

/** How many tick lines a log holds. */
export function tickCount(logText: string): number {
  return ticksOf(logText).length;
}

/** Whether app `name`'s out or error log (in the sandbox's LOG_DIR) contains `text`. */
export async function logSays(sandbox: { outLog(name?: string): Promise<string>; errLog(name?: string): Promise<string> }, name: string, text: string): Promise<boolean> {
  return ((await sandbox.outLog(name)) + (await sandbox.errLog(name))).includes(text);
}

/**
 * Waits until the clock log holds `more` tick lines beyond `from`. Under wine, where each look at
 * PM2 takes a second, the caller gives a longer deadline and poll.
 */
export async function moreTicks(sandbox: { outLog(): Promise<string> }, from: number, more: number, timeoutMs?: number, pollMs?: number): Promise<string> {
  return waitFor(`${more} more ticks in the clock log`, async () => {
    const log = await sandbox.outLog();
    return tickCount(log) >= from + more ? log : undefined;
  }, timeoutMs, pollMs);
}

/** No tick number skipped or gone back in `log`, and at most two repeats per fault (one per thread). */
export function assertNoTickLost(log: string, faults: number): void {
  const continuity = checkContinuity(log);
  assert.equal([...continuity.threads.values()].flatMap((t) => t.breaks), [], 'a tick number was skipped or went back');
  assert.ok(continuity.repeats <= faults * 2, `${continuity.repeats} repeats for ${faults} fault(s)`);
}

/** Each thread's last tick in `log` must be what the checkpoint in `stateDir` holds: nothing printed was left unsaved. */
export function assertCheckpointMatches(stateDir: string, log: string): void {
  const checkpoint = parseCheckpoint(readFileSync(join(stateDir, 'checkpoint.json'), 'utf8'));
  for (const [index, saved] of checkpoint.threads.entries()) {
    const last = ticksOf(log).filter((t) => t.thread === `thread-${index + 1}`).at(-1);
    assert.ok(last, `thread-${index + 1} never ticked`);
    if (last.run === checkpoint.run) assert.is(saved.tick, last.tick, `thread-${index + 1}'s checkpoint`);
    else assert.ok(last.run === checkpoint.run - 1 && last.tick === last.ticksPerRun && saved.tick === 0);
  }
}
