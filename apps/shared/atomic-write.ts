import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';

/**
 * Replaces `path` with `data` so that a crash at any instant leaves either the old or the new file,
 * whole, and the new one survives a power cut. write-file-atomic does the temp file (named by pid and
 * thread), fsync and rename; the directory fsync makes the rename itself durable.
 */
export async function writeFileDurably(path: string, data: string): Promise<void> {
  await writeFileAtomic(path, data, { mode: 0o600, fsync: true });
  const directory = await open(dirname(path), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Atomic but not fsynced: for files that are a pulse, not a memory (a reader never sees half of one). */
export async function writeFileWhole(path: string, data: string): Promise<void> {
  await writeFileAtomic(path, data, { mode: 0o600, fsync: false });
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
