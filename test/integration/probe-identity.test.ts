import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { CLOCK_ENTRY, createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { checkContinuity } from '../../scripts/lib/tick-continuity.ts';
import { isAlive, waitFor } from '../../scripts/lib/wait.ts';
import { logSays, tickCount } from '../helpers/clock-log.ts';
import { asUser, canRead, NOBODY, stageReadable, type Staged } from '../helpers/other-user.ts';

type Context = { sandbox: Sandbox; lookAlikes: LookAlike[]; staged: Staged | undefined };
const probeSettings = { PROBE_PERIOD_MS: '200', PROBE_HANG_MS: '1000' };
const SLEEPER = join(PROJECT_ROOT, 'test', 'fixtures', 'sleep-forever.mjs');

const probeSays = (sandbox: Sandbox, text: string): Promise<boolean> => logSays(sandbox, 'probe', text);

/** A process that only looks like the clock, and how it ended, if it did. */
interface LookAlike {
  child: ChildProcess;
  ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  output: string;
}

/** Starts a process that only looks like the clock, with the clock's settings in its environment. */
function startLookAlike(sandbox: Sandbox, command: string, args: string[], env: NodeJS.ProcessEnv = {}): LookAlike {
  const child = spawn(command, args, { env: { ...sandbox.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd: PROJECT_ROOT });
  const lookAlike: LookAlike = { child, ended: undefined, output: '' };
  const collect = (chunk: Buffer): void => void (lookAlike.output += chunk.toString());
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.once('exit', (code, signal) => (lookAlike.ended = { code, signal }));
  return lookAlike;
}

/**
 * Every look-alike still runs. One that is gone was touched only if a signal ended it; one that
 * exited by itself (it could not run here) says so, and is never taken for the probe's doing.
 */
function assertUntouched(lookAlikes: LookAlike[]): void {
  for (const { child, ended, output } of lookAlikes) {
    if (ended?.signal) assert.unreachable(`look-alike ${child.pid} (${child.spawnargs.join(' ')}) was touched: killed by ${ended.signal}`);
    if (ended) assert.unreachable(`look-alike ${child.pid} (${child.spawnargs.join(' ')}) exited by itself with code ${ended.code}, not by a signal: ${output.trim()}`);
    assert.ok(isAlive(child.pid ?? 0), `look-alike ${child.pid} is gone`);
  }
}

/**
 * Another user's process running the clock's own command line, whose preloaded code (staged where
 * nobody can read it, wherever the checkout is) sleeps and never starts the clock. Undefined, with
 * the reason printed, where it cannot be made.
 */
async function startOtherUsersLookAlike(context: Context): Promise<LookAlike | undefined> {
  if (process.getuid?.() !== 0) return skip('it needs root to start a process as nobody');
  context.staged = await stageReadable([SLEEPER]);
  const sleeper = context.staged.path(SLEEPER);
  if (!canRead(NOBODY, sleeper)) return skip(`nobody cannot read ${sleeper}`);
  const lookAlike = startLookAlike(context.sandbox, 'setpriv', [...asUser(NOBODY), process.execPath, CLOCK_ENTRY], { NODE_OPTIONS: `--import ${sleeper}` });
  // Asleep means it loaded the preload and will never load the clock: from here a death is someone's doing.
  await waitFor('the other user\'s look-alike to be asleep', () => lookAlike.ended !== undefined || lookAlike.output.includes('ASLEEP')).catch(() => {});
  if (!lookAlike.output.includes('ASLEEP')) {
    lookAlike.child.kill('SIGKILL');
    return skip(`it did not start as nobody (${lookAlike.ended ? `exit ${lookAlike.ended.code}` : 'no word from it'}: ${lookAlike.output.trim()})`);
  }
  return lookAlike;
}

function skip(reason: string): undefined {
  console.log(`  (skipped the other-user look-alike: ${reason})`);
  return undefined;
}

// ---

const Identity = suite<Context>('probe: who counts as the clock', { lookAlikes: [] } as unknown as Context);

Identity.before(async (context) => {
  context.sandbox = await createSandbox(probeSettings);
  context.lookAlikes = [];
  context.staged = undefined;
  await context.sandbox.pm2('start', ECOSYSTEM);
});
Identity.after(async ({ sandbox, lookAlikes, staged }) => {
  for (const { child, ended } of lookAlikes) if (!ended) child.kill('SIGKILL');
  await sandbox.cleanup();
  await staged?.remove();
});

Identity('a clock started by hand on this state is terminated; look-alikes are never touched', async (context) => {
  const { sandbox } = context;
  // Same name, same file name, the clock's settings and even PM2's markers, but another program.
  const fakeEntry = join(sandbox.dir, 'elsewhere', 'dist', 'clock', 'main.js');
  await mkdir(join(fakeEntry, '..'), { recursive: true });
  await writeFile(fakeEntry, 'setInterval(() => {}, 1 << 30);\n');
  const pm2Markers = { name: 'clock', pm_id: '0', pm_exec_path: CLOCK_ENTRY };
  context.lookAlikes.push(startLookAlike(sandbox, process.execPath, [fakeEntry], pm2Markers));
  // The clock's exact entry path on its command line, as an argument to code that is not the clock.
  context.lookAlikes.push(startLookAlike(sandbox, process.execPath, ['--eval=setInterval(() => {}, 1 << 30)', CLOCK_ENTRY]));
  context.lookAlikes.push(startLookAlike(sandbox, process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)', CLOCK_ENTRY]));
  const otherUsers = await startOtherUsersLookAlike(context);
  if (otherUsers) context.lookAlikes.push(otherUsers);
  const pm2Pid = await sandbox.onlinePid('clock');
  const count = tickCount(await sandbox.outLog());
  const scans = await fullScans(sandbox);
  // A real duplicate: it waits on the state lock, which makes the probe scan the process table.
  const orphan = sandbox.spawnClock();
  await waitFor('the orphan to wait for the lock', () => orphan.output().includes('waiting for it to stop'));
  await waitFor('the probe to terminate it', () => orphan.exitCode !== null, 15_000);
  assert.is(orphan.exitCode, 0, 'it should have stopped gracefully on SIGTERM');
  assert.ok(await probeSays(sandbox, `terminating duplicate clock pid ${orphan.pid}`));
  // The probe publishes its metrics at most once a second: the scan's count may show a moment later.
  assert.ok(await waitFor('the full scan to show', async () => (await fullScans(sandbox)) > scans, 5_000).catch(() => false), 'no full scan ran');
  assertUntouched(context.lookAlikes);
  assert.is((await probeLog(sandbox)).match(/terminating duplicate/g)?.length, 1, 'only the real duplicate');
  assert.is(await sandbox.onlinePid('clock'), pm2Pid);
  const log = await waitFor('PM2\'s clock to tick on', async () => {
    const text = await sandbox.outLog();
    return tickCount(text) >= count + 4 ? text : undefined;
  });
  assert.is(checkContinuity(log).breaks, 0);
  const probe = (await sandbox.list()).find((p) => p.name === 'probe');
  assert.is(probe?.metrics['clock pid']?.value, pm2Pid);
});

Identity('a killed clock is healed even while look-alikes run', async ({ sandbox, lookAlikes }) => {
  const pid = await sandbox.onlinePid('clock');
  process.kill(pid, 'SIGKILL');
  const newPid = await sandbox.onlinePid('clock', pid);
  await waitFor('the probe to follow the new clock', () => probeSays(sandbox, `clock pid ${newPid} is healthy`));
  assertUntouched(lookAlikes);
});

Identity.run();

async function fullScans(sandbox: Sandbox): Promise<number> {
  const probe = (await sandbox.list()).find((p) => p.name === 'probe');
  return Number(probe?.metrics['full scans']?.value ?? 0);
}

async function probeLog(sandbox: Sandbox): Promise<string> {
  return (await sandbox.outLog('probe')) + (await sandbox.errLog('probe'));
}

// ---

const DaemonLoss = suite<Context>('a killed PM2 daemon', {} as Context);

DaemonLoss.before(async (context) => {
  context.sandbox = await createSandbox(probeSettings);
  await context.sandbox.pm2('start', ECOSYSTEM);
});
DaemonLoss.after(async ({ sandbox }) => sandbox.cleanup());

DaemonLoss('clock and probe leave with it; the next daemon\'s clock carries on, no tick lost', async ({ sandbox }) => {
  const oldClock = await sandbox.onlinePid('clock');
  const oldProbe = await sandbox.onlinePid('probe');
  const daemon = Number(readFileSync(join(sandbox.home, 'pm2.pid'), 'utf8'));
  await waitFor('a few ticks', async () => tickCount(await sandbox.outLog()) >= 6);
  process.kill(daemon, 'SIGKILL');
  try {
    // Nobody reads the clock's output any more: it stops rather than tick unlogged. The probe leaves too.
    await waitFor('the orphaned clock to stop', () => !isAlive(oldClock));
    await waitFor('the orphaned probe to leave', () => !isAlive(oldProbe));
    const count = tickCount(await sandbox.outLog());
    await sandbox.pm2('start', ECOSYSTEM);
    const log = await waitFor('the new clock to tick', async () => {
      const text = await sandbox.outLog();
      return tickCount(text) >= count + 4 ? text : undefined;
    });
    // The clock took back the ticks of its last second (they may have sat unread in the dead pipe):
    // the next clock replays them, announced by its resume line; at 0.2 s / 0.4 s that is up to 8.
    const continuity = checkContinuity(log, { rewinds: true });
    assert.is(continuity.breaks, 0, 'a tick was lost with the daemon');
    assert.ok(continuity.repeats <= 8, `${continuity.repeats} repeats`);
  } finally {
    for (const pid of [oldClock, oldProbe]) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
});

DaemonLoss.run();
