import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chown, mkdir, readFile, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { bootTarget, detectInitSystem, systemdIsRunning } from '../../scripts/boot/init-system.ts';
import { pm2OrFail } from '../../scripts/lib/pm2-cli.ts';
import { createSandbox, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { tickTimeMs } from '../../scripts/lib/tick-continuity.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { ticksOf } from '../helpers/clock-log.ts';
import { asUser, canRead, NOBODY, stageReadable } from '../helpers/other-user.ts';

type Context = { sandbox: Sandbox };
const init = process.platform === 'darwin' ? 'launchd' : detectInitSystem();
const isRoot = process.getuid?.() === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the operator scripts, as `npm run <name>` does, optionally as another user (`setpriv`),
 * from the project at `root` (this checkout, or a copy that other user can read).
 */
function script(name: string, args: string[], env: NodeJS.ProcessEnv, asUid?: number, root = PROJECT_ROOT): Promise<Run> {
  const command = [process.execPath, tsxOf(root), join(root, 'scripts', 'boot', `${name}.ts`), ...args];
  const [file, ...rest] = asUid === undefined ? command : ['setpriv', ...asUser(asUid), ...command];
  return new Promise((resolve) => {
    execFile(file ?? '', rest, { env, cwd: root, timeout: 240_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function tsxOf(root: string): string {
  return join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
}

/** Every path under /etc/systemd/system, to prove a test left it exactly as it found it. */
function systemdTree(dir = '/etc/systemd/system'): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((path) => join(dir, path)).sort();
}

// ---

const Boot = suite<Context>('npm run startup / unstartup', {} as Context);

Boot.before(async (context) => {
  context.sandbox = await createSandbox({ PROBE_PERIOD_MS: '200' });
});
Boot.after(async ({ sandbox }) => sandbox.cleanup());

Boot('--dry-run shows the unit and the commands, and changes nothing', async ({ sandbox }) => {
  if (!init) return console.log('  (skipped: no init system that pm2 startup supports on this machine)');
  const { username } = userInfo();
  const name = `estatus-test-dry-${process.pid}`;
  const before = systemdTree();
  const run = await script('startup', ['--dry-run', '--service-name', name], sandbox.env);
  assert.is(run.code, 0, run.stderr);
  const target = bootTarget(init, username, userInfo().homedir, sandbox.home, name);
  assert.ok(run.stdout.includes(`writes ${target.unitPath}`), run.stdout);
  assert.ok(run.stdout.includes(sandbox.home), 'the unit uses this PM2_HOME');
  assert.ok(run.stdout.includes(' resurrect'), 'the unit resurrects the saved list');
  if (init === 'systemd') assert.match(run.stdout, new RegExp(`^ +User=${username}$`, 'm'));
  assert.ok(run.stdout.includes(`startup ${init} -u ${username} --service-name ${name}`));
  assert.not.ok(existsSync(target.unitPath));
  assert.not.ok(existsSync(join(sandbox.home, 'pm2.pid')), 'a PM2 daemon was started');
  assert.equal(systemdTree(), before);
});

Boot('without root: the exact privileged command, exit 3, nothing changed', async ({ sandbox }) => {
  if (!init || init === 'launchd') return console.log(`  (skipped: ${init ? 'launchd needs no root' : 'no init system'})`);
  // As root, the run is made as nobody; otherwise as this (unprivileged) user. Nobody may not be able
  // to read this checkout (a clone under a 0700 folder): it runs a copy it can read, in a home there.
  const staged = isRoot ? await stageProjectForNobody() : undefined;
  if (isRoot && !staged) return console.log('  (skipped: nobody cannot read a copy of the project in the temporary directory either)');
  try {
    const home = join(staged?.dir ?? sandbox.dir, 'nobody-home');
    const pm2Home = join(home, '.pm2');
    await mkdir(pm2Home, { recursive: true });
    if (isRoot) {
      await chown(home, NOBODY, NOBODY);
      await chown(pm2Home, NOBODY, NOBODY);
    }
    const user = isRoot ? 'nobody' : userInfo().username;
    const before = systemdTree();
    const env = { ...sandbox.env, HOME: home, PM2_HOME: pm2Home, USER: undefined, LOGNAME: undefined };
    const run = await script('startup', [], env, isRoot ? NOBODY : undefined, staged?.path(PROJECT_ROOT));
    assert.is(run.code, 3, run.stdout + run.stderr);
    assert.match(run.stdout, /registering at boot needs root, and nothing has been changed; run:/);
    assert.ok(run.stdout.includes(`sudo env PATH=`), run.stdout);
    assert.ok(run.stdout.includes(`PM2_HOME=${pm2Home} USER=${user} LOGNAME=${user}`), run.stdout);
    assert.ok(run.stdout.includes(`startup ${init} -u ${user} --service-name estatus-${user}`), run.stdout);
    assert.not.ok(existsSync(join(pm2Home, 'pm2.pid')), 'it started a PM2 daemon before asking for root');
    assert.equal(systemdTree(), before);
  } finally {
    await staged?.remove();
  }
});

/** A copy of the project (no git, state or logs) that nobody can read, or undefined if even that cannot be. */
async function stageProjectForNobody() {
  const leftOut = new Set(['.git', 'state', 'logs'].map((name) => join(PROJECT_ROOT, name)));
  const staged = await stageReadable([PROJECT_ROOT], (source) => !leftOut.has(source));
  if (canRead(NOBODY, tsxOf(staged.path(PROJECT_ROOT)))) return staged;
  await staged.remove();
  return undefined;
}

Boot('as root where systemd is not PID 1: register for real, check the unit, unregister', async ({ sandbox }) => {
  if (!isRoot || init !== 'systemd' || systemdIsRunning()) {
    return console.log('  (skipped: needs root on a machine where systemd is installed but not running; a live init system is never changed by a test)');
  }
  const name = `estatus-test-${process.pid}`;
  const target = bootTarget('systemd', userInfo().username, userInfo().homedir, sandbox.home, name);
  const before = systemdTree();
  try {
    const run = await script('startup', ['--service-name', name], sandbox.env);
    assert.is(run.code, 0, run.stdout + run.stderr);
    const unit = await readFile(target.unitPath, 'utf8');
    assert.match(unit, new RegExp(`^User=${userInfo().username}$`, 'm'));
    assert.match(unit, new RegExp(`^Environment=PM2_HOME=${sandbox.home}$`, 'm'));
    assert.match(unit, /^ExecStart=\S+\/pm2 resurrect$/m);
    assert.ok(existsSync(target.enableLink ?? ''), 'not enabled');
    const verify = await new Promise<number>((resolve) =>
      execFile('systemd-analyze', ['verify', target.unitPath], (error) => resolve(error ? Number(error.code ?? 1) : 0)),
    );
    assert.is(verify, 0, 'systemd-analyze verify');
    // The saved list holds the apps' environment: owner-only.
    const dump = join(sandbox.home, 'dump.pm2');
    assert.is(statSync(dump).mode & 0o777, 0o600);
    assert.is(statSync(sandbox.home).mode & 0o777, 0o700);
    const saved = (JSON.parse(await readFile(dump, 'utf8')) as { name: string }[]).map((app) => app.name);
    assert.ok(saved.includes('clock') && saved.includes('probe'), `saved: ${saved.join(', ')}`);

    const again = await script('startup', ['--service-name', name], sandbox.env);
    assert.is(again.code, 0, 'a second run is a no-op that checks');
    assert.match(again.stdout, /already registered/);

    const undo = await script('unstartup', ['--service-name', name], sandbox.env);
    assert.is(undo.code, 0, undo.stdout + undo.stderr);
    assert.not.ok(existsSync(target.unitPath));
    assert.equal(systemdTree(), before, '/etc/systemd/system is exactly as before');
  } finally {
    for (const path of [target.unitPath, target.enableLink ?? '']) if (path) await rm(path, { force: true });
  }
});

Boot.run();

// ---

const Rotation = suite<Context>('log rotation (pm2-logrotate)', {} as Context);

Rotation.before(async (context) => {
  context.sandbox = await createSandbox({ LOG_MAX_SIZE: '2K', LOG_CHECK_SECONDS: '1', LOG_RETAIN: '3' });
  await pm2OrFail(context.sandbox.env, ['start', join(PROJECT_ROOT, 'ecosystem.config.js'), '--only', 'clock']);
});
Rotation.after(async ({ sandbox }) => sandbox.cleanup());

Rotation('with a tiny size limit the clock log is rotated, and the ticks go on', async ({ sandbox }) => {
  const run = await script('logrotate', [], sandbox.env);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const rotated = await waitFor('a rotated clock log', () => {
    const files = readdirSync(sandbox.logDir).filter((name) => /^clock\.out__.+\.log$/.test(name));
    return files.length > 0 ? files : undefined;
  }, 30_000);
  assert.ok(rotated.length >= 1);
  // Counted by their own times, in every file: at 2K the log is rotated again every few seconds, and a
  // count of the current file alone starts from zero each time (CI once waited out such a race).
  const since = Date.now();
  await waitFor('ticks after the rotation', async () => {
    const files = readdirSync(sandbox.logDir).filter((name) => /^clock\.out(__.+)?\.log$/.test(name));
    const texts = await Promise.all(files.map((name) => readFile(join(sandbox.logDir, name), 'utf8').catch(() => '')));
    return ticksOf(texts.join('\n')).filter((tick) => tickTimeMs(tick) > since).length >= 3;
  });
  const { stdout } = await pm2OrFail(sandbox.env, ['logs', 'clock', '--raw', '--nostream', '--lines', '5']);
  assert.ok(ticksOf(stdout).length > 0, `pm2 logs clock shows no ticks:\n${stdout}`);
});

Rotation.run();
