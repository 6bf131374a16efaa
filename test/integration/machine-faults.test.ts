import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ECOSYSTEM, createSandbox, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { assertNoTickLost, tickCount } from '../helpers/clock-log.ts';

/**
 * Faults of the machine under a running clock, on real PM2 and real mounts: LOG_DIR and STATE_DIR
 * are each a small tmpfs, filled (dd) and emptied, or remounted read-only and back. After each, the
 * clock must tick again within seconds, with no tick missing from the log, no heal by the probe and
 * no restart by PM2: a clock dying on a full disk only crash-loops into the same wall. Root only
 * (mount); elsewhere skipped, with the reason printed.
 */

const root = process.getuid?.() === 0 && process.platform === 'linux';
if (!root) console.log('  (skipped the machine-fault tests: mounting a tmpfs needs root on Linux)');

const run = (command: string, ...args: string[]): void => void execFileSync(command, args, { stdio: 'ignore' });
// The clock ticks again this soon after the fault passes (the target: 5 s).
const BACK_WITHIN_MS = 5_000;

type Context = { sandbox: Sandbox; mounts: string[] };
const Faults = suite<Context>('faults of the machine under a running clock', { mounts: [] } as unknown as Context);

Faults.before(async (context) => {
  if (!root) return;
  // Short intervals: the log's last page (a tmpfs gives files whole 4 KB pages) fills in seconds.
  context.sandbox = await createSandbox({ CLOCK_INTERVALS: '0.05,0.1', PROBE_HANG_MS: '1000', PROBE_PERIOD_MS: '200' });
  context.mounts = [];
  for (const dir of [context.sandbox.logDir, context.sandbox.stateDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    run('mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir);
    context.mounts.push(dir);
  }
  await context.sandbox.pm2('start', ECOSYSTEM);
  await waitFor('the clock to tick', async () => tickCount(await context.sandbox.outLog()) > 5);
});

Faults.after(async ({ sandbox, mounts }) => {
  if (!sandbox) return;
  // The daemon first: it holds the logs open, and a busy tmpfs cannot be unmounted.
  await sandbox.pm2('kill').catch(() => {});
  for (const dir of mounts) {
    try {
      run('mount', '-o', 'remount,rw', dir);
    } catch {
      // Not read-only.
    }
    run('umount', dir);
  }
  await sandbox.cleanup();
});

/** Fills `dir`'s file system to the last byte; returns the file that did it. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  try {
    run('dd', 'if=/dev/zero', `of=${file}`, 'bs=4k');
  } catch {
    // dd ends with ENOSPC: that is the point.
  }
  return file;
}

/** What PM2's metrics say holds the clock (the heartbeat file may be on the faulty disk). */
async function heldMetric(sandbox: Sandbox): Promise<string> {
  const clock = (await sandbox.list()).find((app) => app.name === 'clock');
  return String(clock?.metrics?.held?.value ?? '');
}

/** ms from now until the out log holds `more` ticks beyond what it holds now. */
async function timeToTicks(sandbox: Sandbox, more: number): Promise<number> {
  const from = tickCount(await sandbox.outLog());
  const started = performance.now();
  await waitFor(`${more} more ticks`, async () => tickCount(await sandbox.outLog()) >= from + more, BACK_WITHIN_MS + 5_000);
  return performance.now() - started;
}

async function assertUnhealed(sandbox: Sandbox): Promise<void> {
  const apps = await sandbox.list();
  assert.is(apps.find((app) => app.name === 'clock')?.restarts, 0, 'the clock was restarted');
  const probe = apps.find((app) => app.name === 'probe');
  for (const kind of ['hung', 'stalled', 'ghost', 'errored', 'duplicate']) assert.is(probe?.metrics?.[`heals: ${kind}`]?.value ?? 0, 0, `the probe healed (${kind})`);
}

Faults('the log\'s disk fills: the clock holds, PM2 reopens its log once there is room, and nothing is missing from it', async ({ sandbox }) => {
  if (!root) return;
  const filler = fill(sandbox.logDir);
  try {
    await waitFor('the clock to hold for its log', async () => (await heldMetric(sandbox)).includes('log:'), 15_000, 200);
  } finally {
    rmSync(filler);
  }
  const backMs = await timeToTicks(sandbox, 10);
  console.log(`  log disk full, then freed: ticking again into the log after ${Math.round(backMs)} ms`);
  assert.ok(backMs < BACK_WITHIN_MS, `${Math.round(backMs)} ms`);
  await waitFor('the clock to say its log takes lines again', async () => (await sandbox.errLog()).includes('takes lines again'));
  assertNoTickLost(await sandbox.outLog(), 1);
  await assertUnhealed(sandbox);
});

Faults('the state\'s disk fills: no tick printed that cannot be saved, its pulse through PM2, no heal, on by itself', async ({ sandbox }) => {
  if (!root) return;
  const filler = fill(sandbox.stateDir);
  try {
    await waitFor('the clock to hold for its state', async () => (await heldMetric(sandbox)).includes('state: ENOSPC'), 10_000, 200);
    // Held well past the probe's hang limit: the pulse through PM2 must keep it from being taken for hung.
    const heldAt = tickCount(await sandbox.outLog());
    await waitFor('three hang limits to pass', () => false, 3_000, 500).catch(() => {});
    assert.ok(tickCount(await sandbox.outLog()) - heldAt <= 2, 'ticks were printed that could not be saved');
  } finally {
    rmSync(filler);
  }
  const backMs = await timeToTicks(sandbox, 10);
  console.log(`  state disk full, then freed: ticking again after ${Math.round(backMs)} ms`);
  assert.ok(backMs < BACK_WITHIN_MS, `${Math.round(backMs)} ms`);
  assert.match(await sandbox.errLog(), /cannot save the checkpoint in .* \(ENOSPC\); holding the ticks/);
  assert.not.match(await sandbox.errLog(), /\n\s+at /, 'a stack trace');
  assertNoTickLost(await sandbox.outLog(), 2);
  await assertUnhealed(sandbox);
});

Faults('the state\'s disk is read-only for a while: held, not a bad setting (no exit 78), on by itself', async ({ sandbox }) => {
  if (!root) return;
  run('mount', '-o', 'remount,ro', sandbox.stateDir);
  try {
    await waitFor('the clock to hold for its state', async () => (await heldMetric(sandbox)).includes('state: EROFS'), 10_000, 200);
  } finally {
    run('mount', '-o', 'remount,rw', sandbox.stateDir);
  }
  const backMs = await timeToTicks(sandbox, 10);
  console.log(`  state disk read-only, then read-write: ticking again after ${Math.round(backMs)} ms`);
  assert.ok(backMs < BACK_WITHIN_MS, `${Math.round(backMs)} ms`);
  assertNoTickLost(await sandbox.outLog(), 3);
  await assertUnhealed(sandbox);
});

Faults.run();
