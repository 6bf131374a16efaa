import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { parseGuardBeat, type GuardBeat } from '../../apps/shared/guard-contract.ts';
import { createSandbox, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { isAlive, waitFor } from '../../scripts/lib/wait.ts';

/**
 * The example of a second guarded app (examples/guarded-worker): its ecosystem file starts the
 * clock, the probe and the worker on a real PM2 daemon, guard-app.js hands the worker its guard
 * settings through its env, and the worker — plain Node, none of our code — writes beats the
 * contract's own parser accepts, idles, stalls on demand through PM2 (any platform), stops cleanly
 * on PM2's shutdown message, and hangs on SIGUSR1 (outside PM2, to keep this suite short). What the
 * probe does about it is tested with the probe.
 */

const ECOSYSTEM = join(PROJECT_ROOT, 'examples', 'guarded-worker', 'ecosystem.config.js');
const WORKER = join(PROJECT_ROOT, 'examples', 'guarded-worker', 'worker.mjs');
const EVERY_MS = 200;

type Context = { sandbox: Sandbox; beatPath: string; pid: number };

async function readBeat(path: string): Promise<GuardBeat | undefined> {
  const parsed = parseGuardBeat(await readFile(path, 'utf8').catch(() => ''));
  return parsed.kind === 'beat' ? parsed.beat : undefined;
}

const Worker = suite<Context>('the guarded worker example under PM2', {} as Context);

Worker.before(async (context) => {
  context.sandbox = await createSandbox({ WORKER_EVERY_MS: String(EVERY_MS) });
  context.beatPath = join(context.sandbox.stateDir, 'guard', 'worker.json');
  await context.sandbox.pm2('start', ECOSYSTEM);
});

Worker.after(async ({ sandbox }) => {
  await sandbox.cleanup();
});

Worker('one pm2 start runs clock, probe and worker; the worker beats the contract', async (context) => {
  const { sandbox, beatPath } = context;
  const online = await waitFor('PM2 to report clock, probe and worker online', async () => {
    const list = await sandbox.list();
    const pids = ['clock', 'probe', 'worker'].map((name) => list.find((p) => p.name === name && p.status === 'online' && isAlive(p.pid))?.pid);
    return pids.every((pid) => pid !== undefined) ? pids : undefined;
  });
  context.pid = online[2]!;
  if (process.platform === 'linux') {
    const environ = readFileSync(`/proc/${context.pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes(`GUARD_HEARTBEAT=${beatPath}`), 'guard-app.js placed the beat in <STATE_DIR>/guard/<name>.json');
    assert.ok(environ.includes('GUARD_HANG_MS=2000') && environ.includes('GUARD_STALL_MS=2000'));
  }
  const beat = await waitFor('a ready beat of the worker', async () => {
    const read = await readBeat(beatPath);
    return read?.pid === context.pid && read.ready ? read : undefined;
  });
  assert.ok(beat.owedInMs === null || beat.owedInMs <= 2 * EVERY_MS, `owes within twice its period: ${beat.owedInMs}`);
  if (process.platform !== 'win32') {
    assert.is((await stat(beatPath)).mode & 0o777, 0o600);
    assert.is((await stat(dirname(beatPath))).mode & 0o777, 0o700);
  }
  const idle = await waitFor('an idle beat (no job: owes nothing)', async () => (await readBeat(beatPath))?.owedInMs === null, 5_000, 20);
  assert.ok(idle);
  await waitFor('a job after the idle spell', async () => /job 6 done/.test(await sandbox.outLog('worker')), 5_000);
});

Worker('pm2 trigger worker stall: it beats on while its owed progress runs late', async ({ sandbox, beatPath, pid }) => {
  await sandbox.pm2('trigger', 'worker', 'stall');
  const late = await waitFor('a beat overdue by more than a period', async () => {
    const beat = await readBeat(beatPath);
    return beat?.pid === pid && beat.owedInMs !== null && beat.owedInMs < -EVERY_MS ? beat : undefined;
  }, 5_000, 20);
  const later = await waitFor('a later beat', async () => {
    const beat = await readBeat(beatPath);
    return beat && beat.seq > late.seq ? beat : undefined;
  });
  assert.ok(later.owedInMs! < late.owedInMs!, 'later and later');
  assert.ok(later.progressAgoMs! > late.progressAgoMs!);
});

Worker('pm2 stop: a stalled worker still stops by its shutdown message, its beat removed', async ({ sandbox, beatPath }) => {
  const sentAt = performance.now();
  await sandbox.pm2('stop', 'worker');
  assert.ok(performance.now() - sentAt < 3_000, 'stopped before kill_timeout');
  assert.match(await sandbox.outLog('worker'), /stopped \(shutdown\) after \d+ jobs/);
  assert.is(await readBeat(beatPath), undefined, 'no beat is left to look silent');
});

Worker.run();

// ---

type Alone = { dir: string; child: ChildProcess | undefined };
const Plain = suite<Alone>('the worker outside PM2', { dir: '', child: undefined });

Plain.before.each(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-worker-'));
});
Plain.after.each(async ({ dir, child }) => {
  if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function startWorker(context: Alone, env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [WORKER], { env: { ...process.env, WORKER_EVERY_MS: String(EVERY_MS), ...env }, stdio: 'pipe' });
  context.child = child;
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return Object.assign(child, { output: () => output });
}

Plain('SIGUSR1: its event loop blocks for good, its beat stops changing', async (context) => {
  if (process.platform === 'win32') return;
  const beatPath = join(context.dir, 'guard', 'worker.json');
  const child = startWorker(context, { GUARD_HEARTBEAT: beatPath, GUARD_HANG_MS: '1000' });
  await waitFor('a ready beat', async () => (await readBeat(beatPath))?.ready);
  child.kill('SIGUSR1');
  let seen = await readFile(beatPath, 'utf8');
  let since = performance.now();
  await waitFor('the beat unchanged for 1 s', async () => {
    const now = await readFile(beatPath, 'utf8');
    if (now !== seen) [seen, since] = [now, performance.now()];
    return performance.now() - since > 1_000;
  });
  assert.match(child.output(), /worker: blocking the event loop for good/);
  assert.is(child.exitCode, null, 'hung, not gone');
});

Plain('without GUARD_HEARTBEAT it works all the same; SIGTERM stops it; a bad setting is one line and exit 78', async (context) => {
  const child = startWorker(context, { GUARD_HEARTBEAT: '' });
  await waitFor('two jobs', () => /job 2 done/.test(child.output()));
  child.kill('SIGTERM');
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.is(code, 0);
  assert.match(child.output(), /stopped \(SIGTERM\) after 2 jobs/);
  const bad = startWorker(context, { WORKER_EVERY_MS: '1s' });
  const badCode = await new Promise((resolve) => bad.on('exit', resolve));
  assert.is(badCode, 78);
  assert.is(bad.output(), 'worker: WORKER_EVERY_MS="1s" is not valid: expected whole milliseconds from 10\n');
});

Plain.run();

