import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Guard, StateFile } from '../../apps/guard/guard.ts';
import { parseGuardBeat, type GuardBeat } from '../../apps/shared/guard-contract.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

/**
 * The guard module (apps/guard) on real files in a temporary folder, on real time: beats are read
 * back as the probe reads them (parseGuardBeat), waits are for conditions with a deadline.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const IDLE_APP = join(HERE, '..', 'fixtures', 'guard-idle-app.ts');
const TSX = join(HERE, '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
const POSIX = process.platform !== 'win32';

type Context = { dir: string; guards: Guard[]; said: string[] };

function withDir(name: string) {
  const test = suite<Context>(name, { dir: '', guards: [], said: [] });
  test.before.each(async (context) => {
    context.dir = await mkdtemp(join(tmpdir(), 'estatus-guard-'));
    context.guards = [];
    context.said = [];
  });
  test.after.each(async ({ dir, guards }) => {
    for (const guard of guards) await guard.stopping();
    await rm(dir, { recursive: true, force: true });
  });
  return test;
}

function guardIn(context: Context, env: NodeJS.ProcessEnv): Guard {
  const guard = Guard.fromEnv(env, (line) => context.said.push(line));
  context.guards.push(guard);
  return guard;
}

async function readBeat(path: string): Promise<GuardBeat> {
  const parsed = parseGuardBeat(await readFile(path, 'utf8'));
  if (parsed.kind !== 'beat') throw new Error(`${path} holds no beat: ${parsed.reason}`);
  return parsed.beat;
}

/** The first beat written after the one numbered `after`. */
/**
 * A beat made after the file showed seq `after`: one write may still be in flight and one waiting
 * behind it (LatestWriter), both made before, so the beat sought is at least three on.
 */
function beatAfter(path: string, after: number, inFlight = 2, timeoutMs = 3_000): Promise<GuardBeat> {
  return waitFor(`a beat after seq ${after} in ${path}`, async () => {
    const beat = await readBeat(path);
    return beat.seq > after + inFlight ? beat : undefined;
  }, timeoutMs, 10);
}

async function rejects(run: () => Promise<unknown>, expected: RegExp, what: string): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.match(String(error), expected, what);
    return;
  }
  assert.unreachable(`${what}: expected a rejection matching ${expected}`);
}

// ---

const beats = withDir('beats');

beats('parse as the contract, grow in seq, say ready once ready, owner-only', async (context) => {
  const path = join(context.dir, 'guard', 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path });
  assert.ok(guard.guarded);
  assert.is(guard.periodMs, 250);
  const first = await beatAfter(path, 0);
  assert.is(first.pid, process.pid);
  assert.is(first.ready, false);
  assert.is(first.owedInMs, null, 'owes nothing before any promise');
  assert.is(first.progressAgoMs, null);
  const second = await beatAfter(path, first.seq);
  assert.ok(second.seq > first.seq);
  guard.ready();
  assert.ok((await waitFor('a ready beat', async () => (await readBeat(path)).ready)));
  if (POSIX) {
    assert.is((await stat(path)).mode & 0o777, 0o600);
    assert.is((await stat(dirname(path))).mode & 0o777, 0o700, 'a missing folder is made owner-only');
  }
  assert.equal(context.said, []);
});

beats('ready is written at once, not at the next period', async (context) => {
  const path = join(context.dir, 'app.json');
  const guard = new Guard(path, { periodMs: 60_000, say: (line) => context.said.push(line) });
  context.guards.push(guard);
  // A period of a minute: the only writes are the first and ready's, none in flight behind them.
  const first = await beatAfter(path, 0, 0);
  guard.ready();
  const ready = await beatAfter(path, first.seq, 0);
  assert.ok(ready.ready);
  assert.is(ready.seq, first.seq + 1);
});

beats('beat at least every GUARD_HANG_MS / 4', async (context) => {
  const path = join(context.dir, 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path, GUARD_HANG_MS: '400' });
  assert.is(guard.periodMs, 100);
  const first = await beatAfter(path, 0);
  const start = performance.now();
  await beatAfter(path, first.seq + 4);
  assert.ok(performance.now() - start < 900, `5 beats took ${Math.round(performance.now() - start)} ms at 100 ms each`);
});

beats('owedInMs goes down as time passes, and is promised again at each progress', async (context) => {
  const path = join(context.dir, 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path, GUARD_HANG_MS: '400' });
  guard.ready();
  guard.progress(5_000);
  const early = await beatAfter(path, (await beatAfter(path, 0)).seq);
  const later = await beatAfter(path, early.seq + 1);
  assert.ok(early.owedInMs !== null && later.owedInMs !== null);
  assert.ok(early.owedInMs! <= 5_000 && early.owedInMs! > 4_000, `owed in ${early.owedInMs} ms`);
  assert.ok(later.owedInMs! < early.owedInMs!, `${later.owedInMs} after ${early.owedInMs}`);
  assert.ok(later.progressAgoMs! > early.progressAgoMs!, 'progressAgoMs grows with time');
  guard.progress();
  const renewed = await beatAfter(path, later.seq);
  assert.ok(renewed.owedInMs! > later.owedInMs!, `progress() keeps the 5 s promise: ${renewed.owedInMs} after ${later.owedInMs}`);
  assert.ok(renewed.progressAgoMs! < later.progressAgoMs!, 'progressAgoMs starts again from the progress');
  guard.progress(300);
  const short = await beatAfter(path, renewed.seq);
  assert.ok(short.owedInMs! <= 300, `a new promise replaces the old: ${short.owedInMs}`);
  const overdue = await waitFor('the short promise to be overdue in a beat', async () => {
    const beat = await readBeat(path);
    return beat.owedInMs !== null && beat.owedInMs < 0 ? beat : undefined;
  });
  assert.ok(overdue.owedInMs! < 0, 'overdue progress is a negative owedInMs');
});

beats('idle owes nothing; owe() owes again without counting as progress', async (context) => {
  const path = join(context.dir, 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path, GUARD_HANG_MS: '400' });
  guard.ready();
  guard.progress(1_000);
  guard.idle();
  const idle = await beatAfter(path, (await beatAfter(path, 0)).seq);
  assert.is(idle.owedInMs, null);
  assert.ok(idle.progressAgoMs !== null, 'the last progress is still reported');
  guard.owe(2_000);
  const owing = await beatAfter(path, idle.seq);
  assert.ok(owing.owedInMs! > 1_500 && owing.owedInMs! <= 2_000, `owed in ${owing.owedInMs}`);
  assert.ok(owing.progressAgoMs! >= idle.progressAgoMs!, 'owe() is no progress');
  guard.idle();
  guard.progress();
  const afterIdle = await beatAfter(path, owing.seq);
  assert.ok(afterIdle.owedInMs! > 1_500 && afterIdle.owedInMs! <= 2_000, 'progress() after idle keeps the last promise');
  assert.throws(() => guard.progress(-1), /expected the progress owed within a number of ms from 0, got -1/);
  assert.throws(() => guard.owe(Number.NaN), /got NaN/);
});

beats('holds are written with how long they have lasted, and go when released', async (context) => {
  const path = join(context.dir, 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path, GUARD_HANG_MS: '400' });
  guard.hold('state', 'ENOSPC');
  const held = await beatAfter(path, (await beatAfter(path, 0)).seq);
  assert.equal(held.held?.map(({ on, why }) => ({ on, why })), [{ on: 'state', why: 'ENOSPC' }]);
  guard.hold('state', 'EROFS');
  const later = await beatAfter(path, held.seq + 1);
  assert.is(later.held?.[0]?.why, 'EROFS');
  assert.ok(later.held![0]!.forMs > held.held![0]!.forMs, 'a new reason keeps the hold\'s start');
  guard.release('state');
  const free = await beatAfter(path, later.seq);
  assert.is(free.held, undefined);
});

beats('describe(): the app\'s own fields beside the contract\'s, never over them', async (context) => {
  const path = join(context.dir, 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path, GUARD_HANG_MS: '400' });
  let jobs = 0;
  guard.describe(() => ({ jobs: ++jobs, pid: 1, ready: 'yes' }));
  const raw = await waitFor('a beat with the fields asked twice', async () => {
    const value = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    return value.jobs === 2 ? value : undefined;
  });
  assert.is(raw.pid, process.pid, 'a contract field is never replaced');
  assert.is(raw.ready, false);
  assert.is(parseGuardBeat(JSON.stringify(raw)).kind, 'beat');
});

beats('stopping() removes its own beat, never another process\'s, and writes no more', async (context) => {
  const path = join(context.dir, 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path, GUARD_HANG_MS: '400' });
  await beatAfter(path, 0);
  await guard.stopping();
  await rejects(() => lstat(path), /ENOENT/, 'removed');
  guard.ready();
  guard.progress(100);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await rejects(() => lstat(path), /ENOENT/, 'nothing written after stopping');

  const other = join(context.dir, 'other.json');
  const second = guardIn(context, { GUARD_HEARTBEAT: other });
  await beatAfter(other, 0);
  const successor = `${JSON.stringify({ guard: 1, pid: process.pid + 1, seq: 1, ready: false, owedInMs: null })}\n`;
  await second.stopping().then(() => writeFile(other, successor));
  await second.stopping();
  assert.is(await readFile(other, 'utf8'), successor, 'a beat of another pid is left where it is');
});

beats('a folder that cannot take the beat is said once, never thrown, and its end said once', async (context) => {
  const blocker = join(context.dir, 'not-a-folder');
  await writeFile(blocker, 'a file where the folder should be');
  const path = join(blocker, 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path, GUARD_HANG_MS: '400' });
  guard.ready();
  guard.progress(1_000);
  await waitFor('the fault to be said', () => context.said.length > 0);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.is(context.said.length, 1, `said once over 5 beats: ${context.said.join(' | ')}`);
  assert.match(context.said[0]!, /^guard: cannot write its beat .*not-a-folder\/app\.json \(ENOTDIR\); trying again every 100 ms/);
  await rm(blocker);
  const back = await beatAfter(path, 0);
  assert.ok(back.ready, 'the beat carries on where it was');
  await waitFor('its end to be said', () => context.said.length === 2);
  assert.match(context.said[1]!, /^guard: writes its beat .*app\.json again$/);
});

beats('a directory at the beat\'s name: said, not thrown', async (context) => {
  const path = join(context.dir, 'app.json');
  await mkdir(path);
  guardIn(context, { GUARD_HEARTBEAT: path });
  await waitFor('the fault to be said', () => context.said.length > 0);
  assert.match(context.said[0]!, /cannot write its beat .*\((EISDIR|ENOTEMPTY|EPERM)\)/);
});

// ---

const env = withDir('settings from the env');

env('no GUARD_HEARTBEAT: a guard that writes nothing, every call harmless', async (context) => {
  const guard = guardIn(context, {});
  assert.is(guard.guarded, false);
  assert.is(guard.heartbeat, undefined);
  guard.ready();
  guard.progress(10);
  guard.owe(10);
  guard.idle();
  guard.hold('state', 'x');
  guard.release('state');
  await guard.stopping();
  assert.equal(context.said, []);
  assert.is(guardIn(context, { GUARD_HEARTBEAT: '  ' }).guarded, false, 'blank is absent');
});

env('a relative GUARD_HEARTBEAT: said in one line, unguarded', async (context) => {
  const guard = guardIn(context, { GUARD_HEARTBEAT: 'state/app.json', name: 'worker' });
  assert.is(guard.guarded, false);
  assert.is(context.said.length, 1);
  assert.match(context.said[0]!, /^app worker: GUARD_HEARTBEAT="state\/app\.json" is not valid: expected an absolute path/);
});

env('a bad GUARD_HANG_MS: said in one line naming the app, and the beat goes on at 250 ms', async (context) => {
  const path = join(context.dir, 'app.json');
  const guard = guardIn(context, { GUARD_HEARTBEAT: path, GUARD_HANG_MS: '3s', name: 'worker' });
  assert.ok(guard.guarded);
  assert.is(guard.periodMs, 250);
  assert.match(context.said[0]!, /^app worker: GUARD_HANG_MS="3s" is not valid: expected whole milliseconds from 200 to 3600000/);
  assert.is((await beatAfter(path, 0)).pid, process.pid);
});

env('the beat never keeps a process alive: an app that is done exits', async (context) => {
  const path = join(context.dir, 'app.json');
  const child = spawn(process.execPath, [TSX, IDLE_APP], { env: { ...process.env, GUARD_HEARTBEAT: path }, stdio: 'pipe' });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.is(code, 0, output);
  const beat = await readBeat(path);
  assert.ok(beat.ready, 'it beat before it was done');
  assert.ok(beat.pid !== process.pid);
});

// ---

const state = withDir('state file');

type Memory = { version: 1; count: number };
const MEMORY_CAP = 1024;

function parseMemory(text: string): Memory {
  const value = JSON.parse(text) as Partial<Memory>;
  if (value.version !== 1 || typeof value.count !== 'number') throw new Error('no version 1 count');
  return { version: 1, count: value.count };
}

function memoryFile(context: Context, path: string): StateFile<Memory> {
  return new StateFile<Memory>(path, { parse: parseMemory, capBytes: MEMORY_CAP, say: (line) => context.said.push(line) });
}

state('round-trips, owner-only, its missing folder made owner-only', async (context) => {
  const path = join(context.dir, 'deep', 'memory.json');
  const file = memoryFile(context, path);
  assert.equal(await file.read(), { kind: 'none' });
  await file.write({ version: 1, count: 7 });
  assert.equal(await file.read(), { kind: 'loaded', value: { version: 1, count: 7 } });
  await file.write({ version: 1, count: 8 });
  assert.equal(await file.read(), { kind: 'loaded', value: { version: 1, count: 8 } });
  if (POSIX) {
    assert.is((await stat(path)).mode & 0o777, 0o600);
    assert.is((await stat(dirname(path))).mode & 0o777, 0o700);
  }
  assert.equal(await readdir(dirname(path)), ['memory.json'], 'no temp file left');
  assert.equal(context.said, []);
});

state('a custom serialize is used and read back', async (context) => {
  const path = join(context.dir, 'memory.txt');
  const file = new StateFile<number>(path, {
    parse: (text) => {
      if (!/^\d+\n$/.test(text)) throw new Error('not a count');
      return Number(text);
    },
    serialize: (value) => `${value}\n`,
    capBytes: 16,
    say: (line) => context.said.push(line),
  });
  await file.write(42);
  assert.is(await readFile(path, 'utf8'), '42\n');
  assert.equal(await file.read(), { kind: 'loaded', value: 42 });
});

const DAMAGE: { kind: string; make(path: string, dir: string): Promise<void>; reason: RegExp; check?(movedTo: string, dir: string): Promise<void> }[] = [
  { kind: 'not JSON', make: (path) => writeFile(path, '{"version":1,"cou'), reason: /JSON/ },
  { kind: 'what parse refuses', make: (path) => writeFile(path, '{"version":2}'), reason: /^no version 1 count$/ },
  { kind: 'larger than its cap', make: (path) => writeFile(path, `{"version":1,"count":1,"pad":"${'x'.repeat(MEMORY_CAP)}"}`), reason: /more than the 1 KB it can be/ },
  {
    kind: 'a symlink to a good file',
    make: async (path, dir) => {
      await writeFile(join(dir, 'elsewhere.json'), '{"version":1,"count":99}');
      await symlink(join(dir, 'elsewhere.json'), path);
    },
    reason: /symbolic link, which is not followed/,
    check: async (movedTo, dir) => {
      assert.is(await readlink(movedTo), join(dir, 'elsewhere.json'), 'the link itself was moved');
      assert.is(await readFile(join(dir, 'elsewhere.json'), 'utf8'), '{"version":1,"count":99}', 'its target untouched');
    },
  },
];

for (const damage of DAMAGE) {
  state(`damaged (${damage.kind}): moved aside, said, counted as none`, async (context) => {
    if (damage.kind.startsWith('a symlink') && !POSIX) return;
    const path = join(context.dir, 'memory.json');
    await damage.make(path, context.dir);
    const file = memoryFile(context, path);
    const read = await file.read();
    if (read.kind !== 'damaged') throw new Error(`expected damaged, got ${JSON.stringify(read)}`);
    assert.match(read.reason, damage.reason);
    assert.ok(read.movedTo.startsWith(`${path}.damaged-`), read.movedTo);
    await lstat(read.movedTo);
    await damage.check?.(read.movedTo, context.dir);
    assert.is(context.said.length, 1);
    assert.match(context.said[0]!, new RegExp(`^the state file .*memory\\.json was damaged \\(.+\\); moved it aside to .*memory\\.json\\.damaged-.*; starting without it$`));
    assert.equal(await file.read(), { kind: 'none' }, 'nothing left at the name');
    await file.write({ version: 1, count: 1 });
    assert.equal(await file.read(), { kind: 'loaded', value: { version: 1, count: 1 } });
  });
}

state('a write the disk refuses rejects with its code: the app decides', async (context) => {
  const blocker = join(context.dir, 'file');
  await writeFile(blocker, '');
  const file = memoryFile(context, join(blocker, 'memory.json'));
  await rejects(() => file.write({ version: 1, count: 1 }), /ENOTDIR/, 'the write rejects');
});

beats.run();
env.run();
state.run();
