import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { parseGuardBeat, type GuardBeat } from '../../apps/shared/guard-contract.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { createSandbox, type Pm2Process, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { isAlive, waitFor } from '../../scripts/lib/wait.ts';
import { tickCount } from '../helpers/clock-log.ts';

/**
 * A second app under guard, which is not the clock and imports none of our code: the example worker
 * (examples/guarded-worker), declared beside clock and probe, on a real PM2 daemon. The probe heals
 * it from a hang (SIGUSR1: its event loop blocked) and from a stall (SIGUSR2: it beats on, its owed
 * progress ever later), each with its own lines, while the clock ticks on untouched; an app declared
 * with a bad guard setting is said in one line, and every other app is still guarded.
 */

// examples/guarded-worker's ecosystem, and a copy of its worker declared with GUARD_HANG_MS=abc.
const ECOSYSTEM = join(PROJECT_ROOT, 'test', 'integration', 'fixtures', 'guard-any-app.config.js');
// The example's own settings (its ecosystem file): hung after 2 s silent, stalled 2 s past what it owes.
const HANG_MS = 2_000;
const STALL_MS = 2_000;
const EVERY_MS = 200;
const PERIOD_MS = 200;
// Generous: CI shares two cores; the bench measures the real figures.
const SLACK_MS = 3_000;

type Context = { sandbox: Sandbox; beatPath: string; clockPid: number; clockTicks: number; healed: Record<'hung' | 'stalled', number> };

const Guard = suite<Context>('the probe guards an app that is not the clock', {} as Context);

Guard.before(async (context) => {
  context.sandbox = await createSandbox({ WORKER_EVERY_MS: String(EVERY_MS), PROBE_PERIOD_MS: String(PERIOD_MS) });
  context.beatPath = join(context.sandbox.stateDir, 'guard', 'worker.json');
  const { sandbox } = context;
  await sandbox.pm2('start', ECOSYSTEM);
  context.clockPid = await sandbox.onlinePid('clock');
  await workerReady(context);
});

Guard.after(async ({ sandbox }) => {
  await sandbox?.cleanup();
});

async function readBeat(path: string): Promise<GuardBeat | undefined> {
  const parsed = parseGuardBeat(await readFile(path, 'utf8').catch(() => ''));
  return parsed.kind === 'beat' ? parsed.beat : undefined;
}

/** The worker PM2 runs (other than `other`), once it is online and its own ready beat is in its file. */
async function workerReady({ sandbox, beatPath }: Context, other?: number): Promise<number> {
  return waitFor(`a worker${other ? ` other than pid ${other}` : ''} online and beating`, async () => {
    const worker = (await sandbox.list()).find((p) => p.name === 'worker');
    if (worker?.status !== 'online' || worker.pid === other || !isAlive(worker.pid)) return undefined;
    const beat = await readBeat(beatPath);
    return beat?.pid === worker.pid && beat.ready ? worker.pid : undefined;
  }, 10_000, 20);
}

async function probeLines(sandbox: Sandbox): Promise<string> {
  return (await sandbox.outLog('probe')) + (await sandbox.errLog('probe'));
}

function metric(list: Pm2Process[], name: string): unknown {
  return list.find((p) => p.name === 'probe')?.metrics[name]?.value;
}

/** Breaks the worker with `signal` and returns the ms until a new worker is online and beating. */
async function breakAndReplace(context: Context, signal: NodeJS.Signals, kind: 'hung' | 'stalled'): Promise<number> {
  const { sandbox } = context;
  const pid = await workerReady(context);
  const start = readProcStat(pid)?.startTicks;
  const faultAt = performance.now();
  process.kill(pid, signal);
  const replacement = await workerReady(context, pid);
  const tookMs = performance.now() - faultAt;
  assert.not.ok(readProcStat(pid)?.startTicks === start && isAlive(pid), `the ${kind} worker pid ${pid} is gone`);
  const lines = await waitFor(`the probe's lines for the ${kind} worker`, async () => {
    const text = await probeLines(sandbox);
    return text.includes(`killed ${kind} worker pid ${pid} `) ? text : undefined;
  });
  assert.match(lines, new RegExp(`^probe: worker pid ${pid} is ${kind}: `, 'm'));
  assert.ok(replacement !== pid);
  context.healed[kind] += 1;
  return tookMs;
}

Guard('a bad guard setting: one line naming the app, the setting, expected and given; the others still guarded', async ({ sandbox }) => {
  const line = await waitFor('the probe to say the bad setting', async () => {
    const text = await probeLines(sandbox);
    return text.split('\n').find((candidate) => candidate.includes('app sloppy:'));
  });
  assert.match(line, /^probe: app sloppy: GUARD_HANG_MS="abc" is not valid: expected whole milliseconds from \d+ to \d+; /);
  const list = await waitFor('the probe to publish both apps it guards', async () => {
    const found = await sandbox.list();
    return metric(found, 'worker is') !== undefined && metric(found, 'clock is') !== undefined ? found : undefined;
  });
  assert.is(metric(list, 'guarded apps'), 2, 'clock and worker, not sloppy');
  assert.is(metric(list, 'sloppy is'), undefined);
  const text = await probeLines(sandbox);
  assert.is(text.split('\n').filter((candidate) => candidate.includes('app sloppy:')).length, 1, 'said once, not every period');
  assert.match(text, /^probe: guarding worker: heartbeat .*worker\.json, hung after 2000 ms/m);
  assert.is(list.find((p) => p.name === 'probe')?.restarts, 0, 'the probe never exits for an app\'s mistake');
  assert.is(list.find((p) => p.name === 'sloppy')?.status, 'online', 'left alone');
});

Guard('hung (SIGUSR1: its event loop blocked): the probe kills it, PM2 starts a new one', async (context) => {
  context.healed = { hung: 0, stalled: 0 };
  context.clockTicks = tickCount(await context.sandbox.outLog());
  const tookMs = await breakAndReplace(context, 'SIGUSR1', 'hung');
  assert.ok(tookMs < HANG_MS + SLACK_MS, `replaced ${Math.round(tookMs)} ms after the hang`);
});

Guard('stalled (SIGUSR2: beating, no progress): the probe kills it, PM2 starts a new one', async (context) => {
  // It owes its next job within twice its period, then may be STALL_MS late.
  const tookMs = await breakAndReplace(context, 'SIGUSR2', 'stalled');
  assert.ok(tookMs < 2 * EVERY_MS + STALL_MS + SLACK_MS, `replaced ${Math.round(tookMs)} ms after the stall`);
});

Guard('the clock was left alone meanwhile: same pid, no restart, no heal, ticking on', async ({ sandbox, clockPid, clockTicks, healed }) => {
  const list = await waitFor("the probe's heal counts", async () => {
    const found = await sandbox.list();
    return metric(found, 'heals: hung') === healed.hung && metric(found, 'heals: stalled') === healed.stalled ? found : undefined;
  });
  const clock = list.find((p) => p.name === 'clock');
  assert.equal([clock?.pid, clock?.restarts], [clockPid, 0]);
  assert.is(metric(list, 'clock heals'), 0);
  assert.is(metric(list, 'worker heals'), 2);
  assert.ok(tickCount(await sandbox.outLog()) > clockTicks, 'ticks went on');
  assert.not.match(await probeLines(sandbox), /clock pid \d+ is (hung|stalled)|killed \w+ clock/);
});

Guard.run();
