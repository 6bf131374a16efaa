import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../../scripts/lib/wait.ts';
import { failuresSoFar, readStartRecord, START_RECORD_BYTES, writeStartRecord } from '../../apps/clock/start-backoff.ts';

/**
 * The crash-loop back-off keeps working when its own record cannot be replaced: on a real tmpfs,
 * filled to the last byte, and remounted read-only (root only: elsewhere skipped, with the reason
 * printed). Whatever the disk does, writing the record never rejects, and says so once.
 */

const root = process.getuid?.() === 0 && process.platform === 'linux';
if (!root) console.log('  (skipped the full and read-only start record tests: mounting a tmpfs needs root on Linux)');

const mount = (...args: string[]): void => void execFileSync('mount', args, { stdio: 'ignore' });

type Context = { dir: string; mounted: boolean; filler: string };
const Full = suite<Context>('the start record on a full or read-only file system', { dir: '', mounted: false, filler: '' });

Full.before((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'estatus-starts-full-'));
  mount('-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', context.dir);
  context.mounted = true;
  context.filler = join(context.dir, 'filler');
});

Full.after((context) => {
  if (context.mounted) execFileSync('umount', [context.dir], { stdio: 'ignore' });
  rmSync(context.dir, { recursive: true, force: true });
});

/** Fills the file system to its last byte with `filler`; returns the bytes written. */
function fill(filler: string): number {
  const fd = openSync(filler, 'a');
  const chunk = Buffer.alloc(4096, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return written;
}

/** One start that dies after its wait: reads the record, counts, writes the next one; returns what it counted. */
async function failedStart(path: string, say: (line: string) => void): Promise<number> {
  const previous = await readStartRecord(path, say);
  // As if its wait were over (the real one is timed in its own test below): it tried and died.
  const failures = failuresSoFar(previous && { ...previous, waiting: false });
  await writeStartRecord(path, { healthy: false, failures, at: Date.now() }, say);
  return failures;
}

Full('full disk: the record is overwritten in place and still advances; said once; replaced again once there is room', async ({ dir, filler }) => {
  const path = join(dir, 'starts.json');
  await writeStartRecord(path, { healthy: true, failures: 0, at: Date.now() });
  const inode = statSync(path).ino;
  assert.ok(fill(filler) > 0);
  // The disk is full: a new file cannot get its block.
  assert.throws(() => writeFileSync(join(dir, 'probe-file'), 'x'), (error: NodeJS.ErrnoException) => error.code === 'ENOSPC');
  rmSync(join(dir, 'probe-file'), { force: true });
  const said: string[] = [];
  const say = (line: string) => void said.push(line);
  const counted: number[] = [];
  for (let start = 0; start < 4; start++) counted.push(await failedStart(path, say));
  assert.equal(counted, [0, 1, 2, 3], 'the back-off advanced start after start');
  assert.is((await readStartRecord(path))?.failures, 3);
  assert.is(statSync(path).ino, inode, 'written in place, not replaced');
  assert.is(statSync(path).size, START_RECORD_BYTES);
  assert.equal(said, [`could not replace the start record ${path} (ENOSPC); overwriting it in place instead, until it can be replaced again (said once)`]);
  assert.equal(readdirSync(dir).sort(), ['filler', 'starts.json'], 'a temp file was left behind');
  // A real 1 s wait, marked over in place too.
  await writeStartRecord(path, { healthy: false, failures: 1, at: Date.now() }, say);
  assert.is((await readStartRecord(path))?.waiting, true);
  await waitFor('the wait to be marked over', async () => (await readStartRecord(path))?.waiting === undefined, 5_000);
  assert.is(failuresSoFar(await readStartRecord(path)), 2);
  assert.is(statSync(path).ino, inode, 'written in place, not replaced');
  rmSync(filler);
  await writeStartRecord(path, { healthy: true, failures: 0, at: Date.now() }, say);
  assert.not.equal(statSync(path).ino, inode, 'replaced atomically again once there was room');
  const replaced = await readStartRecord(path);
  assert.equal([replaced?.healthy, replaced?.failures], [true, 0]);
  assert.is(said.length, 1);
});

Full('full disk and no record yet: not written, said once in one line, never rejects', async ({ dir, filler }) => {
  const caseDir = join(dir, 'none');
  mkdirSync(caseDir);
  const path = join(caseDir, 'starts.json');
  fill(filler);
  try {
    const said: string[] = [];
    const say = (line: string) => void said.push(line);
    for (let start = 0; start < 3; start++) assert.is(await failedStart(path, say), 0);
    assert.equal(said, [`could not write the start record ${path} (ENOSPC, then ENOENT writing in place); the crash-loop back-off goes on from the last record written (said once)`]);
    assert.equal(readdirSync(caseDir), [], 'a temp file or an empty record was left behind');
  } finally {
    rmSync(filler);
  }
});

Full('read-only disk: not written, the record stays as it was, said once; a damaged one is not moved, and counts as none', async ({ dir }) => {
  const path = join(dir, 'starts.json');
  await writeStartRecord(path, { healthy: false, failures: 2, at: Date.now() });
  const before = await readStartRecord(path);
  const damaged = join(dir, 'damaged.json');
  writeFileSync(damaged, 'not a record');
  mount('-o', 'remount,ro', dir);
  try {
    const said: string[] = [];
    const say = (line: string) => void said.push(line);
    await writeStartRecord(path, { healthy: false, failures: 3, at: Date.now() }, say);
    await writeStartRecord(path, { healthy: true, failures: 0, at: Date.now() }, say);
    assert.equal(await readStartRecord(path), before);
    assert.equal(said, [`could not write the start record ${path} (EROFS); the crash-loop back-off goes on from the last record written (said once)`]);
    assert.is(await readStartRecord(damaged, say), undefined);
    assert.is(said[1], 'the start record was damaged (not a start record) and could not be moved aside (EROFS); counting no failed starts before this one');
  } finally {
    mount('-o', 'remount,rw', dir);
  }
});

if (root) Full.run();
