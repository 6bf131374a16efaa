import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHECKPOINT_CAP_BYTES, damageLine, loadCheckpoint, serializeCheckpoint, type LoadedCheckpoint } from '../../apps/clock/checkpoint.ts';
import { readHeartbeatFile } from '../../apps/shared/heartbeat.ts';
import { DAMAGED_KEPT, moveAside } from '../../apps/shared/state-dir.ts';
import { readStateFile, readStateFileSync } from '../../apps/shared/state-file.ts';
import { readCheckpointFile } from '../../scripts/status/sources.ts';
import { asUser, canRead, NOBODY } from '../helpers/other-user.ts';

const LOADER = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'load-checkpoint.ts');
const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SPARSE_BYTES = 700 * 1024 ** 2;
const VALID = serializeCheckpoint({ version: 1, run: 3, runStartedAt: 1_764_000_000_000, threads: [{ name: 'thread-1', tick: 7, at: 1_764_000_014_000 }] });

type Context = { dir: string; servers: Server[] };

/** What can sit at a state file's name, made for real, and what must be said of it. */
interface Kind {
  kind: string;
  make(path: string, context: Context): Promise<void>;
  reason: RegExp;
  /** Checks that what was moved aside is the thing itself (not a copy, not what it points to). */
  movedIs(movedTo: string, context: Context): Promise<void>;
}

const KINDS: Kind[] = [
  {
    kind: 'a directory (EISDIR for a plain read)',
    make: async (path) => {
      await mkdir(path);
      await writeFile(join(path, 'inside'), 'kept');
    },
    reason: /^not a regular file: a directory$/,
    movedIs: async (movedTo) => assert.is(await readFile(join(movedTo, 'inside'), 'utf8'), 'kept'),
  },
  {
    kind: 'a FIFO (a plain read blocks for ever)',
    make: async (path) => void execFileSync('mkfifo', ['-m', '600', path]),
    reason: /^not a regular file: a FIFO \(named pipe\)$/,
    movedIs: async (movedTo) => assert.ok((await lstat(movedTo)).isFIFO()),
  },
  {
    kind: 'a symlink to a valid checkpoint outside the state',
    make: async (path, { dir }) => {
      await writeFile(join(dir, 'outside.json'), VALID);
      await symlink(join(dir, 'outside.json'), path);
    },
    reason: /^a symbolic link, which is not followed$/,
    movedIs: async (movedTo, { dir }) => {
      assert.is(await readlink(movedTo), join(dir, 'outside.json'), 'the link itself was moved');
      assert.is(await readFile(join(dir, 'outside.json'), 'utf8'), VALID, 'its target is untouched');
    },
  },
  {
    kind: 'a dangling symlink',
    make: (path, { dir }) => symlink(join(dir, 'nowhere'), path),
    reason: /^a symbolic link, which is not followed$/,
    movedIs: async (movedTo) => assert.ok((await lstat(movedTo)).isSymbolicLink()),
  },
  {
    kind: 'a 700 MB file (sparse: no disk used)',
    make: async (path) => {
      const file = await open(path, 'w', 0o600);
      await file.truncate(SPARSE_BYTES);
      await file.close();
    },
    reason: /^700\.0 MB, more than the 64 KB it can be$/,
    movedIs: async (movedTo) => assert.is((await lstat(movedTo)).size, SPARSE_BYTES),
  },
  {
    kind: 'a Unix socket',
    make: (path, context) =>
      new Promise((resolve, reject) => {
        const server = createServer().once('error', reject).listen(path, () => resolve());
        context.servers.push(server);
      }),
    reason: /^not a regular file: a socket/,
    movedIs: async (movedTo) => assert.ok((await lstat(movedTo)).isSocket()),
  },
  {
    kind: 'garbage bytes',
    make: (path) => writeFile(path, Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x0a])),
    reason: /JSON/,
    movedIs: async (movedTo) => assert.is((await readFile(movedTo)).length, 6),
  },
];

async function gone(path: string): Promise<boolean> {
  return lstat(path).then(
    () => false,
    (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
  );
}

function damaged(result: LoadedCheckpoint): Extract<LoadedCheckpoint, { kind: 'damaged' }> {
  if (result.kind !== 'damaged') assert.unreachable(`expected damaged, got ${JSON.stringify(result)}`);
  return result as Extract<LoadedCheckpoint, { kind: 'damaged' }>;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---

const Kinds = suite<Context>('what is not a state file: said, moved aside by the owner, left alone by readers', {} as Context);

Kinds.before.each(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-state-file-'));
  context.servers = [];
});
Kinds.after.each(async ({ dir, servers }) => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await rm(dir, { recursive: true, force: true });
});

for (const { kind, make, reason, movedIs } of KINDS) {
  Kinds(`${kind}: unusable to every reader, damaged to the clock's load, moved aside itself`, async (context) => {
    const state = join(context.dir, 'state');
    await mkdir(state, { mode: 0o700 });
    const path = join(state, 'checkpoint.json');
    await make(path, context);

    // The readers that do not own the state: the probe's heartbeat read, npm run status.
    for (const read of [readStateFileSync(path, CHECKPOINT_CAP_BYTES), await readStateFile(path, CHECKPOINT_CAP_BYTES)]) {
      if (read.kind === 'unusable') assert.match(read.reason, reason);
      else if (kind !== 'garbage bytes') assert.unreachable(`expected unusable, got ${read.kind}`);
    }
    const seenByStatus = await readCheckpointFile(path);
    assert.match(seenByStatus.damage ?? '', reason);
    assert.is(seenByStatus.checkpoint, null);
    const heartbeat = await readHeartbeatFile(path);
    assert.is(heartbeat.kind, 'unusable');
    assert.not.ok(await gone(path), 'a reader that does not own the state moved nothing');

    // The clock's load: damaged, never a throw, never a wait.
    const result = damaged(await loadCheckpoint(path, new Date(Date.UTC(2026, 10, 27, 2, 15, 59, 4))));
    assert.match(result.reason, reason);
    assert.is(result.movedTo, `${path}.damaged-2026-11-27T02-15-59-004Z`);
    assert.equal(result.removed, []);
    assert.match(damageLine(result), new RegExp(`^the checkpoint was damaged \\(${escape(result.reason)}\\); moved it aside to ${escape(result.movedTo)}; starting a fresh run 1$`));
    assert.ok(await gone(path), 'the name is free for the next checkpoint');
    await movedIs(result.movedTo, context);
    assert.equal(await loadCheckpoint(path), { kind: 'none' }, 'the next load starts afresh');
  });
}

Kinds('a file readable and within the cap is read whole, with its time; a missing one is missing', async ({ dir }) => {
  const path = join(dir, 'checkpoint.json');
  assert.equal(readStateFileSync(path, CHECKPOINT_CAP_BYTES), { kind: 'missing' });
  assert.equal(await readStateFile(path, CHECKPOINT_CAP_BYTES), { kind: 'missing' });
  await writeFile(path, VALID);
  const mtimeMs = (await lstat(path)).mtimeMs;
  assert.equal(readStateFileSync(path, CHECKPOINT_CAP_BYTES), { kind: 'read', text: VALID, mtimeMs });
  assert.equal(await readStateFile(path, CHECKPOINT_CAP_BYTES), { kind: 'read', text: VALID, mtimeMs });
  assert.equal(readStateFileSync(path, VALID.length), { kind: 'read', text: VALID, mtimeMs }, 'exactly the cap is allowed');
  assert.equal(readStateFileSync(path, VALID.length - 1), { kind: 'unusable', reason: `${VALID.length} bytes, more than the ${VALID.length - 1} bytes it can be` });
});

Kinds('unreadable (EACCES, chmod 000): damaged and moved aside, run as a user the kernel holds to the mode', async ({ dir }) => {
  const state = join(dir, 'state');
  await mkdir(state, { mode: 0o700 });
  const path = join(state, 'checkpoint.json');
  await writeFile(path, VALID, { mode: 0o000 });
  let output: string;
  if (process.getuid?.() === 0) {
    // Root reads any file whatever its mode: the load runs as nobody, owner of the state.
    if (!canRead(NOBODY, LOADER)) return console.log(`  (skipped the EACCES case: nobody cannot read ${LOADER})`);
    await chmod(dir, 0o755);
    await chown(state, NOBODY, NOBODY);
    await chown(path, NOBODY, NOBODY);
    output = execFileSync('setpriv', [...asUser(NOBODY), process.execPath, '--import', 'tsx', LOADER, path], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 20_000 });
  } else {
    const { execPath } = process;
    output = execFileSync(execPath, ['--import', 'tsx', LOADER, path], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 20_000 });
  }
  const result = damaged(JSON.parse(output) as LoadedCheckpoint);
  assert.is(result.reason, 'unreadable (EACCES)');
  assert.ok(await gone(path));
  assert.is((await lstat(result.movedTo)).mode & 0o777, 0, 'the unreadable file itself was moved');
});

Kinds.run();

// ---

const Prune = suite<Context>('damaged copies: the newest 3 of each file kept, older ones removed and said', {} as Context);

Prune.before.each(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-prune-'));
  context.servers = [];
});
Prune.after.each(({ dir }) => rm(dir, { recursive: true, force: true }));

const at = (second: number): Date => new Date(Date.UTC(2026, 10, 27, 2, 15, second));

Prune('five damaged checkpoints of every kind: exactly the newest 3 stay; other files\' copies and hand-made names are left', async (context) => {
  const { dir } = context;
  const path = join(dir, 'checkpoint.json');
  await writeFile(join(dir, 'outside.json'), VALID);
  await writeFile(join(dir, 'starts.json.damaged-2026-01-01T00-00-00-000Z'), 'another file\'s copy');
  await writeFile(join(dir, 'checkpoint.json.damaged-by-hand'), 'the operator\'s own');
  const makers = [KINDS[0], KINDS[2], KINDS[4], KINDS[1], KINDS[6]] as Kind[];
  const moves: string[] = [];
  for (const [index, { make }] of makers.entries()) {
    await make(path, context);
    const result = damaged(await loadCheckpoint(path, at(index)));
    moves.push(result.movedTo);
    // The fourth and the fifth each push the oldest out, and say which.
    assert.equal(result.removed, index < DAMAGED_KEPT ? [] : [moves[index - DAMAGED_KEPT]]);
    if (index >= DAMAGED_KEPT) assert.match(damageLine(result), `(removed the older ${basename(moves[index - DAMAGED_KEPT] ?? '')}: the newest 3 damaged copies are kept); starting a fresh run 1`);
  }
  const left = (await readdir(dir)).sort();
  assert.equal(left, [
    'checkpoint.json.damaged-2026-11-27T02-15-02-000Z',
    'checkpoint.json.damaged-2026-11-27T02-15-03-000Z',
    'checkpoint.json.damaged-2026-11-27T02-15-04-000Z',
    'checkpoint.json.damaged-by-hand',
    'outside.json',
    'starts.json.damaged-2026-01-01T00-00-00-000Z',
  ]);
  assert.is(await readFile(join(dir, 'outside.json'), 'utf8'), VALID, 'removing the moved-aside symlink left its target');
});

Prune('copies moved in the same millisecond are all kept, the later as newer', async ({ dir }) => {
  const path = join(dir, 'starts.json');
  const names: string[] = [];
  for (let copy = 0; copy < 4; copy++) {
    await writeFile(path, `copy ${copy}`);
    const { movedTo, removed } = await moveAside(path, at(9));
    names.push(basename(movedTo));
    assert.equal(removed, copy < DAMAGED_KEPT ? [] : [join(dir, names[0] ?? '')]);
  }
  assert.equal(names, ['', '-1', '-2', '-3'].map((suffix) => `starts.json.damaged-2026-11-27T02-15-09-000Z${suffix}`));
  assert.equal((await readdir(dir)).sort(), names.slice(1));
  assert.is(await readFile(join(dir, names[3] ?? ''), 'utf8'), 'copy 3');
});

Prune.run();
