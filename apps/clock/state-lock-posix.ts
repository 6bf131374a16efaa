import { linkSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isLiving, readProcStat } from '../shared/proc-stat.ts';
import { holdBell, waitForBell, type HeldBell } from './death-bell.ts';
import { greetingServer, listen, probeOwner } from './lock-greeting.ts';
import type { AcquireStateLock, LockOwner, StateLock } from './state-lock.ts';

/** The lock's name in the state directory: a Unix socket, published by link(2). */
export function posixLockAddress(stateDir: string): string {
  return join(stateDir, 'clock.sock');
}

/**
 * Takes the state lock: one clock at a time owns the state directory. The lock is a Unix socket the
 * owner listens on, published under one name with link(2), which fails while the name exists, so two
 * clocks cannot both take it. The kernel closes the socket the moment its owner dies, however it
 * dies: a name nobody answers on is stale and is cleared; a waiting clock stays connected to the
 * owner and learns of its death from the connection closing, without polling. `withBell` (standby
 * mode): each clock also holds a death bell, and a waiting clock hears the owner's ring first.
 */
export const acquirePosixLock: AcquireStateLock = async (stateDir, me, onWait, withBell = false) => {
  const lockPath = posixLockAddress(stateDir);
  let greeting = '';
  const { server, connections } = greetingServer(() => greeting);
  const ownPath = `${lockPath}.${process.pid}`;
  // Left by an earlier process that had our pid: nobody can be listening on it now.
  await rm(ownPath, { force: true });
  await listen(server, ownPath);
  const { ino } = await stat(ownPath);
  const identity = fileIdentity(ownPath);
  // Held from the start, waiting or not: taking over is then only taking the name.
  const bell = withBell ? holdOwnBell(lockPath) : undefined;
  greeting = `${JSON.stringify({ ...me, socket: identity, ...(bell && { bell: basename(bell.path) }) })}\n`;
  let tookOverFrom: StateLock['tookOverFrom'];
  let deadBell: string | undefined;
  try {
    while (!tryLinkSync(ownPath, lockPath)) {
      const probe = await probeOwner(lockPath);
      if (probe.alive) {
        onWait(probe.owner);
        const theirs = bellOf(lockPath, probe.owner);
        const closed = probe.closed.then(() => 'socket' as const);
        // A bell that rang for a death is the dead owner's for sure: its file goes once this clock ticks.
        const rang = theirs?.rang.then((died) => ((deadBell = died ? theirs.path : undefined), 'bell' as const));
        const via = await (rang ? Promise.race([closed, rang]) : closed);
        tookOverFrom = { pid: probe.owner?.pid, at: performance.now(), via };
        // Heard from the bell, the dead owner's socket may not be closed yet: not waited for.
        probe.hangUp();
        // Its owner is gone (or going). From here to holding the lock is synchronous: a standby taking
        // over counts every millisecond, and each trip through libuv's thread pool costs one or more.
        if (probe.owner?.socket && removeNameOf(lockPath, probe.owner.socket) && tryLinkSync(ownPath, lockPath)) break;
        // A holder that never said which socket it is (frozen), or someone else took the name meanwhile.
        await clearStaleLock(lockPath);
      } else if (probe.code !== 'ENOENT') {
        await clearStaleLock(lockPath);
      }
    }
  } catch (error) {
    bell?.release();
    throw error;
  } finally {
    unlinkQuietly(ownPath);
  }
  return {
    waiting: () => connections.size,
    tookOverFrom,
    hasBell: bell !== undefined,
    removeDeadBells() {
      // Its process may still be on its way out (freeing its memory), not yet a zombie.
      if (deadBell) unlinkQuietly(deadBell);
      const dir = dirname(lockPath);
      for (const name of readdirSync(dir)) {
        const pid = BELL_NAME.exec(name)?.[1];
        // A dead clock's bell may go; a reused pid only keeps a stale file a while longer.
        if (pid !== undefined && !isLiving(readProcStat(Number(pid)))) unlinkQuietly(join(dir, name));
      }
    },
    async release() {
      // The name first, while it is surely this clock's: nobody takes a live owner's name, and the
      // waiters have not been told yet. (Told first, a waiter could take the name in between this
      // clock's check and its unlink, and lose it to that unlink: test/unit/state-lock.test.ts caught it.)
      const current = await stat(lockPath).catch(() => undefined);
      if (current?.ino === ino) await unlink(lockPath).catch(() => {});
      bell?.release();
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

const BELL_NAME = /^clock\.bell\.(\d+)$/;

/** This clock's own bell, in the lock's directory; undefined without the addon. */
function holdOwnBell(lockPath: string): HeldBell | undefined {
  const path = join(dirname(lockPath), `clock.bell.${process.pid}`);
  // Left by an earlier process that had our pid: it is dead, and so is its bell.
  unlinkQuietly(path);
  try {
    return holdBell(path);
  } catch {
    return undefined; // Could not be made (a full disk, say): the lock socket alone tells of a death.
  }
}

/** Waits on the bell the owner named, if it named one: only a file of that name, in the lock's directory. */
function bellOf(lockPath: string, owner: LockOwner | undefined): { path: string; rang: Promise<boolean> } | undefined {
  if (!owner?.bell || !BELL_NAME.test(owner.bell)) return undefined;
  const path = join(dirname(lockPath), owner.bell);
  const rang = waitForBell(path);
  return rang && { path, rang };
}

/**
 * Names one file for good: the inode alone could be reused by a socket made after this one is
 * removed, the birth time (in ns) with it cannot.
 */
function fileIdentity(path: string): string {
  const { dev, ino, birthtimeNs } = statSync(path, { bigint: true });
  return `${dev}:${ino}:${birthtimeNs}`;
}

/**
 * Removes the lock's name if it is still the file `identity` (a holder that has died or let go):
 * renamed to a name of our own first, so that a lock another clock has taken meanwhile is put back,
 * not removed. True if the name is free now.
 */
function removeNameOf(lockPath: string, identity: string): boolean {
  const aside = `${lockPath}.stale.${process.pid}`;
  try {
    renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  const theirs = fileIdentity(aside) === identity;
  if (!theirs) tryLinkSync(aside, lockPath);
  unlinkQuietly(aside);
  return theirs;
}

/** unlink(2) alone: rmSync would lstat first, one more system call on the way to ticking. */
function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or left for the next clock to clear: a name of our own blocks nobody.
  }
}

function tryLinkSync(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
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
    tryLinkSync(aside, lockPath);
  }
  await rm(aside, { force: true });
}
