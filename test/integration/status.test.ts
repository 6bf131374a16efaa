import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { SCRIPT_EXIT } from '../../scripts/lib/cli.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import type { Absence, Status } from '../../scripts/status/types.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { tickCount } from '../helpers/clock-log.ts';

type Context = { sandbox: Sandbox };

const TSX = join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const STATUS = join(PROJECT_ROOT, 'scripts', 'status', 'main.ts');
const ANSI = /\x1b\[/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run status -- <args>` as an operator runs it, against the sandbox's PM2_HOME; stdout is a pipe. */
function status(sandbox: Sandbox, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSX, STATUS, ...args], { env: sandbox.env, cwd: PROJECT_ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Pids of PM2 daemons serving `home`, from their process title ("PM2 v7.0.4: God Daemon (<home>)"). */
async function daemonsOf(home: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const command = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (command.includes(`God Daemon (${home})`)) found.push(Number(entry));
  }
  return found;
}

async function assertNoDaemon(sandbox: Sandbox): Promise<void> {
  assert.not.ok(existsSync(join(sandbox.home, 'pm2.pid')), 'status left a pm2.pid behind');
  assert.equal(await daemonsOf(sandbox.home), [], 'status started a PM2 daemon');
}

// ---

const Running = suite<Context>('status: the ecosystem running', {} as Context);

Running.before(async (context) => {
  context.sandbox = await createSandbox({ PROBE_PERIOD_MS: '200' });
  const { sandbox } = context;
  await sandbox.pm2('start', ECOSYSTEM);
  await sandbox.onlinePid('clock');
  await sandbox.onlinePid('probe');
  await waitFor('a few ticks', async () => tickCount(await sandbox.outLog()) >= 4);
  await waitFor('the probe to publish its heals', async () =>
    (await sandbox.list()).some((p) => p.name === 'probe' && 'heals: hung' in p.metrics),
  );
});
Running.after(async ({ sandbox }) => sandbox.cleanup());

Running('--json: clock and probe online with the pids PM2 reports, a run, ticks, a fresh heartbeat', async ({ sandbox }) => {
  // Right after a rollover every thread is at tick 0 for up to one interval: a report from then shows no tick yet.
  const report = await waitFor('a report taken after a tick of the current run', async () => {
    const run = await status(sandbox, '--json');
    assert.is(run.code, SCRIPT_EXIT.ok, run.stderr);
    assert.is(run.stdout.trim().split('\n').length, 1, 'one JSON object on one line');
    const found = JSON.parse(run.stdout) as Status;
    return found.progress.threads.some((t) => t.tick > 0) ? found : undefined;
  });
  const list = await sandbox.list();
  for (const name of ['clock', 'probe'] as const) {
    const app = report.apps[name];
    assert.is(app.status, 'online', name);
    assert.is(app.pid, list.find((p) => p.name === name)?.pid, `${name}'s pid`);
    assert.ok((app.uptimeMs ?? 0) > 0 && (app.memoryBytes ?? 0) > 1_000_000, `${name}: ${JSON.stringify(app)}`);
    assert.is(app.restarts, 0);
  }
  assert.is(report.daemonPid, Number(await readFile(join(sandbox.home, 'pm2.pid'), 'utf8')));
  assert.is(report.progress.source, 'heartbeat');
  assert.ok((report.progress.run ?? 0) >= 1);
  assert.equal(report.progress.threads.map((t) => t.name), ['thread-1', 'thread-2']);
  assert.ok(report.progress.threads.some((t) => t.tick > 0 && t.ageMs !== null && t.ageMs < 2_000), JSON.stringify(report.progress));
  assert.ok(report.progress.threads.every((t) => t.ticksPerRun === 5));
  assert.is(report.heartbeat.pid, report.apps.clock.pid);
  assert.ok(report.heartbeat.ageMs !== null && report.heartbeat.ageMs < 1_000, `heartbeat ${report.heartbeat.ageMs} ms old`);
  assert.equal(report.heals, { hung: 0, stalled: 0, ghost: 0, errored: 0, duplicate: 0 });
  assert.equal(report.stateDir, { path: sandbox.stateDir, from: 'clock' });
  assert.is(report.checkpoint.path, join(sandbox.stateDir, 'checkpoint.json'));
  assert.ok(report.checkpoint.ageMs !== null && report.checkpoint.ageMs < 2_000);
  // The clock is guarded like any app (its env declares it): its row, from its beat and the probe's metrics.
  const guarded = report.guarded.find((app) => app.name === 'clock');
  assert.ok(guarded, JSON.stringify(report.guarded));
  assert.equal([guarded.pid, guarded.beat.pid, guarded.beat.ready, guarded.beat.problem, guarded.settingError], [report.apps.clock.pid, report.apps.clock.pid, true, null, null]);
  assert.ok(guarded.beat.ageMs !== null && guarded.beat.ageMs < 1_000, `its beat ${guarded.beat.ageMs} ms old`);
  assert.is(guarded.heals, 0);
});

Running("STATE_DIR comes from the clock in PM2, not from the caller's environment", async ({ sandbox }) => {
  const run = await new Promise<Run>((resolve) => {
    const env = { ...sandbox.env, STATE_DIR: join(sandbox.dir, 'elsewhere') };
    execFile(process.execPath, [TSX, STATUS, '--json'], { env, cwd: PROJECT_ROOT }, (error, stdout, stderr) =>
      resolve({ code: error ? 1 : 0, stdout, stderr }),
    );
  });
  assert.is((JSON.parse(run.stdout) as Status).stateDir.path, sandbox.stateDir);
});

Running('the screen: every row, aligned, no colour into a pipe', async ({ sandbox }) => {
  const run = await status(sandbox);
  assert.is(run.code, SCRIPT_EXIT.ok, run.stderr);
  const text = run.stdout;
  assert.not.match(text, ANSI);
  const [clock, probe] = (await sandbox.list()).filter((p) => p.name === 'clock' || p.name === 'probe').sort((a, b) => a.name.localeCompare(b.name));
  assert.match(text, /^APP +STATUS +PID +UPTIME +RESTARTS +MEMORY$/m);
  assert.match(text, new RegExp(`^clock +online +${clock?.pid} +(\\d+m )?[\\d.]+ ?s +0 +[\\d.]+ MiB$`, 'm'));
  assert.match(text, new RegExp(`^probe +online +${probe?.pid} +(\\d+m )?[\\d.]+ ?s +0 +[\\d.]+ MiB$`, 'm'));
  // Right after a rollover a thread is at tick 0, with no tick time yet.
  assert.match(text, /^thread-1 +\d+\/5 +(\d\d:\d\d:\d\d\.\d{3} +[\d.]+ s|- +-)$/m);
  assert.match(text, /^thread-2 +\d+\/5 +(\d\d:\d\d:\d\d\.\d{3} +[\d.]+ s|- +-)$/m);
  assert.match(text, /^run +\d+ \(from the heartbeat\)$/m);
  assert.match(text, new RegExp(`^heartbeat +0\\.\\d s old, pid ${clock?.pid}, ticking$`, 'm'));
  assert.match(text, /^probe heals +hung 0 {2}stalled 0 {2}ghost 0 {2}errored 0 {2}duplicate 0$/m);
  assert.ok(text.includes(`checkpoint`) && text.includes(join(sandbox.stateDir, 'checkpoint.json')));
  assert.match(text, /^state dir +\S+ \(the clock's STATE_DIR in PM2\)$/m);
  assert.match(text, /^GUARDED +STATUS +PID +BEAT +READY +OWES +HELD +PROBE SAYS +HEALS +HANG +STALL$/m);
  assert.match(text, new RegExp(`^clock +online +${clock?.pid} +0\\.\\d s old +yes +`, 'm'));
});

Running('--watch into a pipe: a new screen each second after a blank line; Ctrl-C ends it with 0', async ({ sandbox }) => {
  const child = spawn(process.execPath, [TSX, STATUS, '--watch'], { env: sandbox.env, cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor('three screens', () => (output.match(/^estatus {2}/gm) ?? []).length >= 3, 15_000);
    child.kill('SIGINT');
    assert.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  assert.not.match(output, ANSI);
  const screens = output.split(/\n(?=estatus {2})/);
  assert.ok(screens.length >= 3);
  assert.ok(screens.slice(0, -1).every((screen) => screen.endsWith('\n')), 'each screen is followed by a blank line');
});

Running('--watch --json: one JSON line per refresh', async ({ sandbox }) => {
  const child = spawn(process.execPath, [TSX, STATUS, '--watch', '--json'], { env: sandbox.env, cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor('three lines', () => output.split('\n').length > 3, 15_000);
    child.kill('SIGINT');
    assert.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const reports = output.trim().split('\n').map((line) => JSON.parse(line) as Status);
  assert.ok(reports.length >= 3);
  assert.ok(reports.every((report) => report.apps.clock.status === 'online'));
  // The first refresh also loads pm2's client: the cadence shows from the second on.
  const apartMs = reports[2]!.at - reports[1]!.at;
  assert.ok(apartMs >= 900 && apartMs < 1_500, `${apartMs} ms apart`);
});

Running.run();

// ---

const Standby = suite<Context>('status: hot standby (CLOCK_STANDBY=1), two clock instances', {} as Context);

/** PM2's online clock instances, once both are online, and which one writes the heartbeat (the active). */
async function standbyPair(sandbox: Sandbox, notActive?: number): Promise<{ active: number; standby: number }> {
  return waitFor('two clocks online, one writing a ticking heartbeat, the other waiting as the standby', async () => {
    const clocks = (await sandbox.list()).filter((p) => p.name === 'clock');
    const heartbeat = await readHeartbeat(statePaths(sandbox.stateDir).heartbeat);
    if (clocks.length !== 2 || !clocks.every((p) => p.status === 'online') || heartbeat?.phase !== 'ticking' || heartbeat.pid === notActive) return undefined;
    const active = clocks.find((p) => p.pid === heartbeat.pid);
    const standby = clocks.find((p) => p.pid !== heartbeat.pid);
    return active?.metrics.role?.value === 'active' && standby?.metrics.role?.value === 'standby' ? { active: active.pid, standby: standby.pid } : undefined;
  }, 15_000);
}

Standby.before(async (context) => {
  context.sandbox = await createSandbox({ PROBE_PERIOD_MS: '200', CLOCK_STANDBY: '1' });
  await context.sandbox.pm2('start', ECOSYSTEM);
  await standbyPair(context.sandbox);
  await waitFor('a few ticks', async () => tickCount(await context.sandbox.outLog()) >= 4);
});
Standby.after(async ({ sandbox }) => sandbox.cleanup());

Standby("--json: both instances with their roles; the active is the heartbeat's pid, and apps.clock is it", async ({ sandbox }) => {
  const { active, standby } = await standbyPair(sandbox);
  const run = await status(sandbox, '--json');
  assert.is(run.code, SCRIPT_EXIT.ok, run.stderr);
  const report = JSON.parse(run.stdout) as Status;
  assert.ok(report.standby);
  assert.equal(
    report.clocks.map((c) => [c.role, c.roleFrom, c.pid, c.status]),
    [
      ['active', 'heartbeat', active, 'online'],
      ['standby', 'heartbeat', standby, 'online'],
    ],
  );
  assert.is(report.heartbeat.pid, active);
  assert.is(report.apps.clock.pid, active);
  assert.ok(report.clocks.every((c) => (c.memoryBytes ?? 0) > 1_000_000 && c.uptimeMs !== null && c.restarts === 0 && c.pmId !== null));
  assert.is(report.heartbeat.waiters, 1, 'the standby waits on the state lock');
});

Standby('the screen: a row for the active and one for the standby, each with its PM2 columns', async ({ sandbox }) => {
  const { active, standby } = await standbyPair(sandbox);
  const run = await status(sandbox);
  assert.is(run.code, SCRIPT_EXIT.ok, run.stderr);
  const text = run.stdout;
  assert.match(text, new RegExp(`^clock \\(active\\) +online +${active} +(\\d+m )?[\\d.]+ ?s +0 +[\\d.]+ MiB$`, 'm'));
  assert.match(text, new RegExp(`^clock \\(standby\\) +online +${standby} +(\\d+m )?[\\d.]+ ?s +0 +[\\d.]+ MiB$`, 'm'));
  assert.match(text, /^probe +online +\d+ /m);
  assert.match(text, new RegExp(`^heartbeat +[\\d.]+ s old, pid ${active}, ticking, 1 waiting for the state lock \\(the standby\\)$`, 'm'));
  assert.match(text, new RegExp(`^takeover +none: the active \\(pid ${active}\\) started first`, 'm'));
});

Standby('after kill -9 of the active: the standby is shown active, with its takeover time; the restarted one standby', async ({ sandbox }) => {
  const before = await standbyPair(sandbox);
  process.kill(before.active, 'SIGKILL');
  const after = await standbyPair(sandbox, before.active);
  assert.is(after.active, before.standby, 'the standby took over');
  const report = JSON.parse((await status(sandbox, '--json')).stdout) as Status;
  const [active, standby] = report.clocks;
  assert.equal([active?.role, active?.pid, active?.restarts], ['active', before.standby, 0]);
  assert.equal([standby?.role, standby?.pid, standby?.restarts], ['standby', after.standby, 1]);
  assert.ok(typeof active?.tookOverMs === 'number' && active.tookOverMs > 0, JSON.stringify(active));
  assert.is(report.apps.clock.pid, before.standby);
  const text = (await status(sandbox)).stdout;
  assert.match(text, new RegExp(`^clock \\(standby\\) +online +${after.standby} +[\\d.]+ s +1 `, 'm'));
  assert.match(text, new RegExp(`^takeover +[\\d.]+ ms \\(pid ${before.standby} took over`, 'm'));
});

Standby.run();

// ---

const NoDaemon = suite<Context>('status: no PM2 daemon', {} as Context);

NoDaemon.before(async (context) => {
  context.sandbox = await createSandbox();
});
NoDaemon.after(async ({ sandbox }) => sandbox.cleanup());

NoDaemon('an empty PM2_HOME: one line, exit 5, and no daemon started, no PM2_HOME created', async ({ sandbox }) => {
  for (const args of [[], ['--json']]) {
    const run = await status(sandbox, ...args);
    assert.is(run.code, SCRIPT_EXIT.noDaemon, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
    assert.is(`${run.stdout}${run.stderr}`.trim().split('\n').length, 1);
    if (args.length === 0) assert.match(run.stdout, /^status: no PM2 daemon runs for PM2_HOME=\S+/);
    else assert.equal(JSON.parse(run.stdout) as Absence, { problem: 'no-daemon', pm2Home: sandbox.home });
  }
  await assertNoDaemon(sandbox);
  assert.not.ok(existsSync(sandbox.home), 'status created PM2_HOME');
});

NoDaemon("a daemon's pid file left behind (killed daemon): still no daemon, and none started", async ({ sandbox }) => {
  const gone = spawn(process.execPath, ['-e', '']);
  const pid = await new Promise<number>((resolve) => gone.once('exit', () => resolve(gone.pid!)));
  await sandbox.pm2('ping');
  await sandbox.pm2('kill');
  await writeFile(join(sandbox.home, 'pm2.pid'), String(pid));
  const run = await status(sandbox);
  assert.is(run.code, SCRIPT_EXIT.noDaemon, run.stdout + run.stderr);
  assert.equal(await daemonsOf(sandbox.home), [], 'status started a PM2 daemon');
});

NoDaemon.run();

// ---

const NotStarted = suite<Context>('status: a daemon without the apps', {} as Context);

NotStarted.before(async (context) => {
  context.sandbox = await createSandbox();
});
NotStarted.after(async ({ sandbox }) => sandbox.cleanup());

NotStarted('an empty daemon: one line naming it, exit 6', async ({ sandbox }) => {
  await sandbox.pm2('ping');
  const daemonPid = Number(await readFile(join(sandbox.home, 'pm2.pid'), 'utf8'));
  const run = await status(sandbox);
  assert.is(run.code, SCRIPT_EXIT.notStarted, run.stdout + run.stderr);
  assert.is(run.stdout.trim().split('\n').length, 1);
  assert.match(run.stdout, new RegExp(`pid ${daemonPid}.*runs neither clock nor probe`));
  const json = await status(sandbox, '--json');
  assert.is(json.code, SCRIPT_EXIT.notStarted);
  assert.equal(JSON.parse(json.stdout) as Absence, { problem: 'not-started', pm2Home: sandbox.home, daemonPid, apps: [] });
});

NotStarted('the clock alone: the screen, the probe marked not started, exit 6', async ({ sandbox }) => {
  await sandbox.pm2('start', ECOSYSTEM, '--only', 'clock');
  const pid = await sandbox.onlinePid('clock');
  const run = await status(sandbox);
  assert.is(run.code, SCRIPT_EXIT.notStarted, run.stderr);
  assert.match(run.stdout, new RegExp(`^clock +online +${pid} `, 'm'));
  assert.match(run.stdout, /^probe +not started +- +- +- +-$/m);
  assert.match(run.stdout, /^probe heals +probe not started$/m);
});

NotStarted('deleted again: back to one line', async ({ sandbox }) => {
  await sandbox.pm2('delete', 'all');
  const run = await status(sandbox);
  assert.is(run.code, SCRIPT_EXIT.notStarted);
  assert.is(run.stdout.trim().split('\n').length, 1);
});

NotStarted.run();
