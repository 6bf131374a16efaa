import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { logSays, tickCount, ticksOf } from '../helpers/clock-log.ts';

type Context = { sandbox: Sandbox };
const HANG_MS = 1000;
const probeSettings = { PROBE_PERIOD_MS: '200', PROBE_HANG_MS: String(HANG_MS) };

const probeSays = (sandbox: Sandbox, text: string): Promise<boolean> => logSays(sandbox, 'probe', text);

/**
 * Once the probe sees clock `pid` healthy and it has ticked past its first second (a clock that
 * fails sooner counts as a crash loop and is held back), does `fault` to it and waits for the first
 * tick of the clock PM2 started in its place: ms from the fault to that tick (by its own time), and the log.
 */
async function healedByProbe(sandbox: Sandbox, pid: number, fault: () => Promise<void>): Promise<{ recoveredMs: number; log: string }> {
  await waitFor('the probe to see the clock healthy', () => probeSays(sandbox, `clock pid ${pid} is healthy`));
  await waitFor('the clock to have ticked for over a second', async () => tickCount(await sandbox.outLog()) >= 8);
  const resumes = ((await sandbox.outLog()).match(/clock: resumed run/g) ?? []).length;
  const faultAt = Date.now();
  await fault();
  const log = await waitFor('a tick from the restarted clock', async () => {
    const text = await sandbox.outLog();
    const resumedAt = text.split('\n').filter((line) => line.startsWith('clock: resumed run'))[resumes];
    return resumedAt && ticksOf(text.slice(text.lastIndexOf(resumedAt))).length > 0 ? text : undefined;
  });
  const firstTick = ticksOf(log.slice(log.lastIndexOf('clock: resumed run')))[0];
  assert.ok(firstTick);
  return { recoveredMs: Date.parse(firstTick.timestamp.replace(' ', 'T')) - faultAt, log };
}

// ---

const Hang = suite<Context>('probe: a hung clock', {} as Context);

Hang.before(async (context) => {
  context.sandbox = await createSandbox(probeSettings);
  await context.sandbox.pm2('start', ECOSYSTEM);
});
Hang.after(async ({ sandbox }) => sandbox.cleanup());

Hang('kill -STOP: killed and back, ticking on, within PROBE_HANG_MS + 1 s', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  const { recoveredMs, log } = await healedByProbe(sandbox, pid, async () => void process.kill(pid, 'SIGSTOP'));
  // A loose bound (timed figures are the bench's): it holds on a quiet machine with a second to spare.
  assert.ok(recoveredMs < HANG_MS + 2000, `ticking again after ${recoveredMs} ms`);
  assert.ok(await probeSays(sandbox, `clock pid ${pid} is hung: no heartbeat for`));
  assert.ok(await probeSays(sandbox, `killed hung clock pid ${pid} (SIGKILL); PM2 restarts it`));
  const continuity = checkContinuity(await waitFor('two more ticks', async () => {
    const text = await sandbox.outLog();
    return tickCount(text) >= tickCount(log) + 2 ? text : undefined;
  }));
  assert.is(continuity.breaks, 0, 'a tick number was lost');
});

Hang('pm2 stop clock is respected: reported, not fought', async ({ sandbox }) => {
  await sandbox.pm2('stop', 'clock');
  await waitFor('the probe to report the stop', () => probeSays(sandbox, 'clock is stopped in PM2'));
  // The probe keeps looking (its heartbeat-age metric grows past the hang limit) and does nothing.
  await waitFor('the probe to look on for a while', async () => {
    const probe = (await sandbox.list()).find((p) => p.name === 'probe');
    return Number(probe?.metrics['clock heartbeat age']?.value) > 2 * HANG_MS;
  });
  assert.is((await sandbox.list()).find((p) => p.name === 'clock')?.status, 'stopped');
  assert.not.ok(await probeSays(sandbox, 'restarting clock through PM2'));
});

Hang('pm2 start clock resumes, and the probe sees it healthy again', async ({ sandbox }) => {
  await sandbox.pm2('start', 'clock');
  const pid = await sandbox.onlinePid('clock');
  await waitFor('the probe to see the clock healthy', () => probeSays(sandbox, `clock pid ${pid} is healthy`));
});

Hang('a killed probe is restarted by PM2 and goes on watching', async ({ sandbox }) => {
  const probePid = await sandbox.onlinePid('probe');
  process.kill(probePid, 'SIGKILL');
  await sandbox.onlinePid('probe', probePid);
  await waitFor('the new probe to start watching', async () =>
    ((await sandbox.outLog('probe')).match(/probe: guarding clock: heartbeat/g) ?? []).length >= 2,
  );
  const clockPid = await sandbox.onlinePid('clock');
  await waitFor('the new probe to publish the clock pid', async () => {
    const probe = (await sandbox.list()).find((p) => p.name === 'probe');
    return probe?.metrics['clock pid']?.value === clockPid;
  });
});

Hang.run();

// ---

const Stalled = suite<Context>('probe: a stalled clock (a fresh heartbeat, no ticks)', {} as Context);

Stalled.before(async (context) => {
  context.sandbox = await createSandbox({ ...probeSettings, CLOCK_FAULTS: '1' });
  await context.sandbox.pm2('start', ECOSYSTEM);
});
Stalled.after(async ({ sandbox }) => sandbox.cleanup());

Stalled('pm2 trigger clock fault stall: found stalled, killed, back and ticking, no tick lost', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  const { recoveredMs, log } = await healedByProbe(sandbox, pid, async () => void (await sandbox.pm2('trigger', 'clock', 'fault', 'stall')));
  console.log(`    ticking again ${recoveredMs} ms after the stall`);
  // Owed for its interval (0.2 s) + PROBE_HANG_MS, one interval after its last tick: a loose bound, the bench measures.
  assert.ok(recoveredMs < 2 * 200 + HANG_MS + 2500, `ticking again after ${recoveredMs} ms`);
  assert.ok(await logSays(sandbox, 'clock', 'injecting a stall (CLOCK_FAULTS=1)'));
  assert.ok(await probeSays(sandbox, `clock pid ${pid} is stalled: its heartbeat is fresh, but it is `));
  assert.ok(await probeSays(sandbox, `killed stalled clock pid ${pid} (SIGKILL); PM2 restarts it`));
  assert.not.ok(await probeSays(sandbox, `clock pid ${pid} is hung`), 'a stalled clock was taken for a hung one');
  const continuity = checkContinuity(await waitFor('two more ticks', async () => {
    const text = await sandbox.outLog();
    return tickCount(text) >= tickCount(log) + 2 ? text : undefined;
  }));
  assert.is(continuity.breaks, 0, 'a tick number was lost');
  const heals = await waitFor('the stalled heal in pm2 monit', async () => {
    const probe = (await sandbox.list()).find((p) => p.name === 'probe');
    return Number(probe?.metrics['heals: stalled']?.value) >= 1 ? probe?.metrics : undefined;
  });
  assert.is(Number(heals['heals: hung']?.value), 0);
});

Stalled('the clock PM2 restarted is healthy, never stalled, while it ticks on', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  await waitFor('the probe to see the new clock healthy', () => probeSays(sandbox, `clock pid ${pid} is healthy`));
  const from = tickCount(await sandbox.outLog());
  await waitFor('a whole run more of ticking', async () => tickCount(await sandbox.outLog()) >= from + 12);
  assert.not.ok(await probeSays(sandbox, `clock pid ${pid} is stalled`));
});

Stalled.run();

// ---

const Errored = suite<Context>('probe: a clock PM2 gave up on', {} as Context);

Errored.before(async (context) => {
  context.sandbox = await createSandbox(probeSettings);
});
Errored.after(async ({ sandbox }) => sandbox.cleanup());

Errored('is restarted through PM2 once it can run again', async ({ sandbox }) => {
  const marker = join(sandbox.dir, 'crash-marker');
  await writeFile(marker, '');
  const preload = join(PROJECT_ROOT, 'test', 'fixtures', 'crash-while-marker.mjs');
  await sandbox.pm2With({ NODE_OPTIONS: `--import ${preload}`, CRASH_MARKER: marker }, 'start', ECOSYSTEM);
  await waitFor('the probe to find the clock errored', () => probeSays(sandbox, 'clock is errored: PM2 gave up restarting it'), 20_000);
  await waitFor('the probe to restart it', () => probeSays(sandbox, 'restarting clock through PM2 (errored)'));
  await rm(marker);
  const pid = await waitFor('the clock online again', async () => {
    const clock = (await sandbox.list()).find((p) => p.name === 'clock');
    return clock?.status === 'online' ? clock.pid : undefined;
  }, 20_000);
  await waitFor('ticks', async () => tickCount(await sandbox.outLog()) >= 3);
  const probe = (await sandbox.list()).find((p) => p.name === 'probe');
  assert.ok(Number(probe?.metrics['heals: errored']?.value) >= 1);
  assert.ok(pid > 0);
});

Errored.run();
