import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { leaseRecordAt } from '../../apps/clock/lease-record.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

type Context = { dir: string; path: string; said: string[] };
const Record = suite<Context>('lease record: the lease a host\'s leading clock held, for the clock after it', {} as Context);

Record.before.each((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'estatus-lease-record-'));
  context.path = join(context.dir, 'cluster-lease.json');
  context.said = [];
});
Record.after.each(({ dir }) => rmSync(dir, { recursive: true, force: true }));

Record('written, read back, owner-only; cleared, gone', async ({ path, said }) => {
  const record = leaseRecordAt(path, 'estatus', (line) => said.push(line));
  assert.is(record.read(), undefined);
  await record.write('7587881242', 'h1:4711');
  assert.equal(record.read(), { lease: '7587881242', holder: 'h1:4711' });
  assert.is(statSync(path).mode & 0o777, 0o600);
  record.clear();
  assert.not.ok(existsSync(path));
  assert.equal(said, []);
});

Record('a record of another cluster (CLOCK_CLUSTER changed) is not this one\'s', ({ path, said }) => {
  writeFileSync(path, JSON.stringify({ cluster: 'other', lease: '1', holder: 'h1:1' }));
  assert.is(leaseRecordAt(path, 'estatus', (line) => said.push(line)).read(), undefined);
  assert.ok(existsSync(path), 'left alone');
});

Record('a damaged record is moved aside, never deleted, and said once', async ({ dir, path, said }) => {
  writeFileSync(path, '{"lease": 12');
  assert.is(leaseRecordAt(path, 'estatus', (line) => said.push(line)).read(), undefined);
  await waitFor('the line', () => said.length > 0);
  assert.match(said[0] ?? '', /cluster-lease\.json is damaged .*moved aside/);
  const aside = readdirSync(dir).filter((name) => name.includes('.damaged-'));
  assert.is(aside.length, 1);
  assert.is(readFileSync(join(dir, aside[0] as string), 'utf8'), '{"lease": 12');
  assert.not.ok(existsSync(path));
});

Record('a FIFO at its name: not waited on, moved aside and said', async ({ dir, path, said }) => {
  execFileSync('mkfifo', [path]);
  assert.is(leaseRecordAt(path, 'estatus', (line) => said.push(line)).read(), undefined);
  await waitFor('the line', () => said.length > 0);
  assert.match(said[0] ?? '', /cluster-lease\.json is damaged \(not a regular file: a FIFO \(named pipe\)\); moved aside to .*cluster-lease\.json\.damaged-/);
  const aside = readdirSync(dir).filter((name) => name.includes('.damaged-'));
  assert.is(aside.length, 1);
  assert.ok(lstatSync(join(dir, aside[0] as string)).isFIFO());
  assert.not.ok(existsSync(path));
});

Record.run();
