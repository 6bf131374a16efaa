import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileDurably } from '../shared/atomic-write.ts';
import { moveAside, removedNote } from '../shared/state-dir.ts';
import { readStateFileSync } from '../shared/state-file.ts';

/**
 * An app's memory on disk, crash-safe as the clock's checkpoint: written whole and durably (a kill or
 * a power cut at any instant leaves the old file or the new one), read without trusting what sits at
 * its name (only a regular file of at most `capBytes`, never through a symlink), and a damaged one
 * moved aside under a timestamped name, said, and counted as none, so that the app starts afresh
 * instead of crash-looping on it.
 */
export interface StateFileOptions<T> {
  /** The value in `text`; throws when the text is not one (the error's message says why, in a few words). */
  parse(text: string): T;
  /** The text for `value`; JSON and a newline by default. */
  serialize?(value: T): string;
  /** The most the file can be: anything larger is damage, never read into memory. */
  capBytes: number;
  /** Where the damage line goes; stderr by default. */
  say?(line: string): void;
}

export type StateRead<T> =
  | { kind: 'none' }
  | { kind: 'loaded'; value: T }
  | { kind: 'damaged'; reason: string; movedTo: string; removed: string[] };

export class StateFile<T> {
  constructor(
    readonly path: string,
    private readonly options: StateFileOptions<T>,
  ) {}

  /**
   * The value on disk: none, loaded, or damaged (moved aside and said). A fault of the machine
   * (EIO, EMFILE, …) is thrown, not taken for damage: moving a good file aside for it would throw
   * the app's progress away. Synchronous up to the move: a small file read on the way to work.
   */
  async read(now = new Date()): Promise<StateRead<T>> {
    const file = readStateFileSync(this.path, this.options.capBytes);
    if (file.kind === 'missing') return { kind: 'none' };
    let reason: string;
    if (file.kind === 'unusable') {
      reason = file.reason;
    } else {
      try {
        return { kind: 'loaded', value: this.options.parse(file.text) };
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
    }
    const moved = await moveAside(this.path, now);
    (this.options.say ?? sayOnStderr)(`the state file ${this.path} was damaged (${reason}); moved it aside to ${moved.movedTo}${removedNote(moved.removed)}; starting without it`);
    return { kind: 'damaged', reason, ...moved };
  }

  /**
   * Replaces the file with `value`, durably; its folder is made owner-only if missing. Rejects when
   * it cannot be saved (ENOSPC, EROFS, …): what to do then (hold, retry) is the app's to decide.
   */
  async write(value: T): Promise<void> {
    const text = this.options.serialize ? this.options.serialize(value) : `${JSON.stringify(value)}\n`;
    try {
      await writeFileDurably(this.path, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await writeFileDurably(this.path, text);
    }
  }
}

function sayOnStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}
