import { constants, lstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { writeFileWhole } from '../shared/atomic-write.ts';
import { moveAside, removedNote } from '../shared/state-dir.ts';
import { readStateFileSync, type StateFileRead } from '../shared/state-file.ts';
import { warn } from './log.ts';

/**
 * Crash-loop protection for the start, as s6 does it: a clock that had been ready for over a second
 * is started again at once; only one that died before it became healthy waits, longer each time.
 * (PM2's exp_backoff_restart_delay would delay every restart, healthy or not, and reset only after
 * 30 s of uptime, so PM2 restarts at once and the clock keeps this record itself.)
 */
export interface StartRecord {
  /** Whether the last start became healthy (ready for HEALTHY_AFTER_MS) or stopped on request. */
  healthy: boolean;
  /** Starts in a row that died before becoming healthy. */
  failures: number;
  at: number;
  /**
   * Set while that start waits out its back-off, cleared once the wait is over (writeStartRecord):
   * a start that died still waiting never tried. Absent from records of older versions.
   */
  waiting?: boolean;
}

export const HEALTHY_AFTER_MS = 1_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
// A record is START_RECORD_BYTES long (older versions wrote ~60 bytes); anything over 4 KB is not one.
const START_RECORD_CAP_BYTES = 4 * 1024;
// Every record is written at this size, padded with spaces (JSON allows them), so that it can be
// overwritten in place, with no new block, when the disk is full; the longest possible one is 79 bytes.
export const START_RECORD_BYTES = 128;

/**
 * Consecutive failed starts, counting the previous one if it never became healthy, unless it died
 * while still waiting out its back-off: a start that never tried did not fail, whatever ended it
 * (`kill -9` again and again, a stop, PM2 giving up), and its successor waits the same step again
 * instead of a longer one. A clock that dies by itself at every start dies after its wait, so it
 * still backs off further each time; one killed during every wait still waits at every start.
 */
export function failuresSoFar(previous: StartRecord | undefined): number {
  if (!previous || previous.healthy) return 0;
  return previous.waiting === true ? previous.failures : previous.failures + 1;
}

/** How long to wait before starting after `failures` failed starts in a row: 0, then 1 s doubling to 30 s. */
export function backoffDelayMs(failures: number): number {
  return failures === 0 ? 0 : Math.min(FIRST_DELAY_MS * 2 ** (failures - 1), MAX_DELAY_MS);
}

/**
 * The record of the last start; a damaged one (unparsable, or not a regular file of at most
 * START_RECORD_CAP_BYTES) is moved aside, said, and counts as none. (Read synchronously, as the checkpoint is.)
 * Never rejects for a fault of the machine (EIO, EMFILE, a read-only disk to move it aside on): said,
 * and counted as no record, as a damaged one is.
 */
export async function readStartRecord(path: string, say: (line: string) => void = warn): Promise<StartRecord | undefined> {
  let file: StateFileRead;
  try {
    file = readStateFileSync(path, START_RECORD_CAP_BYTES);
  } catch (error) {
    if (!isSystemError(error)) throw error;
    say(`could not read the start record ${path} (${error.code}); counting no failed starts before this one`);
    return undefined;
  }
  if (file.kind === 'missing') return undefined;
  const record = file.kind === 'read' ? parseStartRecord(file.text) : undefined;
  if (record) return record;
  const damage = file.kind === 'read' ? 'not a start record' : file.reason;
  try {
    const { movedTo, removed } = await moveAside(path);
    say(`the start record was damaged (${damage}); moved it aside to ${movedTo}${removedNote(removed)}; counting no failed starts before this one`);
  } catch (error) {
    if (!isSystemError(error)) throw error;
    say(`the start record was damaged (${damage}) and could not be moved aside (${error.code}); counting no failed starts before this one`);
  }
  return undefined;
}

/** The record, for a look that must neither move nor wait (a standby's rehearsal); undefined if none is usable. */
export function peekStartRecord(path: string): StartRecord | undefined {
  const file = readStateFileSync(path, START_RECORD_CAP_BYTES);
  return file.kind === 'read' ? parseStartRecord(file.text) : undefined;
}

/** The record in `text`; undefined if it is damaged. */
export function parseStartRecord(text: string): StartRecord | undefined {
  try {
    const { healthy, failures, at, waiting } = JSON.parse(text) as Partial<StartRecord>;
    if (typeof healthy === 'boolean' && Number.isSafeInteger(failures) && (failures ?? -1) >= 0 && typeof at === 'number' && at > 0) {
      return { healthy, failures: failures as number, at, ...(typeof waiting === 'boolean' ? { waiting } : {}) };
    }
  } catch {
    // Not JSON: damaged like any other.
  }
  return undefined;
}

/** `record` as written: its JSON padded with spaces to START_RECORD_BYTES, newline included. */
export function serializeStartRecord(record: StartRecord): string {
  const json = JSON.stringify(record);
  return `${json.padEnd(START_RECORD_BYTES - 1)}\n`;
}

/**
 * Writes the record of this start. A record of failed starts (failures > 0, not healthy) is the one
 * clock.ts writes just before it waits backoffDelayMs(failures): it is written `waiting`, and
 * rewritten without once that wait is over (a timer here, of the same length as clock.ts's own
 * sleep and started just before it), unless a newer record was written meanwhile. A clock killed
 * during its wait leaves the record `waiting`, however late its successor starts (PM2 may have
 * given up on it, and the probe restart it much later). (A standby taking over at once writes the
 * count it read with no wait: should it die within that count's wait, the next start waits the same
 * step again rather than the next; it still waits.) Writes to one path land in the order made.
 *
 * Atomic, not fsynced: a power cut can at worst cost one back-off step, and a start needs no fsync
 * wait. Never rejects for a fault of the machine (a full, read-only or failing disk, a folder or
 * file made unwritable), which is said once per process and `say`, in one line:
 * - When the replace fails (a full disk: the new file needs a block), the record is overwritten in
 *   place: it is always START_RECORD_BYTES long, so this needs no new block on a file system that
 *   overwrites in place (ext4, XFS, tmpfs, NTFS; not a copy-on-write one such as btrfs or ZFS). The
 *   trade-off: a crash in the middle of that write can leave a torn record, which reads as damaged
 *   and counts as none (one start not held back). Only the clock that holds the state lock, the one
 *   writer, reads the record to decide (a waiting standby only peeks at it, to rehearse).
 * - When that fails too (a read-only disk, or a full one before any record existed), the record
 *   stays what it was, and this start's back-off is the one already decided from it (the wait is
 *   not skipped). The failure it would have recorded is not counted, yet the next start cannot spin:
 *   before it reads the record it waits, alive, for a STATE_DIR it can write (state-dir.ts
 *   waitForStateDir), which a read-only disk is not; a full disk with no record at all is bounded by
 *   PM2's min_uptime/max_restarts and then the probe's heal budget.
 */
export function writeStartRecord(path: string, record: StartRecord, say: (line: string) => void = warn): Promise<void> {
  const waitMs = record.healthy ? 0 : backoffDelayMs(record.failures);
  const done = { healthy: record.healthy, failures: record.failures, at: record.at };
  const written = enqueue(path, waitMs > 0 ? { ...done, waiting: true } : done, say);
  if (waitMs > 0) {
    const made = writes.get(path)?.made;
    // Unref'd: clock.ts's sleep is what keeps the clock alive meanwhile.
    setTimeout(() => void (writes.get(path)?.made === made && enqueue(path, done, say)), waitMs).unref();
  }
  return written;
}

/** Per record path, the last write queued and how many were made: writes land in the order made. */
const writes = new Map<string, { last: Promise<void>; made: number }>();

function enqueue(path: string, record: StartRecord, say: (line: string) => void): Promise<void> {
  const queue = writes.get(path) ?? { last: Promise.resolve(), made: 0 };
  const write = queue.last.then(() => writeRecord(path, serializeStartRecord(record), say));
  writes.set(path, { last: write.catch(() => {}), made: queue.made + 1 });
  return write;
}

async function writeRecord(path: string, text: string, say: (line: string) => void): Promise<void> {
  let replaceFault: string;
  try {
    await writeFileWhole(path, text);
    return;
  } catch (error) {
    if (!isSystemError(error)) throw error;
    replaceFault = error.code;
  }
  try {
    await overwriteInPlace(path, text);
    sayOnce(say, 'in place', `could not replace the start record ${path} (${replaceFault}); overwriting it in place instead, until it can be replaced again (said once)`);
  } catch (error) {
    if (!isSystemError(error)) throw error;
    const why = error.code === replaceFault ? replaceFault : `${replaceFault}, then ${error.code} writing in place`;
    sayOnce(say, 'not written', `could not write the start record ${path} (${why}); the crash-loop back-off goes on from the last record written (said once)`);
  }
}

// O_NONBLOCK: a FIFO at the name fails (ENXIO) instead of waiting for a reader. No O_CREAT: a
// missing record needs a new block, which a full disk has not. Windows has neither flag (see
// state-file.ts): an lstat first stands in for O_NOFOLLOW there.
const IN_PLACE_FLAGS = constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** Writes `text` over the start of the existing regular file at `path`, cutting what lies beyond it. */
async function overwriteInPlace(path: string, text: string): Promise<void> {
  if (constants.O_NOFOLLOW === undefined && lstatSync(path).isSymbolicLink()) throw Object.assign(new Error(`${path} is a symbolic link`), { code: 'ELOOP' });
  const handle = await open(path, IN_PLACE_FLAGS);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
    const data = Buffer.from(text);
    for (let written = 0; written < data.length; ) written += (await handle.write(data, written, data.length - written, written)).bytesWritten;
    // A record of an older version can be shorter (it grows within its block) or longer (cut: frees space).
    if (info.size > data.length) await handle.truncate(data.length);
  } finally {
    await handle.close();
  }
}

/** Who has been told what, so that a fault is said once per process (per `say`, for tests). */
const told = new WeakMap<(line: string) => void, Set<string>>();

function sayOnce(say: (line: string) => void, what: string, line: string): void {
  const said = told.get(say) ?? new Set<string>();
  told.set(say, said);
  if (said.has(what)) return;
  said.add(what);
  say(line);
}

/** An error from the system (an errno code), as opposed to a bug here. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}
