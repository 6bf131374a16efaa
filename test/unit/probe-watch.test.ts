import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ProbeWatch, WATCH_EVERY_MS, type Verdict } from '../../apps/clock/probe-watch.ts';
import { OwnPulse } from '../../apps/probe/own-pulse.ts';
import { readStat } from '../../apps/probe/proc-table.ts';
import { serializeHeartbeat } from '../../apps/shared/heartbeat.ts';
import { lookAtProbePulse, PROBE_PULSE_BYTES, serializeProbePulse, type ProbePulse } from '../../apps/shared/probe-pulse.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { isAlive, waitFor } from '../../scripts/lib/wait.ts';
import { asUser, NOBODY } from '../helpers/other-user.ts';

/**
 * The clock's watch on the probe (apps/clock/probe-watch.ts), decided on real files in a temporary
 * state directory, about real processes standing in for the probe: the watch's monotonic clock is
 * stepped by the test (WATCH_EVERY_MS a look), so no test waits for a hang limit to pass. The test
 * process stands in for the clock: its heartbeat is the one the watch counts as its own.
 */

const HANG_MS = 1_000;
const PULSE_MS = 250;
// Unchanged for longer than this, the probe is hung.
const LIMIT_MS = HANG_MS + PULSE_MS;
const self = { pid: process.pid, startTicks: readProcStat(process.pid)?.startTicks ?? null };
const linuxRoot = process.platform === 'linux' && process.getuid?.() === 0;

interface Context {
  dir: string;
  now: number;
  lines: string[];
  children: ChildProcess[];
  watch: ProbeWatch;
}

/** A sleeping node process: a probe that beats no more. */
function sleeper(context: Context, prefix: string[] = []): { pid: number; createTime: number } {
  const [command, ...args] = [...prefix, process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'];
  const child = spawn(command as string, args, { stdio: 'ignore', cwd: '/' });
  context.children.push(child);
  const pid = child.pid as number;
  const createTime = readStat(pid)?.createTime;
  assert.ok(createTime !== undefined, `no creation time for pid ${pid}`);
  return { pid, createTime };
}

function pulseOf(pid: number, createTime: number | null, monotonicMs = 1): string {
  const pulse: ProbePulse = { pid, createTime, monotonicMs, writtenAt: Date.now(), pulseMs: PULSE_MS, hangMs: HANG_MS };
  return serializeProbePulse(pulse);
}

async function writePulse(context: Context, text: string): Promise<void> {
  await writeFile(statePaths(context.dir).probePulse, text);
}

/** This "clock"'s heartbeat, as landed at the watch's `now` (or `atMs`). */
async function beatOwn(context: Context, atMs = context.now, pid = self.pid): Promise<void> {
  const heartbeat = { pid, startTicks: self.startTicks, phase: 'ticking' as const, startedAt: 0, readyAt: 0, writtenAt: Date.now(), monotonicMs: atMs, run: 1, threads: [], waiters: 0 };
  await writeFile(statePaths(context.dir).heartbeat, serializeHeartbeat(heartbeat));
}

/**
 * `looks` looks, WATCH_EVERY_MS apart on the watch's clock; before each, `before` (by default the
 * clock's own heartbeat lands, as it does every 250 ms). The verdicts, in order.
 */
async function lookOn(context: Context, looks: number, before: (index: number) => Promise<void> = () => beatOwn(context)): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  for (let index = 0; index < looks; index++) {
    context.now += WATCH_EVERY_MS;
    await before(index);
    verdicts.push(await context.watch.look());
  }
  return verdicts;
}

const looksPast = (ms: number): number => Math.ceil(ms / WATCH_EVERY_MS) + 2;

function freshContext(context: Context): void {
  context.now = 10_000;
  context.lines = [];
  context.watch = new ProbeWatch({ stateDir: context.dir, warn: (line) => context.lines.push(line), now: () => context.now, self });
}

const Watch = suite<Context>('probe watch: when the clock ends the probe', {} as Context);

Watch.before(async (context) => {
  context.children = [];
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-probe-watch-'));
});
Watch.before.each(async (context) => {
  freshContext(context);
  await rm(statePaths(context.dir).probePulse, { recursive: true, force: true });
  await beatOwn(context);
});
Watch.after(async (context) => {
  for (const child of context.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(context.dir, { recursive: true, force: true });
});

Watch('no pulse file: no probe (the clock runs without one too), nothing ended', async (context) => {
  const verdicts = await lookOn(context, looksPast(3 * LIMIT_MS));
  assert.ok(verdicts.every((v) => v === 'no probe'), verdicts.join());
  assert.equal(context.lines, []);
});

Watch('a pulse that keeps changing: beating, nothing ended, however long', async (context) => {
  const probe = sleeper(context);
  const verdicts = await lookOn(context, looksPast(3 * LIMIT_MS), async () => {
    await beatOwn(context);
    await writePulse(context, pulseOf(probe.pid, probe.createTime, context.now));
  });
  assert.ok(verdicts.every((v) => v === 'beating'), verdicts.join());
  assert.ok(isAlive(probe.pid));
  assert.equal(context.lines, []);
});

Watch('a stopped probe (SIGSTOP) unchanged past PROBE_HANG_MS + its pulse period: ended once, with one line', async (context) => {
  const probe = sleeper(context);
  process.kill(probe.pid, 'SIGSTOP');
  await writePulse(context, pulseOf(probe.pid, probe.createTime));
  const verdicts = await lookOn(context, looksPast(LIMIT_MS) + 8);
  const ended = verdicts.indexOf('ended');
  assert.ok(ended >= 0, verdicts.join());
  // The first look sees it; it is ended at the first look past the limit after that, and only once.
  assert.is(ended, Math.floor(LIMIT_MS / WATCH_EVERY_MS) + 1, verdicts.join());
  assert.ok(verdicts.slice(0, ended).every((v) => v === 'beating'), verdicts.join());
  assert.ok(verdicts.slice(ended + 1).every((v) => v === 'silent, done'), verdicts.join());
  await waitFor(`pid ${probe.pid} to die`, () => !isAlive(probe.pid), 5_000);
  assert.equal(context.lines, [`the probe pid ${probe.pid} has not beaten for 1.5 s (hung or stopped?); ended it (SIGKILL) so that PM2 starts it again`]);
});

Watch("the clock's own heartbeat not landing (a read-only or full disk): the probe's silence is not judged, and counts again only from when it lands", async (context) => {
  const probe = sleeper(context);
  await writePulse(context, pulseOf(probe.pid, probe.createTime));
  const stale = context.now;
  const unwritable = await lookOn(context, looksPast(3 * LIMIT_MS), () => beatOwn(context, stale));
  // Its last heartbeat counts for a second (it is written every 250 ms); past that, nothing is judged.
  assert.not.ok(unwritable.includes('ended'), unwritable.join());
  assert.ok(unwritable.slice(4).every((v) => v === 'not judged'), unwritable.join());
  assert.ok(isAlive(probe.pid));
  // Writable again: a whole limit is watched from here before anything is ended.
  const after = await lookOn(context, looksPast(LIMIT_MS));
  assert.is(after.indexOf('ended'), Math.floor(LIMIT_MS / WATCH_EVERY_MS), after.join());
  await waitFor(`pid ${probe.pid} to die`, () => !isAlive(probe.pid), 5_000);
});

Watch("a heartbeat that is not this clock's (a standby's view: another clock owns the state): not judged", async (context) => {
  const probe = sleeper(context);
  await writePulse(context, pulseOf(probe.pid, probe.createTime));
  const verdicts = await lookOn(context, looksPast(3 * LIMIT_MS), () => beatOwn(context, context.now, self.pid + 100_000));
  assert.ok(verdicts.every((v) => v === 'not judged'), verdicts.join());
  assert.ok(isAlive(probe.pid));
});

Watch('the clock itself held (a break between its looks): the count starts again', async (context) => {
  const probe = sleeper(context);
  await writePulse(context, pulseOf(probe.pid, probe.createTime));
  await lookOn(context, Math.floor(LIMIT_MS / WATCH_EVERY_MS) - 1);
  // Stopped for 10 s: whatever held the clock may have held the probe, which has had no time to beat since.
  context.now += 10_000;
  await beatOwn(context);
  assert.is(await context.watch.look(), 'not judged');
  const after = await lookOn(context, looksPast(LIMIT_MS));
  assert.is(after.indexOf('ended'), Math.floor(LIMIT_MS / WATCH_EVERY_MS), after.join());
});

Watch('a pid whose start time is not the one in the pulse (reused): never ended', async (context) => {
  const probe = sleeper(context);
  await writePulse(context, pulseOf(probe.pid, probe.createTime + 1));
  const verdicts = await lookOn(context, looksPast(3 * LIMIT_MS));
  assert.ok(verdicts.includes('not that process'), verdicts.join());
  assert.not.ok(verdicts.includes('ended'));
  assert.ok(isAlive(probe.pid));
  assert.equal(context.lines, []);
});

Watch('a pulse without a start time, or naming the clock itself: never ended', async (context) => {
  const probe = sleeper(context);
  await writePulse(context, pulseOf(probe.pid, null));
  const verdicts = await lookOn(context, looksPast(LIMIT_MS));
  freshContext(context);
  await writePulse(context, pulseOf(process.pid, self.startTicks));
  verdicts.push(...(await lookOn(context, looksPast(LIMIT_MS))));
  assert.ok(verdicts.includes('not that process'), verdicts.join());
  assert.not.ok(verdicts.includes('ended'));
  assert.ok(isAlive(probe.pid));
});

Watch('a dead pid in the pulse (a probe killed before it could remove it): gone, nothing said', async (context) => {
  const probe = sleeper(context);
  const child = context.children.at(-1) as ChildProcess;
  child.kill('SIGKILL');
  await new Promise((done) => child.once('exit', done));
  await writePulse(context, pulseOf(probe.pid, probe.createTime));
  const verdicts = await lookOn(context, looksPast(LIMIT_MS) + 4);
  assert.ok(verdicts.includes('gone'), verdicts.join());
  assert.is(verdicts.filter((v) => v === 'gone').length, 1, 'one try per pulse');
  assert.equal(context.lines, []);
});

Watch("another user's process, even with the pulse's pid and start time: never ended (root could)", async (context) => {
  if (!linuxRoot) return void console.log("  (skipped another user's process: running one as nobody needs root on Linux)");
  const probe = sleeper(context, ['setpriv', ...asUser(NOBODY)]);
  await waitFor('the process to run as nobody', () => readFileUid(probe.pid) === NOBODY, 5_000);
  const createTime = readStat(probe.pid)?.createTime as number;
  await writePulse(context, pulseOf(probe.pid, createTime));
  const verdicts = await lookOn(context, looksPast(LIMIT_MS));
  assert.ok(verdicts.includes("another user's"), verdicts.join());
  assert.ok(isAlive(probe.pid));
});

Watch('what is no pulse at the name (garbage, a directory, a symlink to a real pulse): nothing ended, never followed', async (context) => {
  const probe = sleeper(context);
  const path = statePaths(context.dir).probePulse;
  const outside = join(context.dir, 'outside.json');
  await writeFile(outside, pulseOf(probe.pid, probe.createTime));
  const kinds: Array<[string, () => Promise<void>]> = [
    ['garbage', () => writeFile(path, 'not a pulse {')],
    ['a directory', () => mkdir(path)],
    ['a symlink', () => symlink(outside, path)],
    ['too big', () => writeFile(path, ' '.repeat(5_000))],
  ];
  for (const [kind, make] of kinds) {
    freshContext(context);
    await rm(path, { recursive: true, force: true });
    await make();
    const verdicts = await lookOn(context, looksPast(2 * LIMIT_MS));
    assert.ok(verdicts.slice(1).every((v) => v === 'no pulse'), `${kind}: ${verdicts.join()}`);
  }
  assert.ok(isAlive(probe.pid));
  assert.equal(context.lines, []);
});

Watch.run();

function readFileUid(pid: number): number | undefined {
  try {
    const match = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

// ---

const Pulse = suite<{ dir: string; lines: string[] }>("the probe's own pulse (apps/probe/own-pulse.ts)", { dir: '', lines: [] });

Pulse.before(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-own-pulse-'));
});
Pulse.after(async ({ dir }) => rm(dir, { recursive: true, force: true }));

Pulse('written at once, then rewritten in place every pulse period, and removed at a graceful stop', async (context) => {
  const path = join(context.dir, 'probe.json');
  const pulse = new OwnPulse({ path, pid: process.pid, createTime: 42, pulseMs: 50, hangMs: HANG_MS, warn: (line) => context.lines.push(line) });
  pulse.start();
  try {
    const first = await waitFor('the first pulse', async () => {
      const look = await lookAtProbePulse(path);
      return look.kind === 'present' && look.pulse ? look : undefined;
    });
    assert.equal({ ...first.pulse, monotonicMs: 0, writtenAt: 0 }, { pid: process.pid, createTime: 42, monotonicMs: 0, writtenAt: 0, pulseMs: 50, hangMs: HANG_MS });
    const inode = (await stat(path)).ino;
    await waitFor('a later pulse', async () => (await readFile(path, 'utf8')) !== first.key);
    const later = await stat(path);
    assert.is(later.ino, inode, 'rewritten in place, not replaced');
    assert.is(later.size, PROBE_PULSE_BYTES);
    assert.is(later.mode & 0o777, 0o600);
  } finally {
    await pulse.stop();
  }
  assert.is((await lookAtProbePulse(path)).kind, 'missing', 'a stopped probe left its pulse');
  assert.equal(context.lines, []);
});

Pulse("a graceful stop leaves another probe's pulse where it is", async (context) => {
  const path = join(context.dir, 'probe.json');
  await writeFile(path, pulseOf(process.pid + 1, 7));
  await new OwnPulse({ path, pid: process.pid, createTime: 42, pulseMs: 50, hangMs: HANG_MS, warn: (line) => context.lines.push(line) }).stop();
  const look = await lookAtProbePulse(path);
  assert.is(look.kind === 'present' && look.pulse?.pid, process.pid + 1);
});

Pulse('no state directory yet (the clock makes it): nothing said; it beats once the directory is there', async (context) => {
  const dir = join(context.dir, 'later');
  const lines: string[] = [];
  const pulse = new OwnPulse({ path: join(dir, 'probe.json'), pid: process.pid, createTime: 42, pulseMs: 50, hangMs: HANG_MS, warn: (line) => lines.push(line) });
  pulse.start();
  try {
    await waitFor('a few tries', () => false, 300).catch(() => {});
    await mkdir(dir);
    await waitFor('the pulse', async () => (await lookAtProbePulse(join(dir, 'probe.json'))).kind === 'present');
  } finally {
    await pulse.stop();
  }
  assert.equal(lines, []);
});

Pulse.run();

// ---

const Full = suite<{ dir: string; mounted: boolean }>("the probe's pulse on a full or read-only disk (real tmpfs)", { dir: '', mounted: false });

Full.before((context) => {
  if (!linuxRoot) return void console.log("  (skipped the full and read-only disk tests of the probe's pulse: mounting a tmpfs needs root on Linux)");
  context.dir = mkdtempSync(join(tmpdir(), 'estatus-pulse-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', context.dir]);
  context.mounted = true;
});
Full.after(async (context) => {
  if (context.mounted) execFileSync('umount', [context.dir]);
  if (context.dir) await rm(context.dir, { recursive: true, force: true });
});

Full('full: the pulse goes on changing (in place, no new space); read-only: said once, and once more when it writes again', async (context) => {
  if (!context.mounted) return;
  const path = join(context.dir, 'probe.json');
  const lines: string[] = [];
  const pulse = new OwnPulse({ path, pid: process.pid, createTime: 42, pulseMs: 50, hangMs: HANG_MS, warn: (line) => lines.push(line) });
  pulse.start();
  try {
    await waitFor('the first pulse', async () => (await lookAtProbePulse(path)).kind === 'present');
    // Filled to the last block: dd stops at ENOSPC.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(context.dir, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {}
    const full = await writeFile(join(context.dir, 'new-file'), 'x'.repeat(8192)).then(() => 'written', (error: NodeJS.ErrnoException) => error.code);
    assert.is(full, 'ENOSPC', 'the disk is full');
    let seen = await readFile(path, 'utf8');
    for (let change = 0; change < 3; change++) {
      const before = seen;
      seen = await waitFor('the pulse to change on the full disk', async () => {
        const text = await readFile(path, 'utf8');
        return text !== before ? text : undefined;
      }, 2_000);
    }
    assert.equal(lines, [], 'a full disk was said to stop the pulse');
    execFileSync('mount', ['-o', 'remount,ro', context.dir]);
    try {
      await waitFor('the fault to be said', () => lines.length > 0, 2_000);
      await waitFor('more tries', () => false, 300).catch(() => {});
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', context.dir]);
    }
    await waitFor('the pulse to be written again', () => lines.length > 1, 2_000);
    assert.equal(lines, [
      `cannot write its pulse ${path} (EROFS); retrying every 50 ms, said once: meanwhile the clock cannot tell whether this probe hangs`,
      `writes its pulse ${path} again`,
    ]);
  } finally {
    await pulse.stop();
  }
});

Full.run();
