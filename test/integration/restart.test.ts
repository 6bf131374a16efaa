import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertNoTickLost, moreTicks, tickCount, ticksOf } from '../helpers/clock-log.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

type Context = { sandbox: Sandbox };

// ---

const Kill = suite<Context>('SIGKILL of the clock', {} as Context);

Kill.before(async (context) => {
  context.sandbox = await createSandbox();
  await context.sandbox.pm2('start', ECOSYSTEM, '--only', 'clock');
});
Kill.after(async ({ sandbox }) => sandbox.cleanup());

Kill('PM2 restarts it and the ticks carry on from the checkpoint, with no gap', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  const before = await moreTicks(sandbox, 0, 4);
  const lastBefore = ticksOf(before).at(-1);
  process.kill(pid, 'SIGKILL');
  const newPid = await sandbox.onlinePid('clock', pid);
  assert.is.not(newPid, pid);
  const after = await moreTicks(sandbox, tickCount(before), 6);
  assert.match(after, /clock: resumed run \d+ from the checkpoint/);
  // The restarted clock goes on with the same run, not from run 1.
  const firstAfter = ticksOf(after)[tickCount(before)];
  assert.ok(firstAfter && lastBefore && firstAfter.run >= lastBefore.run, 'the run number went back');
  assertNoTickLost(after, 1);
  const clock = (await sandbox.list()).find((p) => p.name === 'clock');
  assert.is(clock?.restarts, 1);
  const resumes = await waitFor('the resume count in pm2 monit', async () => {
    const metrics = (await sandbox.list()).find((p) => p.name === 'clock')?.metrics;
    return metrics?.['resumes from checkpoint']?.value;
  });
  assert.is(resumes, 1);
});

Kill('kill after kill, each restart resumes where the last one was', async ({ sandbox }) => {
  for (let kill = 0; kill < 3; kill++) {
    const pid = await sandbox.onlinePid('clock');
    const count = tickCount(await sandbox.outLog());
    await moreTicks(sandbox, count, 2);
    process.kill(pid, 'SIGKILL');
    await sandbox.onlinePid('clock', pid);
  }
  const log = await moreTicks(sandbox, tickCount(await sandbox.outLog()), 4);
  assertNoTickLost(log, 4);
});

Kill.run();

// ---

const Worker = suite<Context>('a failing worker thread', {} as Context);

Worker.before(async (context) => {
  context.sandbox = await createSandbox({ CLOCK_FAULTS: '1' });
  await context.sandbox.pm2('start', ECOSYSTEM, '--only', 'clock');
});
Worker.after(async ({ sandbox }) => sandbox.cleanup());

Worker('a crashed worker is restarted by the main thread, the process goes on', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  const count = tickCount(await moreTicks(sandbox, 0, 3));
  const { stdout } = await sandbox.pm2('trigger', 'clock', 'fault', 'crash thread-2');
  assert.match(stdout, /"injected":"crash"/);
  await waitFor('the crash to be reported', async () =>
    /thread-2 exited with code 1 after [\d.]+ s \(thread-2: injected crash/.test(await sandbox.errLog()),
  );
  const log = await waitFor('thread-2 to tick again', async () => {
    const text = await sandbox.outLog();
    return ticksOf(text).slice(count + 2).filter((t) => t.thread === 'thread-2').length >= 2 ? text : undefined;
  });
  assertNoTickLost(log, 1);
  const clock = (await sandbox.list()).find((p) => p.name === 'clock');
  assert.is(clock?.pid, pid, 'the process was restarted');
  assert.is(clock?.restarts, 0);
  assert.is(clock?.metrics['worker restarts']?.value, 1);
});

Worker('a hung worker is ended and restarted once it is overdue', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  const count = tickCount(await sandbox.outLog());
  await sandbox.pm2('trigger', 'clock', 'fault', 'hang thread-1');
  await waitFor('the hang to be detected', async () =>
    /thread-1 stopped ticking \(no tick for over 200 ms plus 500 ms grace\); restarting it/.test(await sandbox.errLog()),
  );
  const log = await waitFor('thread-1 to tick again', async () => {
    const text = await sandbox.outLog();
    return ticksOf(text).slice(count + 4).filter((t) => t.thread === 'thread-1').length >= 2 ? text : undefined;
  });
  assertNoTickLost(log, 2);
  assert.is((await sandbox.list()).find((p) => p.name === 'clock')?.pid, pid);
});

Worker('more than 3 worker restarts in 30 s ends the process, and PM2 restarts it', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  // Two restarts so far in this suite; two more crashes make four within 30 s.
  const crashes = async () => (await sandbox.errLog()).match(/exited with code 1/g)?.length ?? 0;
  for (const thread of ['thread-1', 'thread-2']) {
    const before = await crashes();
    await sandbox.pm2('trigger', 'clock', 'fault', `crash ${thread}`);
    await waitFor(`the ${thread} crash to be reported`, async () => (await crashes()) > before);
  }
  const newPid = await sandbox.onlinePid('clock', pid);
  assert.match(await sandbox.errLog(), /4 worker restarts within 30 s; exiting with code 70/);
  const log = await moreTicks(sandbox, tickCount(await sandbox.outLog()), 4);
  assertNoTickLost(log, 5);
  assert.ok(newPid !== pid);
});

Worker.run();
