import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCheckpoint } from '../../apps/clock/checkpoint.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { tickCount, ticksOf } from '../helpers/clock-log.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

type Context = { sandbox: Sandbox; second?: ReturnType<Sandbox['spawnClock']> };

const OneWriter = suite<Context>('one writer of the state', {} as Context);

OneWriter.before(async (context) => {
  context.sandbox = await createSandbox();
  await context.sandbox.pm2('start', ECOSYSTEM, '--only', 'clock');
});
OneWriter.after(async ({ sandbox }) => sandbox.cleanup());

OneWriter('a second clock started by hand waits for the lock and says so', async (context) => {
  const { sandbox } = context;
  const owner = await sandbox.onlinePid('clock');
  const second = sandbox.spawnClock();
  context.second = second;
  await waitFor('the second clock to say it waits', () =>
    second.output().includes(`is owned by clock pid ${owner}; waiting for it to stop before taking over`),
  );
  const count = tickCount(await sandbox.outLog());
  await waitFor('PM2 clock to tick on', async () => tickCount(await sandbox.outLog()) >= count + 6);
  assert.is(ticksOf(second.output()).length, 0, 'the waiting clock printed ticks');
  assert.ok(second.exitCode === null, 'the waiting clock exited');
});

OneWriter('the state stays whole: one clean tick sequence, a checkpoint that matches it', async ({ sandbox }) => {
  const continuity = checkContinuity(await sandbox.outLog());
  assert.is(continuity.breaks, 0);
  assert.is(continuity.repeats, 0);
  const checkpoint = parseCheckpoint(await readFile(join(sandbox.stateDir, 'checkpoint.json'), 'utf8'));
  const last = continuity.threads.get('thread-1')?.last;
  assert.ok(last && checkpoint.run >= last.run, 'the checkpoint went back a run');
});

OneWriter('when the owner stops, the waiting clock takes over and carries on', async ({ sandbox, second }) => {
  assert.ok(second);
  await sandbox.pm2('stop', 'clock');
  await waitFor('the second clock to take over', () => second.output().includes('clock: took over the state'));
  await waitFor('the second clock to tick', () => ticksOf(second.output()).length >= 4);
  const continuity = checkContinuity((await sandbox.outLog()) + second.output());
  assert.is(continuity.breaks, 0, 'ticks were lost between the two clocks');
  assert.ok(continuity.repeats <= 2);
  second.kill('SIGTERM');
  await waitFor('the second clock to exit', () => second.exitCode !== null);
  assert.is(second.exitCode, 0);
});

OneWriter.run();
