import { acquirePosixLock, posixLockAddress } from './state-lock-posix.ts';
import { acquireWin32Lock, win32LockAddress } from './state-lock-win32.ts';

/**
 * The state lock: one clock at a time owns the state directory, and a clock that waits for it learns
 * of the owner's death the moment it happens, without polling. One interface, one file per platform
 * (the choice made once, here): a Unix socket on Linux and macOS (state-lock-posix.ts), a named pipe
 * beside an exclusively opened file on Windows (state-lock-win32.ts).
 */

/** Who holds the lock, as the holder tells anyone who connects. */
export interface LockOwner {
  pid: number;
  startedAt: number;
  /** Unix: which file the holder's socket is (see state-lock-posix.ts): how a waiter knows the name it clears is the dead holder's. */
  socket?: string;
  /** Linux: the holder's death bell, a file name in the state directory (see death-bell.ts), if it holds one. */
  bell?: string;
}

export interface StateLock {
  /** Lets the next clock in: stops listening and gives up the lock's name, if it is still ours. */
  release(): Promise<void>;
  /** How many connections the lock holds open now: clocks waiting for the state (and passing probes). */
  waiting(): number;
  /**
   * If this clock waited: the pid it waited for, when (performance.now()) it learned that owner was
   * gone, and how: its death bell, its connection (a Unix socket or a named pipe) closing, or
   * (Windows) its lock file found free by polling.
   */
  tookOverFrom: { pid: number | undefined; at: number; via: 'bell' | 'socket' | 'pipe' | 'poll' } | undefined;
  /** Whether this clock holds a death bell, named to every clock that comes to wait (Linux only, see death-bell.ts). */
  hasBell: boolean;
  /**
   * Removes the bells that dead clocks left (a bell's file outlives a SIGKILL). Not on the way to
   * ticking: the clock calls it once it ticks. Nothing to do where there are no bells.
   */
  removeDeadBells(): void;
}

/**
 * Takes the lock of `stateDir`, waiting (connected to the owner) for as long as another clock holds
 * it; `onWait` is told whom it waits for. `withBell` (standby mode): where the platform has death
 * bells, each clock holds one too, and a waiting clock hears the owner's ring first.
 */
export type AcquireStateLock = (
  stateDir: string,
  me: LockOwner,
  onWait: (owner: LockOwner | undefined) => void,
  withBell?: boolean,
) => Promise<StateLock>;

const win32 = process.platform === 'win32';

export const acquireStateLock: AcquireStateLock = win32 ? acquireWin32Lock : acquirePosixLock;

/** Where the lock's owner listens: what a waiter (or a probe) connects to. */
export const lockAddress: (stateDir: string) => string = win32 ? win32LockAddress : posixLockAddress;

/** What a standby that took over without a death bell was told by, said in the clock's warning. */
export const DEATH_NOTICE = win32
  ? 'the death bell is Linux-only; a standby learns of this clock\'s death when its named pipe closes'
  : 'the death bell is not built (npm install builds it, with a C compiler, on Linux); a standby will learn of this clock\'s death when its socket closes, a few ms later';
