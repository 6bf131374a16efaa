import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { lstat, open } from 'node:fs/promises';

/**
 * Reads a state file without trusting what sits at its name: only a regular file, never through a
 * symbolic link, never more bytes than the file can be. Anything else there (a directory, a FIFO, a
 * socket, a symlink, a huge or unreadable file) is `unusable`, with the reason in a few words: the
 * owner of the state moves it aside (state-dir.ts moveAside), any other reader treats it as absent.
 * One open, one fstat, one read: the clock reads its checkpoint on the way to ticking, and a
 * standby's takeover is timed in milliseconds.
 */
export type StateFileRead =
  | { kind: 'missing' }
  | { kind: 'read'; text: string; mtimeMs: number }
  | { kind: 'unusable'; reason: string };

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever (a start
// blocked while PM2 shows the clock online); it changes nothing for a regular file. O_NOFOLLOW: a
// symlink at the name fails the open (ELOOP) instead of being followed. Windows has neither (Node
// defines no such constants there, and a FIFO cannot sit at a file's name): there an lstat before
// the open catches a symlink, and the moment between the two is no opening for anyone else, as
// only the state directory's owner can put anything in it.
const NO_FOLLOW: number | undefined = constants.O_NOFOLLOW;
const NON_BLOCK: number | undefined = constants.O_NONBLOCK;
const FLAGS = constants.O_RDONLY | (NO_FOLLOW ?? 0) | (NON_BLOCK ?? 0);
const SYMLINK = 'a symbolic link, which is not followed';

/** The state file at `path`, read whole if it is a regular file of at most `capBytes`. Synchronous: see above. */
export function readStateFileSync(path: string, capBytes: number): StateFileRead {
  let fd: number;
  try {
    if (NO_FOLLOW === undefined && lstatSync(path).isSymbolicLink()) return { kind: 'unusable', reason: SYMLINK };
    fd = openSync(path, FLAGS);
  } catch (error) {
    return openFailure(error);
  }
  try {
    const stats = fstatSync(fd);
    const refusal = refuse(stats, capBytes);
    if (refusal) return { kind: 'unusable', reason: refusal };
    const buffer = Buffer.allocUnsafe(stats.size);
    let filled = 0;
    while (filled < buffer.length) {
      const got = readSync(fd, buffer, filled, buffer.length - filled, filled);
      if (got === 0) break;
      filled += got;
    }
    return { kind: 'read', text: buffer.toString('utf8', 0, filled), mtimeMs: stats.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

/** The same read through libuv's thread pool, for readers whose event loop must not wait on a disk (the probe). */
export async function readStateFile(path: string, capBytes: number): Promise<StateFileRead> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    if (NO_FOLLOW === undefined && (await lstat(path)).isSymbolicLink()) return { kind: 'unusable', reason: SYMLINK };
    handle = await open(path, FLAGS);
  } catch (error) {
    return openFailure(error);
  }
  try {
    const stats = await handle.stat();
    const refusal = refuse(stats, capBytes);
    if (refusal) return { kind: 'unusable', reason: refusal };
    const buffer = Buffer.allocUnsafe(stats.size);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { kind: 'read', text: buffer.toString('utf8', 0, filled), mtimeMs: stats.mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * What an open's failure means. A name that cannot be opened as our own file is damage; a fault of
 * the process or the machine (EMFILE, EIO, …) is not, and is thrown: moving a good file aside for it
 * would throw away the clock's progress.
 */
function openFailure(error: unknown): StateFileRead {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return { kind: 'missing' };
    // ELOOP on Linux and macOS, EMLINK on FreeBSD: O_NOFOLLOW met a symlink.
    case 'ELOOP':
    case 'EMLINK':
      return { kind: 'unusable', reason: SYMLINK };
    // In an owner-only directory, a file its owner cannot read was made unreadable on purpose or by mistake.
    case 'EACCES':
    case 'EPERM':
      return { kind: 'unusable', reason: `unreadable (${code})` };
    case 'EISDIR':
      return { kind: 'unusable', reason: 'not a regular file: a directory' };
    // Linux's answer to opening a Unix socket.
    case 'ENXIO':
      return { kind: 'unusable', reason: 'not a regular file: a socket or a device (ENXIO)' };
    default:
      throw error;
  }
}

/** Why the opened file cannot be a state file, or undefined when it can. */
function refuse(stats: Stats, capBytes: number): string | undefined {
  if (!stats.isFile()) return `not a regular file: ${kindOf(stats)}`;
  if (stats.size > capBytes) return `${bytes(stats.size)}, more than the ${bytes(capBytes)} it can be`;
  return undefined;
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return `an unknown kind of file (mode ${stats.mode.toString(8)})`;
}

/** 734003200 → "700.0 MB", 65536 → "64 KB", 900 → "900 bytes". */
function bytes(count: number): string {
  if (count < 1024) return `${count} bytes`;
  if (count < 1024 ** 2) return `${Number.isInteger(count / 1024) ? count / 1024 : (count / 1024).toFixed(1)} KB`;
  return `${(count / 1024 ** 2).toFixed(1)} MB`;
}
