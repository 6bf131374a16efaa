import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isClockOfOurState } from '../../apps/probe/identity.ts';
import { findProcesses, readEnviron } from '../../apps/probe/proc-table.ts';
import { CLOCK_ENTRY, createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { isAlive, waitFor } from '../../scripts/lib/wait.ts';
import { tickCount } from '../helpers/clock-log.ts';

type Context = { sandbox: Sandbox };

/** The pids of every live clock of this sandbox's state, as the process table shows them. */
function clocksInProcessTable(sandbox: Sandbox): number[] {
  const identity = { entry: realpathSync(CLOCK_ENTRY), stateDir: realpathSync(sandbox.stateDir), user: String(process.getuid?.() ?? -1) };
  return findProcesses('main.js')
    .filter((proc) => isClockOfOurState(proc, readEnviron(proc.pid), identity))
    .map((proc) => proc.pid);
}

const PowerLoss = suite<Context>('power loss: everything SIGKILLed at once, then pm2 resurrect', {} as Context);

PowerLoss.before(async (context) => {
  context.sandbox = await createSandbox({ PROBE_PERIOD_MS: '200' });
  await context.sandbox.pm2('start', ECOSYSTEM);
});
PowerLoss.after(async ({ sandbox }) => sandbox.cleanup());

PowerLoss('exactly one clock and one probe come back, and the run goes on with no tick lost', async ({ sandbox }) => {
  await waitFor('a few ticks', async () => tickCount(await sandbox.outLog()) >= 8);
  await sandbox.pm2('save', '--force');
  const victims = [
    Number(readFileSync(join(sandbox.home, 'pm2.pid'), 'utf8')),
    await sandbox.onlinePid('clock'),
    await sandbox.onlinePid('probe'),
  ];
  for (const pid of victims) process.kill(pid, 'SIGKILL');
  await waitFor('everything to be dead', () => victims.every((pid) => !isAlive(pid)));
  const count = tickCount(await sandbox.outLog());

  // From the moment resurrect starts, the process table is watched: never two clocks of this state.
  let most = 0;
  const watcher = setInterval(() => (most = Math.max(most, clocksInProcessTable(sandbox).length)), 25);
  try {
    await sandbox.pm2('resurrect');
    const log = await waitFor('ticks from the resurrected clock', async () => {
      const text = await sandbox.outLog();
      return tickCount(text) >= count + 6 ? text : undefined;
    });
    const continuity = checkContinuity(log);
    assert.is(continuity.breaks, 0, 'a tick number was lost');
    assert.ok(continuity.repeats <= 2, `${continuity.repeats} repeats for one crash`);
  } finally {
    clearInterval(watcher);
  }
  assert.ok(most <= 1, `${most} clocks at once`);
  const apps = await sandbox.list();
  assert.equal(apps.map((app) => `${app.name}:${app.status}`).sort(), ['clock:online', 'probe:online']);
  assert.equal(clocksInProcessTable(sandbox), [await sandbox.onlinePid('clock')]);
});

PowerLoss.run();
