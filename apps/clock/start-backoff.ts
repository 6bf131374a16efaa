import { writeFileWhole } from '../shared/atomic-write.ts';
import { moveAside, removedNote } from '../shared/state-dir.ts';
import { readStateFileSync } from '../shared/state-file.ts';
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
}

export const HEALTHY_AFTER_MS = 1_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
// A record is ~60 bytes ({"healthy":false,"failures":12,"at":…}); anything bigger is not one.
const START_RECORD_CAP_BYTES = 4 * 1024;

/** Consecutive failed starts, counting the previous one if it never became healthy. */
export function failuresSoFar(previous: StartRecord | undefined): number {
  return !previous || previous.healthy ? 0 : previous.failures + 1;
}

/** How long to wait before starting after `failures` failed starts in a row: 0, then 1 s doubling to 30 s. */
export function backoffDelayMs(failures: number): number {
  return failures === 0 ? 0 : Math.min(FIRST_DELAY_MS * 2 ** (failures - 1), MAX_DELAY_MS);
}

/**
 * The record of the last start; a damaged one (unparsable, or not a regular file of at most
 * START_RECORD_CAP_BYTES) is moved aside, said, and counts as none. (Read synchronously, as the checkpoint is.)
 */
export async function readStartRecord(path: string, say: (line: string) => void = warn): Promise<StartRecord | undefined> {
  const file = readStateFileSync(path, START_RECORD_CAP_BYTES);
  if (file.kind === 'missing') return undefined;
  const record = file.kind === 'read' ? parseStartRecord(file.text) : undefined;
  if (record) return record;
  const { movedTo, removed } = await moveAside(path);
  say(`the start record was damaged (${file.kind === 'read' ? 'not a start record' : file.reason}); moved it aside to ${movedTo}${removedNote(removed)}; counting no failed starts before this one`);
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
    const { healthy, failures, at } = JSON.parse(text) as Partial<StartRecord>;
    if (typeof healthy === 'boolean' && Number.isSafeInteger(failures) && (failures ?? -1) >= 0 && typeof at === 'number' && at > 0) {
      return { healthy, failures: failures as number, at };
    }
  } catch {
    // Not JSON: damaged like any other.
  }
  return undefined;
}

/** Atomic, not fsynced: a power cut can at worst cost one back-off step, and a start needs no fsync wait. */
export async function writeStartRecord(path: string, record: StartRecord): Promise<void> {
  await writeFileWhole(path, `${JSON.stringify(record)}\n`);
}
