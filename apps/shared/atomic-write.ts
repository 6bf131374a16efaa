import { threadId } from 'node:worker_threads';
import { readdirSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/*
 * Atomic file replacement, by hand rather than with write-file-atomic: loading that package cost
 * the clock 20-35 ms of every start here, and start time is what a restart is judged on; it also
 * leaves its temp files behind after a SIGKILL and does not fsync the directory. The recipe is the
 * same: a temp file of our own, written, fsynced, renamed over the target, then the directory fsynced.
 *
 * Windows has no directory fsync (FlushFileBuffers refuses a directory handle). There, the temp file
 * is flushed before the rename as everywhere (its data is on disk before any name points to it),
 * libuv's rename is MoveFileExW(MOVEFILE_REPLACE_EXISTING), which NTFS does as one journalled
 * metadata change (a crash leaves the old file or the new one, never neither), and the renamed file
 * is then opened and flushed once more: a rename rewrites the file's own $FILE_NAME attribute in its
 * MFT record, and flushing the file forces NTFS's log out up to that change, so the rename is on disk
 * when the write resolves (PostgreSQL's durable_rename does the same: fsync the new name, no
 * directory fsync on Windows). Not measured by a power cut on a real Windows host.
 */

const TEMP_MARK = '.tmp-';
let counter = 0;

/**
 * Replaces `path` with `data` so that a crash at any instant leaves either the old or the new file,
 * whole, and (with `durable`) the new one survives a power cut too.
 */
export async function replaceFile(path: string, data: string, durable: boolean): Promise<void> {
  // pid and thread id: two clocks, or two threads of one, never share a temp file.
  const temp = `${path}${TEMP_MARK}${process.pid}-${threadId}-${counter++}`;
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(data);
    if (durable) await file.sync();
  } catch (error) {
    await file.close();
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  if (durable) await syncName(path);
}

/** The clock's memory: must survive a power cut. */
export function writeFileDurably(path: string, data: string): Promise<void> {
  return replaceFile(path, data, true);
}

/** A pulse, not a memory: atomic (a reader never sees half of it) but not fsynced. */
export function writeFileWhole(path: string, data: string): Promise<void> {
  return replaceFile(path, data, false);
}

/**
 * Removes the temp files that a process killed mid-write left in `dir`. Only for the owner of the
 * directory (the clock holding the state lock): nobody else can be writing one. Synchronous: it runs
 * on the way to ticking, where a trip through libuv's thread pool costs more than the work.
 */
export function removeLeftoverTempFiles(dir: string): string[] {
  // This process's own temp files are writes in flight (its heartbeat beats before it gets here).
  const own = `${TEMP_MARK}${process.pid}-`;
  const leftovers = readdirSync(dir).filter((name) => name.includes(TEMP_MARK) && !name.includes(own));
  for (const name of leftovers) rmSync(join(dir, name), { force: true });
  return leftovers.map((name) => basename(name));
}

/** Makes the rename that gave `path` its content durable (see the top of this file). */
const syncName = process.platform === 'win32' ? (path: string) => syncHandle(path, 'r+') : (path: string) => syncHandle(dirname(path), 'r');

// FlushFileBuffers needs a handle with write access: 'r+' for a file on Windows.
async function syncHandle(path: string, flags: 'r' | 'r+'): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file whose latest content is all that matters: a value set while a write is in flight
 * waits for it and replaces any value still waiting, so writes never pile up or land out of order.
 */
export class LatestWriter {
  private pending: string | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly write: (data: string) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  set(data: string): void {
    this.pending = data;
    this.inFlight ??= this.drain();
  }

  /** Resolves once everything set so far is on disk (or has failed and been reported). */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending !== undefined) {
        const data = this.pending;
        this.pending = undefined;
        try {
          await this.write(data);
        } catch (error) {
          this.onError(error);
        }
      }
    } finally {
      this.inFlight = undefined;
    }
  }
}
