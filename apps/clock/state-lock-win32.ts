import { createHash } from 'node:crypto';
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { greetingServer, listen, probeOwner, type OwnerProbe } from './lock-greeting.ts';
import { warn } from './log.ts';
import type { AcquireStateLock, StateLock } from './state-lock.ts';

/*
 * The state lock on Windows, in two parts, because neither alone keeps both promises everywhere:
 *
 * - The lock itself is STATE_DIR\clock.lock, opened with no sharing at all (libuv's UV_FS_O_EXLOCK):
 *   while its owner has it open, any other open fails with EBUSY (a sharing violation), and Windows
 *   closes the handle the moment the owner dies, however it dies. It is never deleted.
 * - The notice is a named pipe, its name derived from STATE_DIR: the owner listens on it and greets
 *   whoever connects; a waiting clock stays connected and learns of the owner's death when the pipe
 *   closes, then takes the file. libuv creates a pipe's first instance with
 *   FILE_FLAG_FIRST_PIPE_INSTANCE, so on Windows a second listener fails with EADDRINUSE; wine 8
 *   ignores that flag (measured: two Windows node.exe listened on one name at once), which is why
 *   the pipe cannot be the lock.
 *
 * The pipe has Windows' default DACL (libuv passes no security attributes, and Node offers only to
 * widen it): full control for SYSTEM, Administrators and the owner; read for Everyone and Anonymous,
 * and libuv does not set PIPE_REJECT_REMOTE_CLIENTS. So another user, locally or over SMB, can
 * connect and read the greeting (a pid and a start time), and hold a connection open (counted as a
 * waiter in the heartbeat); nobody else can create an instance of it while its owner listens, or
 * take the state, which is the file's, guarded by the state directory's own ACL.
 */

// uv/win.h: open with share mode 0. Node has no name for it but passes open flags through to libuv.
const UV_FS_O_EXLOCK = 0x10000000;
const LOCK_FLAGS = constants.O_RDWR | constants.O_CREAT | UV_FS_O_EXLOCK;
// The owner between taking the file and listening on the pipe: a few ms.
const RETRY_MS = 50;
// A waiter also tries the file this often: the pipe's name may be another program's (a squatter,
// or a frozen owner that never greets), and then its closing is no sign of anything.
const POLL_MS = 500;
// The dead owner's pipe lingers until every waiter has closed its end: the new owner retries its listen.
const LISTEN_TRIES = 40;

/** The pipe's name: one per state directory, case-insensitive as Windows paths are. */
export function win32LockAddress(stateDir: string): string {
  const digest = createHash('sha256').update(stateDir.toLowerCase()).digest('hex').slice(0, 16);
  return `\\\\.\\pipe\\estatus-clock-${digest}`;
}

export const acquireWin32Lock: AcquireStateLock = async (stateDir, me, onWait) => {
  const address = win32LockAddress(stateDir);
  const file = join(stateDir, 'clock.lock');
  const greeting = `${JSON.stringify({ pid: me.pid, startedAt: me.startedAt })}\n`;
  const { server, connections } = greetingServer(() => greeting);
  let tookOverFrom: StateLock['tookOverFrom'];
  let fd = tryHold(file);
  while (fd === undefined) {
    const probe = await probeOwner(address);
    if (!probe.alive) {
      // Nobody listens yet (ENOENT), or the name is barred to us: the file decides, a moment later.
      if (probe.code !== 'ENOENT') onWait(undefined);
      await sleep(probe.code === 'ENOENT' ? RETRY_MS : POLL_MS);
      fd = tryHold(file);
      continue;
    }
    onWait(probe.owner);
    const gone = await ownerGone(probe, file);
    tookOverFrom = { pid: probe.owner?.pid, at: performance.now(), via: gone.via };
    probe.hangUp();
    fd = gone.fd ?? tryHold(file);
  }
  // Not awaited: the file makes this clock the owner, and a standby taking over counts every
  // millisecond; on Windows the dead owner's pipe may linger a moment (see listenOnce). A clock
  // that comes to wait meanwhile finds no pipe yet and looks again RETRY_MS later.
  const listening = listenOnce(server, address);
  const held = fd;
  return {
    waiting: () => connections.size,
    tookOverFrom,
    hasBell: false,
    removeDeadBells() {},
    async release() {
      await listening;
      // The file first: a waiter told by its pipe closing then finds it free at once.
      closeSync(held);
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/** The lock file held open with no sharing (its descriptor), or undefined while another has it. */
function tryHold(file: string): number | undefined {
  try {
    return openSync(file, LOCK_FLAGS, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBUSY') return undefined;
    throw error;
  }
}

/** Resolves when the owner's pipe closes, or sooner if the file comes free (then held: its descriptor). */
function ownerGone(probe: Extract<OwnerProbe, { alive: true }>, file: string): Promise<{ via: 'pipe' | 'poll'; fd?: number }> {
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      try {
        const fd = tryHold(file);
        if (fd === undefined) return;
        clearInterval(poll);
        resolve({ via: 'poll', fd });
      } catch (error) {
        clearInterval(poll);
        reject(error);
      }
    }, POLL_MS);
    void probe.closed.then(() => {
      clearInterval(poll);
      resolve({ via: 'pipe' });
    });
  });
}

/**
 * Listens on the pipe, retrying while the dead owner's instance lingers. A name still taken after
 * that is another program's: the clock owns the state all the same (the file), and waiters notice
 * its death by polling the file instead.
 */
async function listenOnce(server: ReturnType<typeof greetingServer>['server'], address: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await listen(server, address);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || attempt >= LISTEN_TRIES) {
        warn(`could not listen on the state lock's pipe ${address} (${code ?? String(error)}): another program holds that name; clocks waiting for this one will notice its death within ${POLL_MS} ms, by polling the lock file`);
        return;
      }
      await sleep(RETRY_MS);
    }
  }
}
