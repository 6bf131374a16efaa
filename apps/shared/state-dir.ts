import { constants } from 'node:fs';
import { access, chmod, link, mkdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './config.ts';

/** The files of the state directory, named for what they hold. */
export function statePaths(stateDir: string) {
  return {
    /** The clock's memory: run number and each thread's last tick, rewritten after every tick. */
    checkpoint: join(stateDir, 'checkpoint.json'),
    /** The clock's pulse for the probe: pid, start time, last tick times; rewritten at least every 500 ms. */
    heartbeat: join(stateDir, 'heartbeat.json'),
    /** Cluster mode: the lease this host's leading clock holds, for the clock after it to carry on with. */
    clusterLease: join(stateDir, 'cluster-lease.json'),
    /** Whether the last start became healthy: drives the start back-off. */
    starts: join(stateDir, 'starts.json'),
  };
}

/*
 * Who may touch the state. On Unix: the directory's owner and mode, checked and tightened here
 * (0700, this user's). On Windows there is no uid or mode to check (Node reports uid 0 and a mode
 * made up from the read-only attribute, and chmod only sets that attribute): the directory is
 * guarded by its NTFS ACL, inherited from where it is made (under the user's profile, only the
 * user, SYSTEM and Administrators; elsewhere, such as C:\ itself, Authenticated Users may be able
 * to create files in it). Node cannot read or set an ACL: a STATE_DIR others can write is not
 * detected on Windows, and is the operator's to avoid.
 */
const POSIX = process.platform !== 'win32';
// A Unix socket path must fit in sun_path (108 bytes on Linux, 104 on macOS), suffixes included;
// the Windows lock is a named pipe whose name is a hash of the path, and a file in it.
const MAX_STATE_DIR_LENGTH = POSIX ? 80 : Infinity;

/** Creates the state directory owner-only (0700 on Unix), or tightens an existing one; ConfigError if unusable. */
export async function prepareStateDir(stateDir: string): Promise<void> {
  const expected = POSIX ? 'a directory this user can create and write, at most 80 characters long' : 'a directory this user can create and write';
  if (stateDir.length > MAX_STATE_DIR_LENGTH) throw new ConfigError('STATE_DIR', stateDir, expected);
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const info = await stat(stateDir);
    if (POSIX && process.getuid && info.uid !== process.getuid()) {
      throw new ConfigError('STATE_DIR', stateDir, `${expected}, owned by this user (it is owned by uid ${info.uid})`);
    }
    if (POSIX && (info.mode & 0o077) !== 0) await chmod(stateDir, 0o700);
    await access(stateDir, constants.W_OK | constants.X_OK);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError('STATE_DIR', stateDir, `${expected} (${code})`);
  }
}

/**
 * Moves a damaged state file aside under a timestamped name: never deleted, so it can be looked at.
 * link(2) refuses an existing name, so an earlier copy moved aside in the same millisecond is kept.
 */
export async function moveAside(path: string, now = new Date()): Promise<string> {
  const stamp = `${path}.damaged-${now.toISOString().replace(/[:.]/g, '-')}`;
  for (let attempt = 0; ; attempt++) {
    const movedTo = attempt === 0 ? stamp : `${stamp}-${attempt}`;
    try {
      await link(path, movedTo);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    await unlink(path);
    return movedTo;
  }
}
