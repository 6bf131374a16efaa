import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { judgeContinuity } from '../../scripts/chaos/continuity-verdict.ts';
import { processesOf } from '../../scripts/chaos/leftovers.ts';
import { FAULT_KINDS, STANDBY_FAULT_KINDS, WORKER_FAULT_KINDS } from '../../scripts/chaos/plan.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { isAlive, waitFor } from '../../scripts/lib/wait.ts';
import { tickCount } from '../helpers/clock-log.ts';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run chaos` as the user would (tsx on scripts/chaos/main.ts); `whenStderr` may act on its progress. */
function runChaos(args: string[], timeoutMs: number, whenStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Finished> {
  const child = spawn(process.execPath, [join('node_modules', 'tsx', 'dist', 'cli.mjs'), join('scripts', 'chaos', 'main.ts'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, PM2_HOME: join(PROJECT_ROOT, 'no-such-pm2-home') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    whenStderr?.(stderr, child);
  });
  // Past the deadline it is interrupted like a user would, so that it still cleans up after itself.
  const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

/** The sandbox a run announced on stderr, and whether anything of it is left: processes or files. */
function leftoversOf(stderr: string): { home: string; processes: number[]; dirExists: boolean } {
  const home = /a PM2 daemon of its own in (\S+);/.exec(stderr)?.[1];
  assert.ok(home, `no sandbox announced:\n${stderr}`);
  const dir = dirname(home);
  return { home, processes: processesOf(home, join(dir, 'state')).map((proc) => proc.pid), dirExists: existsSync(dir) };
}

// ---

const Run = suite('npm run chaos: a real run, one fault of each kind');

Run('every fault recovers, the worker\'s too, no tick is lost, and nothing of it is left afterwards', async () => {
  const kinds = [...FAULT_KINDS, ...WORKER_FAULT_KINDS];
  const run = await runChaos(['--faults', String(kinds.length), '--seed', '1'], 120_000);
  assert.is(run.code, 0, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
  for (const kind of kinds) assert.match(run.stdout, new RegExp(`^${kind}\\s+1\\s+1/1\\s+\\d+ ms`, 'm'), `${kind} not reported recovered`);
  assert.match(run.stdout, /^all\s+11\s+11\/11\s/m);
  assert.match(run.stdout, /^mode: one clock \(CLOCK_STANDBY=0\)$/m);
  assert.match(run.stdout, /^beside it: the example worker \(examples\/guarded-worker\)/m);
  assert.match(run.stdout, /^the clock and the worker apart: 3 of 3 faults of the worker left the clock the same process; 7 of 7 faults of the clock and the probe left the worker so/m);
  assert.not.match(run.stdout, 'sigkill-standby');
  assert.match(run.stdout, /^one ticking clock at a time: never two at once$/m);
  assert.match(run.stdout, /^tick continuity: \d+ ticks of 2 threads over \d+ runs; no tick missing$/m);
  assert.match(run.stdout, /^ {2}1 fresh starts at run 1 after a damaged checkpoint/m);
  assert.match(run.stdout, "verdict: PASS: all 11 faults recovered; no tick lost; the worker's faults never touched the clock, nor the others the worker");
  assert.match(run.stderr, 'seed 1: npm run chaos -- --faults 11 --seed 1 repeats this run');
  const left = leftoversOf(run.stderr);
  assert.equal(left.processes, [], 'processes of its sandbox are still running');
  assert.not.ok(left.dirExists, 'its sandbox directory is still there');
});

Run('--standby: the same faults on a hot-standby pair, and a kill of the standby; every one recovered, no tick lost', async () => {
  const started = Date.now();
  // Without the worker, whose faults the plain run above has: this one is about the pair.
  const run = await runChaos(['--faults', String(STANDBY_FAULT_KINDS.length), '--seed', '3', '--standby', '--no-worker'], 90_000);
  assert.is(run.code, 0, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /^mode: hot standby \(CLOCK_STANDBY=1\)/m);
  for (const kind of STANDBY_FAULT_KINDS) assert.match(run.stdout, new RegExp(`^${kind}\\s+1\\s+1/1\\s+\\d+ ms`, 'm'), `${kind} not reported recovered`);
  assert.match(run.stdout, /^all\s+9\s+9\/9\s/m);
  assert.match(run.stdout, /^tick continuity: \d+ ticks of 2 threads over \d+ runs; no tick missing$/m);
  // sigkill-clock, sigterm-clock, hang-clock, stall-clock and damage-checkpoint each end the active: the standby takes over.
  assert.match(run.stdout, /^ {2}5 takeovers logged by the standby/m);
  assert.match(run.stdout, /^2 clock processes at a time \(the active and the standby\): at most [23] at once/m);
  assert.match(run.stdout, /^one ticking clock at a time: never two at once$/m);
  assert.match(run.stdout, 'verdict: PASS: all 9 faults recovered; no tick lost');
  assert.match(run.stderr, 'seed 3: npm run chaos -- --faults 9 --seed 3 --standby --no-worker repeats this run');
  assert.not.match(run.stdout, 'beside it: the example worker');
  const left = leftoversOf(run.stderr);
  assert.equal(left.processes, [], 'processes of its sandbox are still running');
  assert.not.ok(left.dirExists, 'its sandbox directory is still there');
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
});

Run('Ctrl-C: it stops, cleans up everything, and exits 130', async () => {
  const run = await runChaos(['--faults', '100', '--seed', '2'], 60_000, (text, child) => {
    if (/chaos: 2\/100 /.test(text) && child.exitCode === null && !child.killed) child.kill('SIGINT');
  });
  assert.is(run.code, 130, `exit ${run.code}\n${run.stderr}`);
  assert.match(run.stderr, 'chaos: interrupted; cleaning up');
  const left = leftoversOf(run.stderr);
  assert.equal(left.processes, []);
  assert.not.ok(left.dirExists);
});

Run('--help lists the faults and the exit codes; wrong usage exits 100', async () => {
  const help = await runChaos(['--help'], 20_000);
  assert.is(help.code, 0);
  for (const kind of STANDBY_FAULT_KINDS) assert.match(help.stdout, kind);
  assert.match(help.stdout, '--standby    hot-standby mode');
  assert.match(help.stdout, 'Exit codes: 0 every fault recovered');
  const wrong = await runChaos(['--faults', '0'], 20_000);
  assert.is(wrong.code, 100);
  assert.match(wrong.stderr, 'chaos: --faults "0" is not valid: expected a whole number from 1 to 1000');
});

Run.run();

// ---

type Context = { sandbox: Sandbox };
const RealLog = suite<Context>('the continuity verifier on a real PM2 log: it passes it whole, and fails it cut', {} as Context);

RealLog.before(async (context) => {
  context.sandbox = await createSandbox({ PROBE_PERIOD_MS: '200' });
  await context.sandbox.pm2('start', ECOSYSTEM);
});
RealLog.after(async ({ sandbox }) => sandbox.cleanup());

RealLog('a damaged checkpoint, for real: accounted for by its line, a loss without it or with a tick cut out', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  await waitFor('a few ticks', async () => tickCount(await sandbox.outLog()) >= 12);
  // Stopped, so that it cannot write a good checkpoint over the garbage before it dies.
  process.kill(pid, 'SIGSTOP');
  await writeFile(statePaths(sandbox.stateDir).checkpoint, 'garbage, not a checkpoint\n');
  process.kill(pid, 'SIGKILL');
  await waitFor('the old clock gone', () => !isAlive(pid));
  const before = tickCount(await sandbox.outLog());
  await waitFor('ticks after the fresh start', async () => tickCount(await sandbox.outLog()) >= before + 8, 15_000);
  const out = await sandbox.outLog();
  const err = await sandbox.errLog();
  assert.match(err, 'clock: the checkpoint was damaged (not JSON (truncated?))');

  const whole = judgeContinuity(out, err);
  assert.ok(whole.ok, whole.problems.join('; '));
  assert.is(whole.resets, 1);

  const withoutResetLine = judgeContinuity(out, '');
  assert.not.ok(withoutResetLine.ok, 'a reset with no damaged-checkpoint line passed');
  assert.match(withoutResetLine.problems.join('\n'), /came run 1 tick 1\/5/);

  const lines = out.split('\n');
  const cut = lines.findIndex((line, index) => index > 3 && line.startsWith('thread-2 run 1 tick 3/'));
  assert.ok(cut > 0);
  const gapped = judgeContinuity([...lines.slice(0, cut), ...lines.slice(cut + 1)].join('\n'), err);
  assert.not.ok(gapped.ok, 'a log with a tick cut out passed');
  assert.match(gapped.problems.join('\n'), 'thread-2: after run 1 tick 2/5 came run 1 tick 4/5');
});

RealLog.run();
