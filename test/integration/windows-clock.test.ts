import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { win32LockAddress } from '../../apps/clock/state-lock-win32.ts';
import { CLOCK_ENTRY, ECOSYSTEM } from '../../scripts/lib/pm2-sandbox.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { createWindowsSandbox, windowsAvailability, type WindowsSandbox } from '../../scripts/lib/windows-sandbox.ts';
import { toWindowsPath } from '../../scripts/windows/windows-path.ts';
import { assertCheckpointMatches, tickCount } from '../helpers/clock-log.ts';

/**
 * The clock's own promises on Windows (Windows Node under wine): the state lock on its named pipe
 * and lock file (state-lock-win32.ts), the hot standby without a death bell, and `pm2 stop` by
 * PM2's shutdown message. Wine is not Windows: it ignores FILE_FLAG_FIRST_PIPE_INSTANCE, which is
 * why the lock does not rest on the pipe's name (see state-lock-win32.ts).
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

// ---

const Standby = suite<Context>('Windows: the hot standby, told by its named pipe', {});

Standby.after(async (context) => context.sandbox?.cleanup());

Standby('the standby takes over the instant the active is taskkilled, and says there is no death bell', async (context) => {
  if (!availability.ok) return;
  const sandbox = (context.sandbox = await createWindowsSandbox({ CLOCK_STANDBY: '1' }));
  const first = startClock(sandbox);
  const active = await waitFor('the active clock to tick', () => tickingPid(sandbox), WAIT_MS);
  const standby = startClock(sandbox);
  await waitFor('the standby line', () => standby.output().includes(`clock: standby: clock pid ${active} is active`), WAIT_MS);
  assert.match(first.output(), "clock: the death bell is Linux-only; a standby learns of this clock's death when its named pipe closes");
  await waitFor('a few more ticks', () => tickCount(first.output()) >= 8, WAIT_MS);

  await sandbox.taskkill(active);
  const line = await waitFor('the takeover line', () => /^clock: took over from clock pid (\d+) in ([\d.]+) ms/m.exec(standby.output()) ?? undefined, WAIT_MS);
  console.log(`    Windows (wine) standby takeover after taskkill /F: ${line[2]} ms (the clock's own measure)`);
  assert.is(Number(line[1]), active);
  await waitFor('ticks from the standby', () => tickCount(standby.output()) >= 3, WAIT_MS);
  const continuity = checkContinuity(first.output() + standby.output());
  assert.is(continuity.breaks, 0, 'a tick number was lost');
  assert.ok(continuity.repeats <= 2, `${continuity.repeats} repeats for one kill`);
});

Standby.run();

// ---

const Pm2 = suite<Context>('Windows: the clock under PM2', {});

Pm2.after(async (context) => context.sandbox?.cleanup());

Pm2('pm2 stop clock (PM2\'s shutdown message: no signal reaches an app there) saves the checkpoint; pm2 start clock repeats nothing', async (context) => {
  if (!availability.ok) return;
  const sandbox = (context.sandbox = await createWindowsSandbox({ CLOCK_FAULTS: '1' }));
  await sandbox.pm2('start', toWindowsPath(ECOSYSTEM), '--only', 'clock');
  await sandbox.onlinePid('clock');
  await waitFor('a few ticks', async () => tickCount(await sandbox.outLog()) >= 5, WAIT_MS);
  await sandbox.pm2('stop', 'clock');
  const log = await sandbox.outLog();
  assert.match(log, 'clock: shutdown message received; stopping');
  assertCheckpointMatches(sandbox.stateDir, log);
  const count = tickCount(log);
  await sandbox.pm2('start', 'clock');
  const after = await waitFor('ticks after the start', async () => {
    const text = await sandbox.outLog();
    return tickCount(text) >= count + 4 ? text : undefined;
  }, WAIT_MS);
  const continuity = checkContinuity(after);
  assert.is(continuity.breaks, 0);
  assert.is(continuity.repeats, 0, 'a graceful stop saved every tick, so none repeats');
});

Pm2('pm2 trigger clock fault freeze: the main thread blocks for good, heartbeat and all, with no SIGSTOP', async ({ sandbox }) => {
  if (!availability.ok || !sandbox) return;
  const pid = await sandbox.onlinePid('clock');
  const { stdout } = await sandbox.pm2('trigger', 'clock', 'fault', 'freeze');
  assert.match(stdout, /"injected":"freeze"/, 'the clock answered before it froze');
  await waitFor('the freeze line', async () => (await sandbox.errLog()).includes('clock: injecting a freeze (CLOCK_FAULTS=1)'), WAIT_MS);
  const ticks = tickCount(await sandbox.outLog());
  // What the probe judges a hang by: no heartbeat for longer than PROBE_HANG_MS (3 s by default).
  await waitFor('the heartbeat to go 3 s stale', () => {
    const heartbeat = JSON.parse(readFileSync(join(sandbox.stateDir, 'heartbeat.json'), 'utf8')) as { writtenAt: number };
    return Date.now() - heartbeat.writtenAt > 3_000;
  }, WAIT_MS);
  assert.is(tickCount(await sandbox.outLog()), ticks, 'a frozen clock printed a tick');
  assert.is((await sandbox.list()).find((p) => p.name === 'clock')?.pid, pid, 'PM2 still sees the frozen clock, as it would a hung one');
  await sandbox.taskkill(pid);
  await sandbox.onlinePid('clock', pid);
  const log = await waitFor('ticks after the restart', async () => {
    const text = await sandbox.outLog();
    return tickCount(text) >= ticks + 3 ? text : undefined;
  }, WAIT_MS);
  assert.is(checkContinuity(log).breaks, 0, 'a tick number was lost');
});

Pm2.run();
