import { constants } from 'node:fs';
import { access, chmod, link, lstat, mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
    /** The probe's own pulse, for the clock to watch the watcher (probe-pulse.ts); gone while no probe runs. */
    probePulse: join(stateDir, 'probe.json'),
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
    let code = (error as NodeJS.ErrnoException).code ?? String(error);
    // Node's recursive mkdir reports a read-only parent as ENOENT (it stats the path after the failed
    // mkdir): the nearest folder that exists says what it really is.
    if (code === 'ENOENT') code = (await nearestFolderFault(stateDir)) ?? code;
    if (MACHINE_FAULTS.has(code)) throw new MachineFault(stateDir, code);
    throw new ConfigError('STATE_DIR', stateDir, `${expected} (${code})`);
  }
}

/** Why the nearest existing folder above `path` cannot be written (an errno code), if it cannot. */
async function nearestFolderFault(path: string): Promise<string | undefined> {
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    try {
      await access(folder, constants.W_OK);
      return undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || folder === dirname(folder)) return code;
    }
  }
}

/**
 * Faults of the machine, not of the setting: a read-only or full file system, an I/O error, too many
 * open files. Waiting can fix them (the disk is remounted, space is freed), so they are never exit 78,
 * which PM2 and the probe both leave stopped for good.
 */
const MACHINE_FAULTS = new Set(['EROFS', 'ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'ESTALE']);

/** The state directory cannot be used for now, for a reason of the machine's (see MACHINE_FAULTS). */
export class MachineFault extends Error {
  constructor(readonly stateDir: string, readonly code: string) {
    super(`STATE_DIR=${JSON.stringify(stateDir)} cannot be written now (${code}); waiting for that to pass, trying again every ${MACHINE_FAULT_RETRY_MS / 1000} s`);
    this.name = 'MachineFault';
  }
}

const MACHINE_FAULT_RETRY_MS = 1_000;

/**
 * prepareStateDir, waited out while the fault is the machine's: said once (and again if it changes),
 * tried every second, and said when it has passed. ConfigError still for what no waiting can fix.
 * Resolves false if `stopped()` turned true meanwhile.
 */
export async function waitForStateDir(stateDir: string, say: (line: string) => void, stopped: () => boolean = () => false): Promise<boolean> {
  let said: string | undefined;
  for (;;) {
    try {
      await prepareStateDir(stateDir);
      if (said !== undefined) say(`STATE_DIR=${JSON.stringify(stateDir)} can be written again; starting`);
      return true;
    } catch (error) {
      if (!(error instanceof MachineFault)) throw error;
      if (error.message !== said) say((said = error.message));
    }
    if (stopped()) return false;
    await sleep(MACHINE_FAULT_RETRY_MS);
    if (stopped()) return false;
  }
}

/** What moveAside did: where the damaged file went, and the older copies it removed to make room. */
export interface MovedAside {
  movedTo: string;
  removed: string[];
}

/** Damaged copies kept of each state file, newest first: enough to look into, too few to fill the disk. */
export const DAMAGED_KEPT = 3;
const DAMAGED_MARK = '.damaged-';

/**
 * Moves a damaged state file aside under a timestamped name, so that it can be looked at, and
 * removes the older damaged copies of that file beyond the newest DAMAGED_KEPT: a clock that meets a
 * 700 MB checkpoint on every start must not keep them all. Only the owner of the state calls this.
 * Whatever sits at `path` is moved itself, never what it points to: a regular file is linked to the
 * new name, then unlinked (link(2) refuses an existing name, so an earlier copy moved aside in the
 * same millisecond is kept); anything else is renamed to a name found free, as a directory cannot
 * be linked (EPERM) and macOS's link(2) would link a symlink's target.
 */
export async function moveAside(path: string, now = new Date()): Promise<MovedAside> {
  const stamp = `${path}${DAMAGED_MARK}${now.toISOString().replace(/[:.]/g, '-')}`;
  const regular = (await lstat(path)).isFile();
  for (let attempt = 0; ; attempt++) {
    const movedTo = attempt === 0 ? stamp : `${stamp}-${attempt}`;
    if (!(await (regular ? linkThenUnlink(path, movedTo) : renameIfFree(path, movedTo)))) continue;
    return { movedTo, removed: await removeOlderDamaged(path) };
  }
}

/** ' (removed the older a, b: the newest 3 damaged copies are kept)', or '' when nothing was removed. */
export function removedNote(removed: string[]): string {
  return removed.length === 0 ? '' : ` (removed the older ${removed.map((name) => basename(name)).join(', ')}: the newest ${DAMAGED_KEPT} damaged copies are kept)`;
}

async function linkThenUnlink(path: string, to: string): Promise<boolean> {
  try {
    await link(path, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  await unlink(path);
  return true;
}

async function renameIfFree(path: string, to: string): Promise<boolean> {
  try {
    await lstat(to);
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await rename(path, to);
  return true;
}

/** Removes all but the newest DAMAGED_KEPT of moveAside's copies of `path` (by the time in their names); returns their paths. */
async function removeOlderDamaged(path: string): Promise<string[]> {
  const prefix = `${basename(path)}${DAMAGED_MARK}`;
  // <ISO time with - for : and .>Z, then -N for a later copy in the same millisecond.
  const named = /^(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z)(?:-(\d+))?$/;
  const copies = (await readdir(dirname(path)))
    .filter((name) => name.startsWith(prefix))
    .flatMap((name) => {
      const match = named.exec(name.slice(prefix.length));
      return match ? [{ name, stamp: match[1] ?? '', attempt: Number(match[2] ?? 0) }] : [];
    })
    .sort((a, b) => (a.stamp === b.stamp ? b.attempt - a.attempt : a.stamp < b.stamp ? 1 : -1));
  const removed: string[] = [];
  for (const { name } of copies.slice(DAMAGED_KEPT)) {
    const copy = join(dirname(path), name);
    // rm does not follow a symlink: a moved-aside link goes, its target stays. A copy that cannot
    // be removed now is tried again at the next move.
    await rm(copy, { recursive: true, force: true }).then(() => removed.push(copy), () => {});
  }
  return removed;
}
