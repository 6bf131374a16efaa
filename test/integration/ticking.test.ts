import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { ticksOf } from '../helpers/clock-log.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

const Ticking = suite<{ sandbox: Sandbox }>('ticking under PM2', {} as { sandbox: Sandbox });

Ticking.before(async (context) => {
  context.sandbox = await createSandbox();
  await context.sandbox.pm2('start', ECOSYSTEM, '--only', 'clock');
});

Ticking.after(async ({ sandbox }) => {
  await sandbox.cleanup();
});

Ticking('pm2 start ecosystem.config.js runs one online clock', async ({ sandbox }) => {
  const clocks = (await sandbox.list()).filter((p) => p.name === 'clock');
  assert.is(clocks.length, 1);
  assert.is(clocks[0]?.status, 'online');
  assert.ok((clocks[0]?.pid ?? 0) > 0);
});

Ticking('both threads tick in the exact format, and runs roll over', async ({ sandbox }) => {
  // CLOCK_TICKS=5 at 0.2 s and 0.4 s: run 1 takes 2 s, then run 2 starts at once.
  const log = await waitFor('run 2 to begin in the clock log', async () => {
    const text = await sandbox.outLog();
    return ticksOf(text).some((t) => t.run === 2 && t.thread === 'thread-2') ? text : undefined;
  });
  const lines = log.split('\n').filter((line) => line !== '' && !line.startsWith('clock: '));
  for (const line of lines) {
    assert.match(line, /^thread-[12] run \d+ tick \d+\/5 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
  }
  const run1 = ticksOf(log).filter((t) => t.run === 1);
  assert.equal(run1.filter((t) => t.thread === 'thread-1').map((t) => t.tick), [1, 2, 3, 4, 5]);
  assert.equal(run1.filter((t) => t.thread === 'thread-2').map((t) => t.tick), [1, 2, 3, 4, 5]);
  assert.match(log, /clock: run 1 complete; starting run 2/);
});

Ticking('thread-1 ticks twice as often as thread-2, on schedule', async ({ sandbox }) => {
  const ticks = ticksOf(await sandbox.outLog()).filter((t) => t.run === 1);
  const times = (thread: string) =>
    ticks.filter((t) => t.thread === thread).map((t) => Date.parse(t.timestamp.replace(' ', 'T')));
  const gaps = (values: number[]) => values.slice(1).map((value, index) => value - (values[index] ?? 0));
  for (const gap of gaps(times('thread-1'))) assert.ok(Math.abs(gap - 200) < 50, `thread-1 gap ${gap} ms`);
  for (const gap of gaps(times('thread-2'))) assert.ok(Math.abs(gap - 400) < 50, `thread-2 gap ${gap} ms`);
});

Ticking('the log has no gap or repeat, and the error log stays clean', async ({ sandbox }) => {
  const continuity = checkContinuity(await sandbox.outLog());
  assert.is(continuity.breaks, 0);
  assert.is(continuity.repeats, 0);
  assert.is(await sandbox.errLog(), '');
});

Ticking.run();
