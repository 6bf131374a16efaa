import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { assertNoTickLost, logSays, moreTicks, tickCount } from '../helpers/clock-log.ts';

/**
 * Steps of the wall clock, in the clock and in the probe (issue 17): each runs under Debian's
 * libfaketime, its wall clock read from a file of its own (FAKETIME_TIMESTAMP_FILE, re-read at every
 * call), so that a step lands in the running process the instant the file changes. Monotonic clocks
 * are left alone, as a real step leaves them. PM2's daemon keeps the true time.
 */

type Context = { sandbox: Sandbox; clockTime: string; probeTime: string };

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const HANG_MS = 1000;
const YEAR_MS = 365 * 86_400_000;
const cannot = process.platform !== 'linux' ? 'libfaketime is a Linux library' : !existsSync(LIBFAKETIME) ? `no ${LIBFAKETIME} (apt-get install libfaketime)` : undefined;

const fakedBy = (file: string): NodeJS.ProcessEnv => ({
  LD_PRELOAD: LIBFAKETIME,
  FAKETIME_TIMESTAMP_FILE: file,
  FAKETIME_NO_CACHE: '1',
  FAKETIME_DONT_FAKE_MONOTONIC: '1',
});

const probeMetric = async (sandbox: Sandbox, name: string): Promise<number> =>
  Number((await sandbox.list()).find((p) => p.name === 'probe')?.metrics[name]?.value);

/** Watches for `windows` × PROBE_HANG_MS: the clock must stay the same process, ticking, and the probe must heal nothing. */
async function noHealOver(sandbox: Sandbox, pid: number, windows: number): Promise<void> {
  const from = tickCount(await sandbox.outLog());
  const until = performance.now() + windows * HANG_MS;
  const problem = await waitFor(`${windows} windows of ${HANG_MS} ms`, async () => {
    const clock = (await sandbox.list()).find((p) => p.name === 'clock');
    if (clock?.pid !== pid) return `the clock was replaced (pid ${clock?.pid ?? 'none'})`;
    const probeLog = (await sandbox.outLog('probe')) + (await sandbox.errLog('probe'));
    const heal = /killed|restarting clock|ghost/.exec(probeLog);
    if (heal) return `the probe healed: ${probeLog.slice(probeLog.lastIndexOf('\n', heal.index) + 1).split('\n')[0]}`;
    return performance.now() >= until ? 'none' : undefined;
  }, windows * HANG_MS + 10_000, 100);
  assert.is(problem, 'none');
  assert.ok(tickCount(await sandbox.outLog()) >= from + windows * 2, 'the clock stopped ticking');
}

const Step = suite<Context>('clock step: the wall clock stepped in the clock and in the probe', {} as Context);

Step.before(async (context) => {
  if (cannot) return;
  context.sandbox = await createSandbox({ PROBE_PERIOD_MS: '200', PROBE_HANG_MS: String(HANG_MS) });
  const { sandbox } = context;
  context.clockTime = join(sandbox.dir, 'clock-time');
  context.probeTime = join(sandbox.dir, 'probe-time');
  // The clock an hour behind from its start (as the issue found it: read 3,600 s old, SIGKILLed).
  await writeFile(context.clockTime, '-1h\n');
  await writeFile(context.probeTime, '+0\n');
  // The daemon first, with the true time; then each app with its own: PM2 passes the starting
  // command's environment to the app, and keeps it for every restart.
  await sandbox.pm2('ping');
  await sandbox.pm2With(fakedBy(context.probeTime), 'start', ECOSYSTEM, '--only', 'probe');
  await sandbox.pm2With(fakedBy(context.clockTime), 'start', ECOSYSTEM, '--only', 'clock');
});
Step.after(async ({ sandbox }) => sandbox?.cleanup());

Step('the clock an hour behind, then four years ahead, the probe an hour behind: no heal; a SIGSTOP still healed', async (context) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  const { sandbox } = context;
  const pid = await sandbox.onlinePid('clock');
  await waitFor('the probe to see the clock healthy', () => logSays(sandbox, 'probe', `clock pid ${pid} is healthy`));
  const behind = await readHeartbeat(statePaths(sandbox.stateDir).heartbeat);
  assert.ok(behind && behind.writtenAt < Date.now() - 3_500_000, `the clock's wall clock is not an hour behind: ${behind?.writtenAt}`);
  await noHealOver(sandbox, pid, 3);

  // Steps while both run: the clock forward four years, the probe back an hour.
  await writeFile(context.clockTime, '+4y\n');
  await writeFile(context.probeTime, '-1h\n');
  await waitFor("the clock's heartbeat stamped four years ahead", async () =>
    ((await readHeartbeat(statePaths(sandbox.stateDir).heartbeat))?.writtenAt ?? 0) > Date.now() + 3 * YEAR_MS);
  await noHealOver(sandbox, pid, 2);
  console.log(`    no heal over 5 windows of ${HANG_MS} ms (the clock an hour behind, then four years ahead; the probe then an hour behind)`);

  const before = tickCount(await sandbox.outLog());
  const stoppedAt = performance.now();
  process.kill(pid, 'SIGSTOP');
  await waitFor('the probe to kill the stopped clock', () => logSays(sandbox, 'probe', `killed hung clock pid ${pid}`), 4 * HANG_MS);
  const killedMs = performance.now() - stoppedAt;
  const replaced = await sandbox.onlinePid('clock', pid);
  const log = await moreTicks(sandbox, before, 2);
  const tickingMs = performance.now() - stoppedAt;
  console.log(`    SIGSTOP four years ahead: killed after ${Math.round(killedMs)} ms, the new clock ticking after ${Math.round(tickingMs)} ms`);
  assert.ok(await logSays(sandbox, 'probe', `clock pid ${pid} is hung: no heartbeat for`));
  // The replacement (its wall clock four years ahead too, the probe's an hour behind) is PM2's clock, not a ghost.
  await waitFor('the probe to see the new clock healthy', () => logSays(sandbox, 'probe', `clock pid ${replaced} is healthy`));
  assert.not.ok(await logSays(sandbox, 'probe', 'ghost'));
  await waitFor('the heal in pm2 monit', async () => (await probeMetric(sandbox, 'heals: hung')) === 1);
  assert.is(await probeMetric(sandbox, 'heals: ghost'), 0);
  assertNoTickLost(log, 1);
});

Step.run();
