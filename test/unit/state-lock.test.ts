import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { acquireStateLock, lockAddress, type LockOwner } from '../../apps/clock/state-lock.ts';

// The state lock, between real processes: a holder in a child process, this test process the waiter.
const HOLDER = join(import.meta.dirname, '..', 'fixtures', 'lock-holder.ts');

const Lock = suite('acquireStateLock', { dir: '', children: [] as ChildProcess[] });

Lock.before.each(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-lock-'));
  context.children = [];
});

Lock.after.each(async (context) => {
  for (const child of context.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(context.dir, { recursive: true, force: true });
});

/** Starts a holder of the lock and resolves once it holds it. */
async function startHolder(context: { children: ChildProcess[] }, stateDir: string, style = 'current'): Promise<ChildProcess> {
  // tsx as a loader, not its CLI: the CLI runs the script in a child of its own, and the pid that
  // is killed must be the holder's.
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, stateDir, style], { stdio: ['ignore', 'pipe', 'inherit'] });
  context.children.push(child);
  let out = '';
  child.stdout?.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code} before holding the lock`)));
  });
  return child;
}

/** Who answers on the lock now, by its own greeting. */
async function whoAnswers(lockPath: string): Promise<LockOwner> {
  const socket = createConnection(lockPath);
  socket.setEncoding('utf8');
  const [text] = (await once(socket, 'data')) as [string];
  socket.destroy();
  return JSON.parse(text.split('\n')[0] ?? '') as LockOwner;
}

const HOW = {
  bell: ['a holder with a death bell', 'bell'],
  current: ['a holder that names its socket', 'socket'],
  old: ['a holder whose greeting does not name its socket', 'socket'],
} as const;

for (const [style, [how, via]] of Object.entries(HOW)) {
  Lock(`the waiter takes over the instant ${how} is killed, and holds the name alone`, async (context) => {
    const lockPath = lockAddress(context.dir);
    const holder = await startHolder(context, context.dir, style);
    const waited: (LockOwner | undefined)[] = [];
    const acquiring = acquireStateLock(context.dir, { pid: process.pid, startedAt: Date.now() }, (owner) => waited.push(owner), style === 'bell');
    // Waiting, connected: the holder counts this waiter before it is killed.
    while (waited.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.is(waited[0]?.pid, holder.pid, 'the waiter knew whom it waited for');
    if (style !== 'old') assert.match(waited[0]?.socket ?? '', /^\d+:\d+:\d+$/, 'the holder named its socket');
    if (style === 'bell') assert.is(waited[0]?.bell, `clock.bell.${holder.pid}`, 'the holder named its bell');
    holder.kill('SIGKILL');
    const lock = await acquiring;
    try {
      assert.is(lock.tookOverFrom?.pid, holder.pid);
      assert.is(lock.tookOverFrom?.via, via, 'how the waiter learned of the death');
      assert.is((await whoAnswers(lockPath)).pid, process.pid, 'the lock answers with the new holder');
      lock.removeDeadBells();
      const names = (await readdir(context.dir)).sort();
      const own = style === 'bell' ? [`clock.bell.${process.pid}`] : [];
      assert.equal(names, [...own, 'clock.sock'].sort(), 'no stale names or dead bells left behind');
    } finally {
      await lock.release();
    }
    assert.equal(await readdir(context.dir), [], 'released: nothing of this clock left');
  });
}

/** A holder with a bell in a child process, and this process waiting on the lock behind it. */
async function waitBehindBellHolder(context: { dir: string; children: ChildProcess[] }) {
  const holder = await startHolder(context, context.dir, 'bell');
  let waitedFor: number | undefined;
  const acquiring = acquireStateLock(context.dir, { pid: process.pid, startedAt: Date.now() }, (owner) => (waitedFor = owner?.pid), true);
  while (waitedFor === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  return { holder, acquiring };
}

Lock('a holder that lets go: the waiter takes over at once', async (context) => {
  const lockPath = lockAddress(context.dir);
  const { holder, acquiring } = await waitBehindBellHolder(context);
  holder.kill('SIGUSR2');
  const lock = await acquiring;
  try {
    // Letting go rings the bell and closes the connection within microseconds: either may come first.
    assert.ok(['bell', 'socket'].includes(lock.tookOverFrom?.via ?? ''), `via ${lock.tookOverFrom?.via}`);
    assert.is(lock.tookOverFrom?.pid, holder.pid);
    assert.is((await whoAnswers(lockPath)).pid, process.pid);
  } finally {
    await lock.release();
  }
});

Lock('a live holder keeps its lock: a second clock only waits', async (context) => {
  const lockPath = lockAddress(context.dir);
  const { holder, acquiring } = await waitBehindBellHolder(context);
  // Long enough for a bell that rang by mistake, or a takeover of a live holder, to show.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.is((await whoAnswers(lockPath)).pid, holder.pid, 'the holder still answers while the other waits');
  holder.kill('SIGKILL');
  await (await acquiring).release();
});

Lock.run();
