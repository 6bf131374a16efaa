import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  backoffDelayMs,
  failuresSoFar,
  readStartRecord,
  writeStartRecord,
  type StartRecord,
} from '../../apps/clock/start-backoff.ts';

const Failures = suite('failuresSoFar');

Failures('no record, or a healthy last start, is no failure', () => {
  assert.is(failuresSoFar(undefined), 0);
  assert.is(failuresSoFar({ healthy: true, failures: 0, at: 1 }), 0);
  assert.is(failuresSoFar({ healthy: true, failures: 5, at: 1 }), 0);
});

Failures('a last start that never became healthy counts, on top of those before it', () => {
  assert.is(failuresSoFar({ healthy: false, failures: 0, at: 1 }), 1);
  assert.is(failuresSoFar({ healthy: false, failures: 4, at: 1 }), 5);
});

Failures.run();

// ---

const Delay = suite('backoffDelayMs');

Delay('0, then 1 s doubling each failure', () => {
  assert.equal([0, 1, 2, 3, 4, 5].map(backoffDelayMs), [0, 1_000, 2_000, 4_000, 8_000, 16_000]);
});

Delay('capped at 30 s', () => {
  assert.is(backoffDelayMs(6), 30_000);
  assert.is(backoffDelayMs(7), 30_000);
  assert.is(backoffDelayMs(100), 30_000);
  assert.is(backoffDelayMs(10_000), 30_000);
});

Delay('never shrinks as failures grow', () => {
  let previous = -1;
  for (let failures = 0; failures <= 50; failures += 1) {
    const delay = backoffDelayMs(failures);
    assert.ok(delay >= previous, `${failures} failures: ${delay} ms after ${previous} ms`);
    previous = delay;
  }
});

Delay.run();

// ---

const Record = suite('readStartRecord and writeStartRecord', { dir: '' });

Record.before(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-starts-'));
});

Record.after(async (context) => {
  await rm(context.dir, { recursive: true, force: true });
});

Record('a missing record is undefined', async ({ dir }) => {
  assert.is(await readStartRecord(join(dir, 'missing.json')), undefined);
});

Record('writeStartRecord round-trips, owner-only', async ({ dir }) => {
  const path = join(dir, 'starts.json');
  const record: StartRecord = { healthy: false, failures: 3, at: 1_764_000_000_000 };
  await writeStartRecord(path, record);
  assert.equal(await readStartRecord(path), record);
  assert.is((await stat(path)).mode & 0o777, 0o600);
  const next: StartRecord = { healthy: true, failures: 0, at: 1_764_000_001_000 };
  await writeStartRecord(path, next);
  assert.equal(await readStartRecord(path), next);
});

const DAMAGED: { kind: string; text: string }[] = [
  { kind: 'empty', text: '' },
  { kind: 'not JSON', text: 'healthy=yes\n' },
  { kind: 'truncated JSON', text: '{"healthy":false,"fail' },
  { kind: 'JSON null', text: 'null' },
  { kind: 'a JSON array', text: '[true,1,2]' },
  { kind: 'healthy as a string', text: '{"healthy":"yes","failures":0,"at":1}' },
  { kind: 'failures 1.5', text: '{"healthy":false,"failures":1.5,"at":1}' },
  { kind: 'no at', text: '{"healthy":false,"failures":1}' },
];

DAMAGED.forEach(({ kind, text }, index) => {
  Record(`${kind}: undefined, and the file is moved aside with its original bytes`, async ({ dir }) => {
    const caseDir = join(dir, `damage-${index}`);
    await mkdir(caseDir);
    const path = join(caseDir, 'starts.json');
    await writeFile(path, text);
    const said: string[] = [];
    assert.is(await readStartRecord(path, (line) => said.push(line)), undefined);
    const names = await readdir(caseDir);
    assert.is(names.length, 1, names.join(' '));
    const [moved] = names;
    assert.ok(moved?.startsWith('starts.json.damaged-'), String(moved));
    assert.is(await readFile(join(caseDir, moved ?? ''), 'utf8'), text);
    assert.equal(said, [`the start record was damaged (not a start record); moved it aside to ${join(caseDir, moved ?? '')}; counting no failed starts before this one`]);
    assert.is(await readStartRecord(path, (line) => said.push(line)), undefined, 'the next read finds none');
    assert.is(said.length, 1, 'and says nothing');
  });
});

Record('a directory at its name: said, moved aside whole, counts as none (no crash, no crash loop)', async ({ dir }) => {
  const caseDir = join(dir, 'directory');
  await mkdir(join(caseDir, 'starts.json'), { recursive: true });
  const said: string[] = [];
  assert.is(await readStartRecord(join(caseDir, 'starts.json'), (line) => said.push(line)), undefined);
  const [moved, ...more] = await readdir(caseDir);
  assert.equal(more, []);
  assert.ok((await stat(join(caseDir, moved ?? ''))).isDirectory());
  assert.match(said[0] ?? '', /^the start record was damaged \(not a regular file: a directory\); moved it aside to .*starts\.json\.damaged-.*; counting no failed starts before this one$/);
});

Record.run();
