import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { tickCount } from '../helpers/clock-log.ts';

type Context = { sandbox: Sandbox };

const backoffLines = async (sandbox: Sandbox): Promise<string[]> =>
  (await sandbox.errLog()).split('\n').filter((line) => line.includes('(crash-loop back-off)'));

const CrashLoop = suite<Context>('crash-loop back-off', {} as Context);

CrashLoop.before(async (context) => {
  context.sandbox = await createSandbox();
  await context.sandbox.pm2('start', ECOSYSTEM, '--only', 'clock');
});
CrashLoop.after(async ({ sandbox }) => sandbox.cleanup());

CrashLoop('a clock that dies before it is healthy waits longer before each new start', async ({ sandbox }) => {
  // Wait past the first second so that the first kill is of a healthy clock.
  await waitFor('a healthy clock', async () => tickCount(await sandbox.outLog()) >= 8);
  let pid = await sandbox.onlinePid('clock');
  process.kill(pid, 'SIGKILL');
  // Each following clock is killed the moment PM2 reports it ready: it never becomes healthy.
  for (const waitS of [1, 2]) {
    pid = await sandbox.onlinePid('clock', pid);
    process.kill(pid, 'SIGKILL');
    const expected = `the last ${waitS} start(s) died before becoming healthy; waiting ${waitS} s before starting`;
    await waitFor(`"${expected}"`, async () => (await backoffLines(sandbox)).some((line) => line.includes(expected)));
  }
  assert.is((await backoffLines(sandbox)).length, 2);
});

CrashLoop('once healthy again, a killed clock restarts at once', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  const count = tickCount(await sandbox.outLog());
  // Past the 2 s back-off and the healthy second.
  await waitFor('the clock to tick for a while', async () => tickCount(await sandbox.outLog()) >= count + 10, 15_000);
  const lines = (await backoffLines(sandbox)).length;
  process.kill(pid, 'SIGKILL');
  const killedAt = Date.now();
  await sandbox.onlinePid('clock', pid);
  // What tells a held-back start is its back-off line; the time is a loose second check (PM2's jlist,
  // polled here, alone takes over a second on a loaded machine).
  assert.ok(Date.now() - killedAt < 2500, 'the restart was held back');
  assert.is((await backoffLines(sandbox)).length, lines, 'a healthy clock was backed off');
});

CrashLoop.run();
