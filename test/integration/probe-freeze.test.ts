import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { logSays, tickCount, ticksOf } from '../helpers/clock-log.ts';

/**
 * The hang that needs no SIGSTOP (which Windows has not): `pm2 trigger clock fault freeze` blocks
 * the clock's main thread for good. Beside probe-heals.test.ts's kill -STOP, which it stands in for
 * on every platform.
 */

type Context = { sandbox: Sandbox };
const HANG_MS = 1000;

const Freeze = suite<Context>('probe: a frozen clock (pm2 trigger clock fault freeze)', {} as Context);

Freeze.before(async (context) => {
  context.sandbox = await createSandbox({ PROBE_PERIOD_MS: '200', PROBE_HANG_MS: String(HANG_MS), CLOCK_FAULTS: '1' });
  await context.sandbox.pm2('start', ECOSYSTEM);
});
Freeze.after(async ({ sandbox }) => sandbox.cleanup());

Freeze('found hung, killed and back, ticking on with no tick lost', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  await waitFor('the probe to see the clock healthy', () => logSays(sandbox, 'probe', `clock pid ${pid} is healthy`));
  // A clock that fails within its first second counts as a crash loop and is held back: past it.
  await waitFor('the clock to have ticked for over a second', async () => tickCount(await sandbox.outLog()) >= 8);
  const { stdout } = await sandbox.pm2('trigger', 'clock', 'fault', 'freeze');
  assert.match(stdout, /injected/, 'the frozen clock answered pm2 trigger first');
  const frozenAt = Date.now();
  await waitFor('the probe to find it hung', () => logSays(sandbox, 'probe', `clock pid ${pid} is hung: no heartbeat for`));
  await waitFor('the probe to kill it', () => logSays(sandbox, 'probe', `killed hung clock pid ${pid} (SIGKILL); PM2 restarts it`));
  const next = await sandbox.onlinePid('clock', pid);
  const log = await waitFor('a tick from the restarted clock', async () => {
    const text = await sandbox.outLog();
    const resumed = text.lastIndexOf('clock: resumed run');
    return resumed >= 0 && ticksOf(text.slice(resumed)).length >= 2 ? text : undefined;
  });
  const firstTick = ticksOf(log.slice(log.lastIndexOf('clock: resumed run')))[0];
  assert.ok(firstTick);
  const recoveredMs = Date.parse(firstTick.timestamp.replace(' ', 'T')) - frozenAt;
  console.log(`    ticking again ${recoveredMs} ms after the freeze (clock pid ${pid} -> ${next})`);
  assert.ok(recoveredMs < HANG_MS + 1500, `ticking again after ${recoveredMs} ms`);
  assert.ok(await logSays(sandbox, 'clock', 'injecting a freeze (CLOCK_FAULTS=1): the main thread blocks for good, heartbeat and all'));
  assert.not.ok(await logSays(sandbox, 'probe', `clock pid ${pid} is stalled`), 'a frozen clock was taken for a stalled one');
  const continuity = checkContinuity(log);
  assert.is(continuity.breaks, 0, 'a tick number was lost');
  assert.ok(continuity.repeats <= 2, `${continuity.repeats} repeats for one kill`);
});

Freeze('a fault other than the known ones is refused with what was expected', async ({ sandbox }) => {
  const { stdout } = await sandbox.pm2('trigger', 'clock', 'fault', 'melt');
  // PM2 prints each instance's reply as `[clock:0:default]=<JSON>`.
  const reply = /^\[clock:\d+:[^\]]*\]=(.*)$/m.exec(stdout)?.[1];
  assert.ok(reply, stdout);
  assert.equal(JSON.parse(reply), { error: 'expected "crash|hang thread-N" with N from 1 to 2, "stall" or "freeze", got "melt"' });
});

Freeze.run();
