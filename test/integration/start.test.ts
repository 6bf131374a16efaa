import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT } from '../../apps/shared/exit-codes.ts';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { SCRIPT_EXIT } from '../../scripts/lib/cli.ts';
import { createSandbox, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { isAlive } from '../../scripts/lib/wait.ts';

type Context = { sandbox: Sandbox };
const isRoot = process.getuid?.() === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm start -- <args>`, through npm itself (package.json's line), against the sandbox's daemon. */
function npmStart(env: NodeJS.ProcessEnv, args: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    execFile('npm', ['start', '--silent', '--', ...args], { env, cwd: PROJECT_ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The lines npm start says of its own (PM2's come before them). */
function saidByStart(run: Run): string[] {
  return `${run.stdout}${run.stderr}`.split('\n').filter((line) => line.startsWith('start: '));
}

/**
 * A directory PM2 cannot write in: as root (whom permissions do not stop) a tmpfs mounted read-only,
 * the issue's own case (EROFS); otherwise one without write permission (EACCES).
 */
async function unwritableDir(parent: string): Promise<{ dir: string; errno: string; release: () => void }> {
  const dir = join(parent, 'read-only-logs');
  await mkdir(dir);
  if (!isRoot) {
    await chmod(dir, 0o555);
    return { dir, errno: 'EACCES', release: () => execFileSync('chmod', ['700', dir]) };
  }
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', dir]);
  return { dir, errno: 'EROFS', release: () => execFileSync('umount', [dir]) };
}

// ---

const Start = suite<Context>('npm start: exits non-zero when PM2 could not launch what it asked for', {} as Context);

Start.before(async (context) => {
  context.sandbox = await createSandbox();
});
Start.after(async ({ sandbox }) => sandbox.cleanup());

Start(`a LOG_DIR PM2 cannot write in: exit ${SCRIPT_EXIT.notLaunched}, one line per app naming it`, async ({ sandbox }) => {
  const place = await unwritableDir(sandbox.dir);
  try {
    const run = await npmStart({ ...sandbox.env, LOG_DIR: place.dir });
    assert.is(run.code, SCRIPT_EXIT.notLaunched, run.stdout + run.stderr);
    assert.equal(saidByStart(run), ['clock', 'probe'].map((app) =>
      `start: PM2 could not open LOG_DIR=${place.dir} for ${app}'s logs (${place.errno}): make it a writable directory, or set LOG_DIR to one`));
    assert.equal(await sandbox.list(), [], 'PM2 launched nothing');
  } finally {
    place.release();
  }
});

Start(`a clock that stops at once (a bad setting), with --only passed on: exit ${SCRIPT_EXIT.notLaunched}, its error log's line`, async ({ sandbox }) => {
  const run = await npmStart({ ...sandbox.env, CLOCK_TICKS: 'abc' }, ['--only', 'clock']);
  assert.is(run.code, SCRIPT_EXIT.notLaunched, run.stdout + run.stderr);
  assert.equal(saidByStart(run), [
    `start: clock is stopped in PM2 (exit code ${EXIT.config}): its error log says: clock: CLOCK_TICKS="abc" is not valid: expected a whole number of ticks per run from 1 to 1000000, e.g. CLOCK_TICKS=20`,
  ]);
  assert.equal((await sandbox.list()).map((app) => app.name), ['clock'], 'only the clock was asked for');
  await sandbox.pm2('delete', 'all');
});

Start('healthy: exit 0, clock and probe online', async ({ sandbox }) => {
  const run = await npmStart(sandbox.env);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.equal(saidByStart(run), ['start: clock and probe online in PM2; npx pm2 logs clock shows the output']);
  const apps = await sandbox.list();
  assert.equal(apps.map((app) => [app.name, app.status]).sort(), [['clock', 'online'], ['probe', 'online']]);
  for (const app of apps) assert.ok(isAlive(app.pid), `${app.name}'s pid ${app.pid} is alive`);
});

Start.run();
