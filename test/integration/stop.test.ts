import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { assertCheckpointMatches, tickCount, ticksOf } from '../helpers/clock-log.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

type Context = { sandbox: Sandbox };

// ---

/**
 * `pm2 stop clock` then `pm2 start clock`, through `ecosystem`: PM2 asks the clock to stop with
 * `said` (its shutdown message, the project's way on every platform, or SIGINT, PM2's default).
 */
function pm2StopSuite(ecosystem: string, said: string): void {
  const Pm2Stop = suite<Context>(`pm2 stop clock (${said})`, {} as Context);

  Pm2Stop.before(async (context) => {
    context.sandbox = await createSandbox();
    await context.sandbox.pm2('start', ecosystem, '--only', 'clock');
  });
  Pm2Stop.after(async ({ sandbox }) => sandbox.cleanup());

  Pm2Stop('stops gracefully, with the checkpoint saved and the lock released', async ({ sandbox }) => {
    await waitFor('a few ticks', async () => tickCount(await sandbox.outLog()) >= 5);
    const sentAt = performance.now();
    await sandbox.pm2('stop', 'clock');
    const tookMs = performance.now() - sentAt;
    console.log(`    pm2 stop clock (${said}): ${tookMs.toFixed(0)} ms`);
    const clock = (await sandbox.list()).find((p) => p.name === 'clock');
    assert.is(clock?.status, 'stopped');
    const log = await sandbox.outLog();
    assert.match(log, `clock: ${said} received; stopping`);
    assertCheckpointMatches(sandbox.stateDir, log);
    assert.not.ok(existsSync(join(sandbox.stateDir, 'clock.sock')), 'the lock was left behind');
    // PM2 waited for the clock to exit, not for kill_timeout (3 s) to run out and SIGKILL it.
    assert.ok(tookMs < 3000, `the stop took ${tookMs.toFixed(0)} ms`);
    assert.is.not((await sandbox.errLog()).includes('could not stop'), true);
  });

  Pm2Stop('pm2 start clock resumes the same run', async ({ sandbox }) => {
    const count = tickCount(await sandbox.outLog());
    await sandbox.pm2('start', 'clock');
    const log = await waitFor('ticks after the start', async () => {
      const text = await sandbox.outLog();
      return tickCount(text) >= count + 4 ? text : undefined;
    });
    const continuity = checkContinuity(log);
    assert.is(continuity.breaks, 0);
    assert.is(continuity.repeats, 0, 'a graceful stop saved every tick, so none repeats');
  });

  Pm2Stop.run();
}

pm2StopSuite(ECOSYSTEM, 'shutdown message');

// ---

pm2StopSuite(join(PROJECT_ROOT, 'test', 'fixtures', 'signal-stop.config.js'), 'SIGINT');

// ---

const Sigterm = suite<Context>('SIGTERM', {} as Context);

Sigterm.before(async (context) => {
  context.sandbox = await createSandbox();
});
Sigterm.after(async ({ sandbox }) => sandbox.cleanup());

Sigterm('exits 0 well inside kill_timeout, checkpoint flushed, lock released', async ({ sandbox }) => {
  const clock = sandbox.spawnClock();
  await waitFor('a few ticks', () => ticksOf(clock.output()).length >= 5);
  const exited = new Promise<number | null>((resolve) => clock.once('exit', (code) => resolve(code)));
  const sentAt = performance.now();
  clock.kill('SIGTERM');
  const code = await exited;
  const tookMs = performance.now() - sentAt;
  assert.is(code, 0);
  assert.ok(tookMs < 1000, `the stop took ${tookMs.toFixed(0)} ms`);
  assert.match(clock.output(), /clock: SIGTERM received; stopping/);
  assertCheckpointMatches(sandbox.stateDir, clock.output());
  assert.not.ok(existsSync(join(sandbox.stateDir, 'clock.sock')));
});

Sigterm.run();
