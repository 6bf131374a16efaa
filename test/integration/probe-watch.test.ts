import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lookAtProbePulse } from '../../apps/shared/probe-pulse.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { isAlive, waitFor } from '../../scripts/lib/wait.ts';
import { assertNoTickLost, logSays, moreTicks, tickCount, ticksOf } from '../helpers/clock-log.ts';

/**
 * Who watches the watcher (issue 17, case 5), on a real PM2 daemon: the probe stopped (kill -STOP)
 * is ended by the clock and replaced by PM2, and the clock stopped meanwhile is healed by the new
 * probe; both stopped at once are out of reach until one of them runs again.
 */

type Context = { sandbox: Sandbox; stopped: Map<number, number>; pmIds: Map<string, number> };
const HANG_MS = 1000;

/** kill -STOP, remembered (pid and start time) so that the cleanup ends it whatever happens. */
function stop(context: Context, pid: number): void {
  const stat = readProcStat(pid);
  assert.ok(stat, `pid ${pid} is gone`);
  context.stopped.set(pid, stat.startTicks);
  process.kill(pid, 'SIGSTOP');
}

/**
 * The live pid PM2 last launched as `name`, from the pid file it writes at each launch: cheaper than
 * asking PM2 (a CLI run) and written the instant it launches, so it can be polled finely, for a time.
 */
async function launchedPid({ sandbox, pmIds }: Context, name: string): Promise<number | undefined> {
  const pid = Number((await readFile(join(sandbox.home, 'pids', `${name}-${pmIds.get(name)}.pid`), 'utf8').catch(() => '')).trim());
  return pid > 0 && isAlive(pid) ? pid : undefined;
}

async function launchedAfter(context: Context, name: string, old: number): Promise<number> {
  return waitFor(`PM2 to launch a new ${name} in place of pid ${old}`, async () => {
    const pid = await launchedPid(context, name);
    return pid !== old && pid;
  }, 10_000, 10);
}

/** Until the clock's start is healthy (its start record says so): a clock that dies sooner is held back as a crash loop. */
async function healthyStart(sandbox: Sandbox): Promise<void> {
  await waitFor('the clock to be healthy for a second', async () => {
    const record = JSON.parse(await readFile(statePaths(sandbox.stateDir).starts, 'utf8')) as { healthy?: boolean };
    return record.healthy === true;
  });
}

/** Until the probe `pid` beats (its pulse rewritten) and sees the clock `clockPid` healthy. */
async function watching(sandbox: Sandbox, pid: number, clockPid: number): Promise<void> {
  await waitFor(`probe pid ${pid} to see clock pid ${clockPid} healthy`, () => logSays(sandbox, 'probe', `clock pid ${clockPid} is healthy`));
  let first: string | undefined;
  await waitFor(`probe pid ${pid} to beat`, async () => {
    const look = await lookAtProbePulse(statePaths(sandbox.stateDir).probePulse);
    if (look.kind !== 'present' || look.pulse?.pid !== pid) return false;
    first ??= look.key;
    return look.key !== first;
  });
}

/** Waits for the first tick of a clock resumed after `resumesBefore` resumes, and returns the log. */
async function resumedTicking(sandbox: Sandbox, resumesBefore: number): Promise<string> {
  return waitFor('a tick from the restarted clock', async () => {
    const text = await sandbox.outLog();
    const resumed = text.split('\n').filter((line) => line.startsWith('clock: resumed run'))[resumesBefore];
    return resumed && ticksOf(text.slice(text.lastIndexOf(resumed))).length > 0 ? text : undefined;
  });
}

const resumes = async (sandbox: Sandbox): Promise<number> => ((await sandbox.outLog()).match(/^clock: resumed run/gm) ?? []).length;

const Watcher = suite<Context>('who watches the watcher: the clock watches the probe', {} as Context);

Watcher.before(async (context) => {
  context.stopped = new Map();
  context.sandbox = await createSandbox({ PROBE_PERIOD_MS: '200', PROBE_HANG_MS: String(HANG_MS) });
  await context.sandbox.pm2('start', ECOSYSTEM);
  context.pmIds = new Map((await context.sandbox.list()).map((p) => [p.name, p.pmId]));
});
Watcher.after(async ({ sandbox, stopped }) => {
  // A stopped process holds pm2 kill up for its kill_timeout: each one still stopped here is ended first.
  for (const [pid, startTicks] of stopped) if (readProcStat(pid)?.startTicks === startTicks && isAlive(pid)) process.kill(pid, 'SIGKILL');
  await sandbox.cleanup();
});

Watcher('the probe stopped: replaced within PROBE_HANG_MS + 2 s; the clock stopped meanwhile: healed by the new probe, no tick lost', async (context) => {
  const { sandbox } = context;
  const clockPid = await waitFor('the clock', () => launchedPid(context, 'clock'));
  const probePid = await waitFor('the probe', () => launchedPid(context, 'probe'));
  await watching(sandbox, probePid, clockPid);
  // The clock watches from a second after it is ready.
  await healthyStart(sandbox);
  const resumesBefore = await resumes(sandbox);
  const stoppedAt = performance.now();
  stop(context, probePid);
  const ended = `the probe pid ${probePid} has not beaten for`;
  await waitFor('the clock to end the stopped probe', () => logSays(sandbox, 'clock', ended), HANG_MS + 5_000, 10);
  // The clock hangs now, while its probe is being replaced: only the new probe can heal it.
  stop(context, clockPid);
  const newProbe = await launchedAfter(context, 'probe', probePid);
  const replacedMs = performance.now() - stoppedAt;
  console.log(`    probe pid ${probePid} stopped -> pid ${newProbe} launched ${Math.round(replacedMs)} ms later`);
  assert.ok(replacedMs < HANG_MS + 2_000, `replaced ${Math.round(replacedMs)} ms after the stop`);
  assert.is(await sandbox.onlinePid('probe', probePid), newProbe);
  assert.not.ok(isAlive(probePid), 'the stopped probe still lives');
  assert.match(await sandbox.errLog('clock'), new RegExp(`clock: ${ended} \\d+\\.\\d s \\(hung or stopped\\?\\); ended it \\(SIGKILL\\) so that PM2 starts it again\n`));

  await resumedTicking(sandbox, resumesBefore);
  assert.ok(await logSays(sandbox, 'probe', `killed hung clock pid ${clockPid} (SIGKILL); PM2 restarts it`));
  assertNoTickLost(await moreTicks(sandbox, tickCount(await sandbox.outLog()), 2), 1);
});

Watcher('both stopped at once: out of reach (nothing replaced) until the probe runs again, which then heals the clock', async (context) => {
  const { sandbox } = context;
  const clockPid = await waitFor('the clock', () => launchedPid(context, 'clock'));
  const probePid = await waitFor('the probe', () => launchedPid(context, 'probe'));
  await watching(sandbox, probePid, clockPid);
  await healthyStart(sandbox);
  const resumesBefore = await resumes(sandbox);
  stop(context, probePid);
  stop(context, clockPid);
  // Past the time in which a running clock would have ended the probe: nothing could.
  await waitFor('nothing to happen', () => false, HANG_MS + 1_000).catch(() => {});
  assert.ok(isAlive(probePid) && isAlive(clockPid), 'something ended a stopped process');
  assert.not.ok(await logSays(sandbox, 'clock', `the probe pid ${probePid} has not beaten`));

  process.kill(probePid, 'SIGCONT');
  await resumedTicking(sandbox, resumesBefore);
  assert.ok(await logSays(sandbox, 'probe', `killed hung clock pid ${clockPid} (SIGKILL); PM2 restarts it`));
  assert.is(await launchedPid(context, 'probe'), probePid, 'the probe, running again, was replaced');
  assertNoTickLost(await moreTicks(sandbox, tickCount(await sandbox.outLog()), 2), 2);
});

Watcher.run();
