import { mkdir, writeFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHECKPOINT_VERSION, serializeCheckpoint } from '../../apps/clock/checkpoint.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { tickCount, ticksOf } from '../helpers/clock-log.ts';

/**
 * A resumed checkpoint that leaves no worker a tick to owe must not become a clock that beats and
 * never ticks (issue 11): the run it says is complete rolls over to the next one, at once.
 */

type Context = { sandbox: Sandbox };

const ROLLED_OVER = /^clock: resumed run (\d+) from the checkpoint: (.*); that run is complete, starting run (\d+)$/m;

// ---

const Lowered = suite<Context>('silent clock: CLOCK_TICKS lowered below where the run was', {} as Context);

Lowered.before(async (context) => {
  context.sandbox = await createSandbox({ CLOCK_TICKS: '20' });
});
Lowered.after(async ({ sandbox }) => sandbox.cleanup());

Lowered('delete, then start with CLOCK_TICKS=5 past tick 5: run 2 starts at once and ticks', async ({ sandbox }) => {
  await sandbox.pm2('start', ECOSYSTEM, '--only', 'clock');
  await waitFor('thread-1 past tick 6 and thread-2 past tick 5', async () => {
    const ticks = ticksOf(await sandbox.outLog());
    const last = (thread: string) => ticks.filter((tick) => tick.thread === thread).at(-1)?.tick ?? 0;
    return last('thread-1') >= 7 && last('thread-2') >= 6;
  });
  await sandbox.pm2('delete', 'all');
  const before = tickCount(await sandbox.outLog());
  await sandbox.pm2With({ CLOCK_TICKS: '5' }, 'start', ECOSYSTEM, '--only', 'clock');
  const log = await waitFor('ticks of run 2 from the restarted clock', async () => {
    const text = await sandbox.outLog();
    return ticksOf(text).slice(before).filter((tick) => tick.run === 2).length >= 4 ? text : undefined;
  });
  const rolled = ROLLED_OVER.exec(log);
  assert.ok(rolled, 'no "that run is complete, starting run 2" line');
  assert.is(rolled[1], '1');
  assert.is(rolled[3], '2');
  assert.match(rolled[2] ?? '', /thread-1 at tick (\d+)\/5/, 'the line says where thread-1 really was');
  const after = ticksOf(log).slice(before);
  for (const thread of ['thread-1', 'thread-2']) {
    const first = after.find((tick) => tick.thread === thread);
    assert.equal([first?.run, first?.tick, first?.ticksPerRun], [2, 1, 5], `${thread} starts run 2 at tick 1`);
  }
  // Within the new setting, nothing is skipped or repeated from there on.
  const continuity = checkContinuity(log.slice(log.indexOf(rolled[0])));
  assert.is(continuity.breaks, 0);
  assert.is(continuity.repeats, 0);
});

Lowered.run();

// ---

const Complete = suite<Context>('silent clock: a checkpoint of a complete run (killed before the rollover)', {} as Context);

Complete.before(async (context) => {
  context.sandbox = await createSandbox();
});
Complete.after(async ({ sandbox }) => sandbox.cleanup());

Complete('the next run starts at once, tick 1 of every thread, no number skipped', async ({ sandbox }) => {
  // What a kill between a run's last checkpointed tick and its rollover leaves on disk.
  await mkdir(sandbox.stateDir, { recursive: true, mode: 0o700 });
  const at = Date.now() - 1_000;
  const checkpoint = {
    version: CHECKPOINT_VERSION,
    run: 6,
    runStartedAt: at - 2_000,
    threads: [
      { name: 'thread-1', tick: 5, at },
      { name: 'thread-2', tick: 5, at },
    ],
  } as const;
  await writeFile(statePaths(sandbox.stateDir).checkpoint, serializeCheckpoint({ ...checkpoint, threads: [...checkpoint.threads] }), { mode: 0o600 });
  await sandbox.pm2('start', ECOSYSTEM, '--only', 'clock');
  const log = await waitFor('run 7 ticking', async () => {
    const text = await sandbox.outLog();
    return ticksOf(text).filter((tick) => tick.run === 7).length >= 4 ? text : undefined;
  });
  assert.match(log, /^clock: resumed run 6 from the checkpoint: thread-1 at tick 5\/5, thread-2 at tick 5\/5; that run is complete, starting run 7$/m);
  const ticks = ticksOf(log);
  assert.ok(ticks.every((tick) => tick.run === 7), 'a tick of the finished run 6 was printed again');
  for (const thread of ['thread-1', 'thread-2']) {
    assert.is(ticks.find((tick) => tick.thread === thread)?.tick, 1, `${thread} starts run 7 at tick 1`);
  }
  assert.is(checkContinuity(log).breaks, 0);
});

Complete.run();
