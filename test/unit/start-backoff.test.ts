import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  backoffDelayMs,
  failuresSoFar,
  monotonicMs,
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
  // 3 failures: a 4 s wait, from 6,000 to 10,000 on the machine's monotonic clock.
  const waited: StartRecord = { healthy: false, failures: 3, at: 1, waitEndsMs: 10_000 };
  assert.is(failuresSoFar(waited, 6_000), 3, 'killed as its wait began');
  assert.is(failuresSoFar(waited, 9_999), 3, 'killed just before its wait ended');
  assert.is(failuresSoFar(waited, 10_000), 4, 'died once its wait was over: it tried, and failed');
  assert.is(failuresSoFar(waited, 60_000), 4);
  assert.is(failuresSoFar(waited, 5_999), 4, 'before its wait began: a record from before a reboot');
});

Failures('a record of no failures waits for nothing: dying before healthy always counts', () => {
  assert.is(failuresSoFar({ healthy: false, failures: 0, at: 1, waitEndsMs: 10_000 }, 9_000), 1);
  assert.is(failuresSoFar({ healthy: false, failures: 0, at: 1, waitEndsMs: 10_000 }, 10_000), 1);
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
  await writeStartRecord(path, record);
  const { waitEndsMs, ...read } = (await readStartRecord(path)) ?? {};
  assert.equal(read, record);
  assert.type(waitEndsMs, 'number');
  assert.is((await stat(path)).mode & 0o777, 0o600);
  assert.is((await stat(path)).size, START_RECORD_BYTES);
  const next: StartRecord = { healthy: true, failures: 0, at: 1_764_000_001_000 };
  await writeStartRecord(path, next);
  const { waitEndsMs: _, ...readNext } = (await readStartRecord(path)) ?? {};
  assert.equal(readNext, next);
  assert.is((await stat(path)).size, START_RECORD_BYTES);
});

Record('the longest record fits START_RECORD_BYTES', async ({ dir }) => {
  const path = join(dir, 'longest.json');
  await writeStartRecord(path, { healthy: false, failures: Number.MAX_SAFE_INTEGER, at: 9_999_999_999_999 });
  assert.is((await stat(path)).size, START_RECORD_BYTES);
  assert.is((await readStartRecord(path))?.failures, Number.MAX_SAFE_INTEGER);
});

Record('a record written before a wait: read back during the wait, the same count; after it, one more', async ({ dir }) => {
  const path = join(dir, 'waiting.json');
  const before = monotonicMs();
  await writeStartRecord(path, { healthy: false, failures: 2, at: Date.now() });
  const read = await readStartRecord(path);
  const ends = read?.waitEndsMs ?? 0;
  assert.ok(ends >= before + backoffDelayMs(2) && ends <= monotonicMs() + backoffDelayMs(2), `the wait ends at ${ends}`);
  assert.is(failuresSoFar(read), 2, 'killed at once, during its 2 s wait');
  assert.is(failuresSoFar(read, ends), 3);
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
