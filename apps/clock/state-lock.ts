import { link, rename, rm, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** Who holds the lock, as the holder tells anyone who connects. */
export interface LockOwner {
  pid: number;
  startedAt: number;
}

export interface StateLock {
  /** Lets the next clock in: stops listening and removes the lock's name, if it is still ours. */
  release(): Promise<void>;
  /** How many connections the lock holds open now: clocks waiting for the state (and passing probes). */
  waiting(): number;
  /** If this clock waited: the pid it waited for, and when (performance.now()) that owner's connection closed. */
  tookOverFrom: { pid: number | undefined; at: number } | undefined;
}

type OwnerProbe =
  | { alive: true; owner: LockOwner | undefined; closed: Promise<void>; hangUp(): void }
  | { alive: false; gone: boolean };

// A frozen owner accepts the connection (the kernel does) but cannot say who it is.
const IDENTITY_TIMEOUT_MS = 200;

/**
 * Takes the state lock: one clock at a time owns the state directory. The lock is a Unix socket the
 * owner listens on, published under one name with link(2), which fails while the name exists, so two
 * clocks cannot both take it. The kernel closes the socket the moment its owner dies, however it
 * dies: a name nobody answers on is stale and is cleared; a waiting clock stays connected to the
 * owner and learns of its death from the connection closing, without polling.
 */
export async function acquireStateLock(
  lockPath: string,
  me: LockOwner,
  onWait: (owner: LockOwner | undefined) => void,
): Promise<StateLock> {
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => connections.delete(socket));
    // Written, not ended: the connection stays open until this process dies, which is the waiter's signal.
    socket.write(`${JSON.stringify(me)}\n`);
  });
  const ownPath = `${lockPath}.${process.pid}`;
  // Left by an earlier process that had our pid: nobody can be listening on it now.
  await rm(ownPath, { force: true });
  await listen(server, ownPath);
  const { ino } = await stat(ownPath);
  let tookOverFrom: StateLock['tookOverFrom'];
  try {
    while (!(await tryLink(ownPath, lockPath))) {
      const probe = await probeOwner(lockPath);
      if (probe.alive) {
        onWait(probe.owner);
        await probe.closed;
        tookOverFrom = { pid: probe.owner?.pid, at: performance.now() };
        // Its owner is gone (or going): the name is stale or about to be; clear it without asking again.
        await clearStaleLock(lockPath);
      } else if (!probe.gone) {
        await clearStaleLock(lockPath);
      }
    }
  } finally {
    await rm(ownPath, { force: true });
  }
  return {
    waiting: () => connections.size,
    tookOverFrom,
    async release() {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const current = await stat(lockPath).catch(() => undefined);
      if (current?.ino === ino) await unlink(lockPath).catch(() => {});
    },
  };
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function tryLink(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Connects to whoever listens on `path`: alive (and who), or nobody there. */
function probeOwner(path: string): Promise<OwnerProbe> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    let text = '';
    let answered = false;
    const answer = (owner: LockOwner | undefined): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      resolve({ alive: true, owner, closed, hangUp: () => socket.destroy() });
    };
    const timer = setTimeout(() => answer(undefined), IDENTITY_TIMEOUT_MS);
    timer.unref();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) answer(parseOwner(text));
    });
    socket.on('end', () => answer(parseOwner(text)));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      resolve({ alive: false, gone: error.code === 'ENOENT' });
    });
  });
}

/**
 * Clears a lock name whose owner is dead. It is first renamed to a name of our own, so that a clock
 * that has just taken the lock in the meantime is not the one removed: if what we moved answers, it
 * is put back.
 */
async function clearStaleLock(lockPath: string): Promise<void> {
  const aside = `${lockPath}.stale.${process.pid}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const probe = await probeOwner(aside);
  if (probe.alive) {
    probe.hangUp();
    await tryLink(aside, lockPath);
  }
  await rm(aside, { force: true });
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text.split('\n')[0] ?? '') as Partial<LockOwner>;
    return typeof value.pid === 'number' && typeof value.startedAt === 'number'
      ? { pid: value.pid, startedAt: value.startedAt }
      : undefined;
  } catch {
    return undefined;
  }
}
