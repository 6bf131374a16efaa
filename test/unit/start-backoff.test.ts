import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../../scripts/lib/wait.ts';
import {
  backoffDelayMs,
  failuresSoFar,
  readStartRecord,
  START_RECORD_BYTES,
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

Failures('a start that died while still waiting out its back-off is not counted again: it never tried', () => {
  assert.is(failuresSoFar({ healthy: false, failures: 3, at: 1, waiting: true }), 3);
  assert.is(failuresSoFar({ healthy: false, failures: 3, at: 1, waiting: false }), 4, 'its wait was over: it tried, and failed');
  assert.is(failuresSoFar({ healthy: true, failures: 0, at: 1, waiting: true }), 0);
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

Record('writeStartRecord round-trips, owner-only, always START_RECORD_BYTES long', async ({ dir }) => {
  const path = join(dir, 'starts.json');
  const record: StartRecord = { healthy: false, failures: 3, at: 1_764_000_000_000 };
  const said: string[] = [];
  // Its wait's end lands 4 s later, in a folder removed by then: said here, not in the test's output.
  await writeStartRecord(path, record, (line) => said.push(line));
  assert.equal(await readStartRecord(path), { ...record, waiting: true });
  assert.is((await stat(path)).mode & 0o777, 0o600);
  assert.is((await stat(path)).size, START_RECORD_BYTES);
  const next: StartRecord = { healthy: true, failures: 0, at: 1_764_000_001_000 };
  await writeStartRecord(path, next);
  assert.equal(await readStartRecord(path), next);
  assert.is((await stat(path)).size, START_RECORD_BYTES);
  assert.equal(said, []);
});

Record('the longest record fits START_RECORD_BYTES', async ({ dir }) => {
  const path = join(dir, 'longest.json');
  await writeStartRecord(path, { healthy: false, failures: Number.MAX_SAFE_INTEGER, at: 9_999_999_999_999 }, () => {});
  assert.is((await stat(path)).size, START_RECORD_BYTES);
  assert.is((await readStartRecord(path))?.failures, Number.MAX_SAFE_INTEGER);
});

Record('a record written as its wait begins: read during the wait, the same count; once the wait is over, one more', async ({ dir }) => {
  const path = join(dir, 'waiting.json');
  const writtenAt = performance.now();
  // 1 failure: a 1 s wait.
  await writeStartRecord(path, { healthy: false, failures: 1, at: Date.now() });
  assert.is(failuresSoFar(await readStartRecord(path)), 1, 'killed at once, during its wait');
  const over = await waitFor('the wait to be marked over', async () => ((await readStartRecord(path))?.waiting === undefined ? performance.now() : undefined), 5_000);
  assert.ok(over - writtenAt >= backoffDelayMs(1) - 5, `marked over after ${Math.round(over - writtenAt)} ms`);
  assert.is(failuresSoFar(await readStartRecord(path)), 2, 'died after its wait');
});

Record('a newer record is not overwritten by the end of an older wait', async ({ dir }) => {
  const path = join(dir, 'superseded.json');
  void writeStartRecord(path, { healthy: false, failures: 1, at: 1 });
  await writeStartRecord(path, { healthy: true, failures: 0, at: 2 });
  // Past the 1 s wait's end.
  await waitFor('the record to change', async () => (await readStartRecord(path))?.at !== 2, 1_500).catch(() => {});
  assert.equal(await readStartRecord(path), { healthy: true, failures: 0, at: 2 });
});

Record('a record of an older version (no padding, no wait) is read, and counts as before', async ({ dir }) => {
  const path = join(dir, 'older.json');
  await writeFile(path, '{"healthy":false,"failures":2,"at":1764000000000}\n');
  assert.equal(await readStartRecord(path), { healthy: false, failures: 2, at: 1_764_000_000_000 });
  assert.is(failuresSoFar(await readStartRecord(path)), 3);
});

Record('never rejects for a fault of the machine: a state folder gone is said once, in one line', async ({ dir }) => {
  const path = join(dir, 'gone', 'starts.json');
  const said: string[] = [];
  const say = (line: string) => void said.push(line);
  for (let failures = 1; failures <= 3; failures++) await writeStartRecord(path, { healthy: false, failures, at: Date.now() }, say);
  assert.equal(said, [`could not write the start record ${path} (ENOENT); the crash-loop back-off goes on from the last record written (said once)`]);
});

Record('a directory at its name: not written, said once, no leftovers; the next read moves it aside', async ({ dir }) => {
  const caseDir = join(dir, 'dir-at-name');
  const path = join(caseDir, 'starts.json');
  await mkdir(path, { recursive: true });
  const said: string[] = [];
  const say = (line: string) => void said.push(line);
  await writeStartRecord(path, { healthy: false, failures: 1, at: Date.now() }, say);
  await writeStartRecord(path, { healthy: true, failures: 0, at: Date.now() }, say);
  assert.is(said.length, 1, said.join('\n'));
  assert.match(said[0] ?? '', /^could not write the start record .*starts\.json \((EISDIR|ENOTEMPTY|EEXIST|EPERM)(, then EISDIR writing in place)?\); the crash-loop back-off goes on from the last record written \(said once\)$/);
  assert.equal(await readdir(caseDir), ['starts.json'], 'a temp file was left behind');
  assert.is(await readStartRecord(path, () => {}), undefined);
  await writeStartRecord(path, { healthy: false, failures: 1, at: Date.now() }, say);
  assert.is((await readStartRecord(path))?.failures, 1);
  assert.is(said.length, 1, 'said again once written');
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
