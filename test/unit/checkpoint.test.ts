import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CHECKPOINT_VERSION,
  CheckpointDamage,
  loadCheckpoint,
  parseCheckpoint,
  saveCheckpoint,
  serializeCheckpoint,
  type Checkpoint,
} from '../../apps/clock/checkpoint.ts';

const WRITER = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'checkpoint-writer.ts');

const VALID: Checkpoint = {
  version: CHECKPOINT_VERSION,
  run: 3,
  runStartedAt: 1_764_000_000_000,
  threads: [
    { name: 'thread-1', tick: 7, at: 1_764_000_014_000 },
    { name: 'thread-2', tick: 0, at: null },
  ],
};

/** VALID serialized with some of its fields replaced (undefined drops a field). */
function variant(changes: Record<string, unknown>): string {
  return JSON.stringify({ ...VALID, ...changes });
}

/** VALID serialized with thread 1's fields replaced. */
function threadVariant(changes: Record<string, unknown>): string {
  return variant({ threads: [{ ...VALID.threads[0], ...changes }, VALID.threads[1]] });
}

const whole = serializeCheckpoint(VALID);

/** Every kind of damage parseCheckpoint must refuse, and words its reason must hold. */
const DAMAGED: { kind: string; text: string; reason: RegExp }[] = [
  { kind: 'empty file', text: '', reason: /empty/ },
  { kind: 'only whitespace', text: ' \n', reason: /empty/ },
  { kind: 'truncated JSON', text: whole.slice(0, Math.floor(whole.length / 2)), reason: /JSON/ },
  { kind: 'not JSON', text: 'run=3 tick=7\n', reason: /JSON/ },
  { kind: 'a JSON array', text: JSON.stringify([VALID]), reason: /object/ },
  { kind: 'JSON null', text: 'null', reason: /object/ },
  { kind: 'run as a string', text: variant({ run: '3' }), reason: /run/ },
  { kind: 'run 0', text: variant({ run: 0 }), reason: /run/ },
  { kind: 'run 1.5', text: variant({ run: 1.5 }), reason: /run/ },
  { kind: 'no runStartedAt', text: variant({ runStartedAt: undefined }), reason: /runStartedAt/ },
  { kind: 'tick -1', text: threadVariant({ tick: -1 }), reason: /thread 1/ },
  { kind: 'tick 1.5', text: threadVariant({ tick: 1.5 }), reason: /thread 1/ },
  { kind: 'tick as a string', text: threadVariant({ tick: '7' }), reason: /thread 1/ },
  { kind: 'a thread with no name', text: threadVariant({ name: undefined }), reason: /thread 1/ },
  { kind: 'at null with tick > 0', text: threadVariant({ at: null }), reason: /thread 1/ },
  { kind: 'at as a string', text: threadVariant({ at: 'yesterday' }), reason: /thread 1/ },
  { kind: 'missing threads', text: variant({ threads: undefined }), reason: /threads/ },
  { kind: 'empty threads', text: variant({ threads: [] }), reason: /threads/ },
  { kind: 'threads as an object', text: variant({ threads: { 0: VALID.threads[0] } }), reason: /threads/ },
  { kind: 'version 0', text: variant({ version: 0 }), reason: /version/ },
  { kind: 'no version', text: variant({ version: undefined }), reason: /version/ },
  { kind: 'a newer version 2', text: variant({ version: 2 }), reason: /newer/ },
];

/** Runs `fn`, which must throw CheckpointDamage, and returns it. */
function damage(fn: () => unknown): CheckpointDamage {
  try {
    fn();
  } catch (error) {
    assert.instance(error, CheckpointDamage);
    return error as CheckpointDamage;
  }
  assert.unreachable('expected CheckpointDamage');
  throw new Error('unreachable');
}

const Parse = suite('parseCheckpoint');

Parse('accepts a valid checkpoint, as serialized', () => {
  assert.ok(whole.endsWith('\n'));
  assert.equal(parseCheckpoint(whole), VALID);
});

Parse('accepts one with no ticks yet, and drops fields it does not know', () => {
  const fresh = { ...VALID, threads: [{ name: 'thread-1', tick: 0, at: null }], extra: true };
  assert.equal(parseCheckpoint(JSON.stringify(fresh)), { ...VALID, threads: [{ name: 'thread-1', tick: 0, at: null }] });
});

for (const { kind, text, reason } of DAMAGED) {
  Parse(`refuses ${kind}`, () => {
    const error = damage(() => parseCheckpoint(text));
    assert.is(error.name, 'CheckpointDamage');
    assert.is(error.message, error.reason);
    assert.match(error.reason, reason);
  });
}

Parse('a newer version says so and names both versions', () => {
  const error = damage(() => parseCheckpoint(variant({ version: 2 })));
  assert.match(error.reason, /newer/);
  assert.match(error.reason, /2/);
  assert.match(error.reason, new RegExp(String(CHECKPOINT_VERSION)));
});

Parse.run();

// ---

const Load = suite('loadCheckpoint and saveCheckpoint', { dir: '' });

Load.before(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-checkpoint-'));
});

Load.after(async (context) => {
  await rm(context.dir, { recursive: true, force: true });
});

Load('a missing file is none', async ({ dir }) => {
  assert.equal(await loadCheckpoint(join(dir, 'missing.json')), { kind: 'none' });
});

Load('a valid file is loaded and left where it is', async ({ dir }) => {
  const path = join(dir, 'valid.json');
  await writeFile(path, whole);
  assert.equal(await loadCheckpoint(path), { kind: 'loaded', checkpoint: VALID });
  assert.is(await readFile(path, 'utf8'), whole);
});

const damagedFiles: { kind: string; bytes: Buffer }[] = [
  ...DAMAGED.map(({ kind, text }) => ({ kind, bytes: Buffer.from(text) })),
  { kind: 'binary garbage', bytes: Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x0a]) },
];

damagedFiles.forEach(({ kind, bytes }, index) => {
  Load(`${kind}: damaged, moved aside with its exact bytes, never deleted`, async ({ dir }) => {
    // One directory per case, so that each moved-aside name is checked on its own.
    const caseDir = join(dir, `damage-${index}`);
    await mkdir(caseDir);
    const path = join(caseDir, 'checkpoint.json');
    await writeFile(path, bytes);
    const now = new Date(Date.UTC(2026, 10, 27, 2, 15, 59, 4));
    const result = await loadCheckpoint(path, now);
    if (result.kind !== 'damaged') {
      assert.unreachable(`expected damaged, got ${JSON.stringify(result)}`);
      return;
    }
    assert.type(result.reason, 'string');
    assert.ok(result.reason.length > 0);
    assert.is(dirname(result.movedTo), caseDir);
    assert.ok(basename(result.movedTo).includes('.damaged-'), result.movedTo);
    assert.ok(basename(result.movedTo).startsWith('checkpoint.json.damaged-'), result.movedTo);
    assert.ok(result.movedTo.includes('2026-11-27'), result.movedTo);
    assert.equal(await readdir(caseDir), [basename(result.movedTo)], 'the original path is free');
    const kept = await readFile(result.movedTo);
    assert.ok(kept.equals(bytes), 'the moved file holds the original bytes');
    assert.equal(await loadCheckpoint(path), { kind: 'none' }, 'the next load starts afresh');
  });
});

Load('saveCheckpoint writes an owner-only file that loads back equal, and leaves no temp file', async ({ dir }) => {
  const caseDir = join(dir, 'save');
  await mkdir(caseDir);
  const path = join(caseDir, 'checkpoint.json');
  await saveCheckpoint(path, VALID);
  assert.is((await stat(path)).mode & 0o777, 0o600);
  assert.is(await readFile(path, 'utf8'), whole);
  assert.equal(await loadCheckpoint(path), { kind: 'loaded', checkpoint: VALID });
  assert.equal(await readdir(caseDir), ['checkpoint.json']);
});

Load('saveCheckpoint replaces a world-readable file with an owner-only one', async ({ dir }) => {
  const caseDir = join(dir, 'replace');
  await mkdir(caseDir);
  const path = join(caseDir, 'checkpoint.json');
  await writeFile(path, 'old', { mode: 0o644 });
  const next = { ...VALID, run: 4 };
  await saveCheckpoint(path, next);
  assert.is((await stat(path)).mode & 0o777, 0o600);
  assert.equal(await loadCheckpoint(path), { kind: 'loaded', checkpoint: next });
});

Load.run();

// ---

const Kill = suite('a kill in the middle of a write', { dir: '', children: new Set<ChildProcess>() });

const ITERATIONS = 15;
const READY_DEADLINE_MS = 10_000;
const EXIT_DEADLINE_MS = 5_000;

/** Resolves once the child prints READY; rejects if it exits first or the deadline passes. */
function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    let errors = '';
    const timer = setTimeout(() => finish(new Error(`no READY within ${READY_DEADLINE_MS} ms: ${output}${errors}`)), READY_DEADLINE_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('READY\n')) finish();
    };
    const onError = (chunk: Buffer) => {
      errors += chunk.toString();
    };
    const onExit = (code: number | null, signal: string | null) =>
      finish(new Error(`the writer exited (code ${code}, signal ${signal}) before READY: ${errors}`));
    function finish(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onError);
    child.on('exit', onExit);
  });
}

/** Resolves with the signal that ended the child; rejects if it is still running at the deadline. */
function waitForExit(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} still running after SIGKILL`)), EXIT_DEADLINE_MS);
    child.once('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    });
  });
}

function killChild(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

Kill.before(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-kill-'));
});

Kill.after(async (context) => {
  for (const child of context.children) killChild(child);
  await Promise.all([...context.children].map((child) => waitForExit(child).catch(() => null)));
  await rm(context.dir, { recursive: true, force: true });
});

Kill(`SIGKILL at a random moment ${ITERATIONS} times: always loaded, never damaged, the run never goes back`, async (context) => {
  const path = join(context.dir, 'checkpoint.json');
  let lastRun = 0;
  for (let iteration = 1; iteration <= ITERATIONS; iteration += 1) {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, context.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    context.children.add(child);
    try {
      await waitForReady(child);
      // The point of the test: let it write for a random while, so the kill lands anywhere in a write.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
      assert.ok(child.pid !== undefined && process.kill(child.pid, 'SIGKILL'));
      assert.is(await waitForExit(child), 'SIGKILL', `iteration ${iteration}: the writer died of the kill`);
    } finally {
      killChild(child);
    }
    context.children.delete(child);

    const result = await loadCheckpoint(path);
    if (result.kind !== 'loaded') {
      assert.unreachable(`iteration ${iteration}: expected loaded, got ${JSON.stringify(result)}`);
      return;
    }
    const { run } = result.checkpoint;
    assert.ok(run > lastRun, `iteration ${iteration}: run ${run} after run ${lastRun}`);
    assert.is(result.checkpoint.threads.length, 200);
    lastRun = run;
  }
  const names = await readdir(context.dir);
  assert.not.ok(names.some((name) => name.includes('.damaged-')), `nothing moved aside: ${names.join(' ')}`);
});

Kill.run();

// ---

const Resumes = suite('the resume count');

Resumes('is kept when present and must be a whole number', () => {
  const base = { version: 1, run: 2, runStartedAt: 1_764_000_000_000, threads: [{ name: 'thread-1', tick: 0, at: null }] };
  assert.is(parseCheckpoint(JSON.stringify({ ...base, resumes: 4 })).resumes, 4);
  assert.is(parseCheckpoint(JSON.stringify(base)).resumes, undefined);
  assert.throws(() => parseCheckpoint(JSON.stringify({ ...base, resumes: -1 })), (error: unknown) => error instanceof CheckpointDamage);
  assert.throws(() => parseCheckpoint(JSON.stringify({ ...base, resumes: 'x' })), (error: unknown) => error instanceof CheckpointDamage);
});

Resumes.run();
