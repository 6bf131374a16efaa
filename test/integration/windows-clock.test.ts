import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { win32LockAddress } from '../../apps/clock/state-lock-win32.ts';
import { CLOCK_ENTRY } from '../../scripts/lib/pm2-sandbox.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { createWindowsSandbox, windowsAvailability, type WindowsSandbox } from '../../scripts/lib/windows-sandbox.ts';
import { toWindowsPath } from '../../scripts/windows/windows-path.ts';
import { tickCount } from '../helpers/clock-log.ts';

/**
 * The clock's own lock on Windows (Windows Node under wine): the lock file and its named pipe
 * (state-lock-win32.ts). The hot standby, `pm2 stop` by PM2's shutdown message and the freeze are
 * tested under PM2 with the probe, in windows-pm2.test.ts. Wine is not Windows: it ignores
 * FILE_FLAG_FIRST_PIPE_INSTANCE, which is why the lock does not rest on the pipe's name.
 */

const availability = await windowsAvailability();
if (!availability.ok) console.log(`  windows-clock: skipped: ${availability.reason}`);

type Context = { sandbox?: WindowsSandbox };
const WAIT_MS = 30_000;

/** The heartbeat's writer (a Windows pid) once it is ticking, read from Linux. */
function tickingPid(sandbox: WindowsSandbox, stateDir = sandbox.stateDir): number | undefined {
  try {
    const heartbeat = JSON.parse(readFileSync(join(stateDir, 'heartbeat.json'), 'utf8')) as { pid: number; phase: string };
    return heartbeat.phase === 'ticking' ? heartbeat.pid : undefined;
  } catch {
    return undefined;
  }
}

/** A clock started by hand (outside PM2) on this sandbox's state, with `settings`. */
function startClock(sandbox: WindowsSandbox, settings: NodeJS.ProcessEnv = {}) {
  return sandbox.spawnNode([toWindowsPath(CLOCK_ENTRY)], settings);
}

// ---

const Lock = suite<Context>('Windows: two clocks on one state directory', {});

Lock.before(async (context) => {
  if (availability.ok) context.sandbox = await createWindowsSandbox();
});

Lock.after(async (context) => context.sandbox?.cleanup());

Lock('one ticks, the other waits for it; taskkill /F of the owner, and the other takes over with no tick lost', async ({ sandbox }) => {
  if (!availability.ok || !sandbox) return;
  const first = startClock(sandbox);
  const owner = await waitFor('the first clock to tick', () => tickingPid(sandbox), WAIT_MS);
  const second = startClock(sandbox);
  const waits = `clock: the state in ${toWindowsPath(sandbox.stateDir)} is owned by clock pid ${owner}; waiting for it to stop before taking over`;
  await waitFor('the second clock to say it waits', () => second.output().includes(waits), WAIT_MS);
  // The owner ticks on, five times, while the other waits: none of them from the waiter.
  const from = tickCount(first.output());
  await waitFor('five more ticks from the owner', () => tickCount(first.output()) >= from + 5, WAIT_MS);
  assert.is(tickCount(second.output()), 0, 'the waiting clock ticked');
  assert.is(tickingPid(sandbox), owner);

  await sandbox.taskkill(owner);
  await waitFor('the second clock to take over and tick', () => second.output().includes('clock: took over the state') && tickCount(second.output()) >= 3, WAIT_MS);
  const taken = tickingPid(sandbox);
  assert.ok(taken !== undefined && taken !== owner, `the heartbeat's writer after the takeover: ${taken}`);
  const continuity = checkContinuity(first.output() + second.output());
  assert.is(continuity.breaks, 0, 'a tick number was lost');
  assert.ok(continuity.repeats <= 2, `${continuity.repeats} repeats for one kill`);
  assert.not.ok(existsSync(join(sandbox.stateDir, 'clock.sock')), 'a Unix socket name on Windows');
});

Lock('a program squatting on the lock\'s pipe name neither stops a clock nor makes two: the lock is the file', async ({ sandbox }) => {
  if (!availability.ok || !sandbox) return;
  const stateDir = join(sandbox.dir, 'squatted');
  const pipe = win32LockAddress(toWindowsPath(stateDir));
  // Accepts connections and never greets, as a frozen clock would.
  const squatter = sandbox.spawnNode(['-e', `require('net').createServer(() => {}).listen(${JSON.stringify(pipe)}, () => console.log('squatting ' + process.pid))`]);
  const squatterPid = Number(await waitFor('the squatter to listen', () => /^squatting (\d+)$/m.exec(squatter.output())?.[1], WAIT_MS));
  const first = startClock(sandbox, { STATE_DIR: stateDir });
  const owner = await waitFor('the first clock to tick', () => tickingPid(sandbox, stateDir), WAIT_MS);
  const second = startClock(sandbox, { STATE_DIR: stateDir });
  await waitFor('the second clock to wait', () => second.output().includes('waiting for it to stop before taking over'), WAIT_MS);
  const from = tickCount(first.output());
  await waitFor('five more ticks from the owner', () => tickCount(first.output()) >= from + 5, WAIT_MS);
  assert.is(tickCount(second.output()), 0, 'the waiting clock ticked');
  await sandbox.taskkill(owner);
  await waitFor('the second clock to take over and tick', () => tickCount(second.output()) >= 3, WAIT_MS);
  assert.is(checkContinuity(first.output() + second.output()).breaks, 0, 'a tick number was lost');
  await sandbox.taskkill(squatterPid);
});

Lock.run();
