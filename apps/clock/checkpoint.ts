import { StateFile } from '../guard/state.ts';
import { removedNote } from '../shared/state-dir.ts';
import { readStateFileSync } from '../shared/state-file.ts';

/**
 * The clock's memory, rewritten after every tick: the run in progress and each thread's last tick.
 * After a kill at any instant, each thread resumes at its last checkpointed tick + 1.
 */
export interface Checkpoint {
  version: typeof CHECKPOINT_VERSION;
  run: number;
  /** Wall-clock ms when this run started. */
  runStartedAt: number;
  threads: ThreadProgress[];
  /** How many times a clock has resumed from this checkpoint (absent in older files: 0). */
  resumes?: number;
}

export interface ThreadProgress {
  name: string;
  /** The last tick printed in this run; 0 before the first. */
  tick: number;
  /** Wall-clock ms of that tick; null before the first. */
  at: number | null;
}

export const CHECKPOINT_VERSION = 1;

/**
 * The most a checkpoint can be: ~60 bytes a thread, so two threads need ~200 and a thousand fit.
 * Anything bigger is no checkpoint of ours, and is not read into memory (a 700 MB one crashed the
 * clock in JSON.parse's string before this).
 */
export const CHECKPOINT_CAP_BYTES = 64 * 1024;

/** The checkpoint cannot be used; `reason` says why in a few words. */
export class CheckpointDamage extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'CheckpointDamage';
  }
}

export function serializeCheckpoint(checkpoint: Checkpoint): string {
  return `${JSON.stringify(checkpoint)}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CheckpointDamage(text.trim() === '' ? 'empty file' : 'not JSON (truncated?)');
  }
  if (!isRecord(value)) throw new CheckpointDamage('not a JSON object');
  const { version, run, runStartedAt, threads, resumes } = value;
  if (typeof version === 'number' && version > CHECKPOINT_VERSION) {
    throw new CheckpointDamage(`format version ${version} is newer than this clock's ${CHECKPOINT_VERSION}`);
  }
  if (version !== CHECKPOINT_VERSION) throw new CheckpointDamage(`unknown format version ${JSON.stringify(version)}`);
  if (!isCount(run) || run < 1) throw new CheckpointDamage('"run" is not a whole number from 1');
  if (!isTime(runStartedAt)) throw new CheckpointDamage('"runStartedAt" is not a time');
  if (!Array.isArray(threads) || threads.length === 0) throw new CheckpointDamage('"threads" is not a list');
  const progress = threads.map((thread, index) => {
    if (!isRecord(thread) || typeof thread.name !== 'string' || !isCount(thread.tick)) {
      throw new CheckpointDamage(`thread ${index + 1} lacks a name or a whole tick number`);
    }
    if (!(thread.at === null || isTime(thread.at)) || (thread.tick > 0 && thread.at === null)) {
      throw new CheckpointDamage(`thread ${index + 1} has no time for its last tick`);
    }
    return { name: thread.name, tick: thread.tick, at: thread.at };
  });
  if (resumes === undefined) return { version: CHECKPOINT_VERSION, run, runStartedAt, threads: progress };
  if (!isCount(resumes)) throw new CheckpointDamage('"resumes" is not a whole number');
  return { version: CHECKPOINT_VERSION, run, runStartedAt, threads: progress, resumes };
}

export type LoadedCheckpoint =
  | { kind: 'none' }
  | { kind: 'loaded'; checkpoint: Checkpoint }
  | { kind: 'damaged'; reason: string; movedTo: string; removed: string[] };

/**
 * Reads the checkpoint. A damaged one (unparsable, or anything but a regular file of at most
 * CHECKPOINT_CAP_BYTES: a directory, a FIFO, a symlink, an unreadable file) is moved aside under a
 * timestamped name, so that it can be looked at; the clock then starts afresh instead of
 * crash-looping or blocking on it. The read is synchronous: a few hundred bytes, on the way to
 * ticking, where a thread-pool trip costs more.
 */
export async function loadCheckpoint(path: string, now = new Date()): Promise<LoadedCheckpoint> {
  const read = await checkpointFile(path).read(now);
  return read.kind === 'loaded' ? { kind: 'loaded', checkpoint: read.value } : read;
}

/**
 * The checkpoint as a crash-safe state file of the guard module (apps/guard/state.ts), as any guarded
 * app's: bounded, no symlink, damage moved aside. The clock says the damage itself, once ticking
 * (damageLine: scripts/lib/tick-continuity.ts recognises that line in the log).
 */
function checkpointFile(path: string): StateFile<Checkpoint> {
  return new StateFile(path, { parse: parseCheckpoint, serialize: serializeCheckpoint, capBytes: CHECKPOINT_CAP_BYTES, say: () => {} });
}

/** The checkpoint, for a look that must neither move nor wait (a standby's rehearsal); throws if there is none usable. */
export function peekCheckpoint(path: string): Checkpoint {
  const file = readStateFileSync(path, CHECKPOINT_CAP_BYTES);
  if (file.kind !== 'read') throw new CheckpointDamage(file.kind === 'missing' ? 'none' : file.reason);
  return parseCheckpoint(file.text);
}

/** The clock's line for a damaged checkpoint (scripts/lib/tick-continuity.ts recognises it in the log). */
export function damageLine({ reason, movedTo, removed }: Extract<LoadedCheckpoint, { kind: 'damaged' }>): string {
  return `the checkpoint was damaged (${reason}); moved it aside to ${movedTo}${removedNote(removed)}; starting a fresh run 1`;
}

export async function saveCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await checkpointFile(path).write(checkpoint);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}
