import { lstatSync } from 'node:fs';
import { GUARD_BEAT_CAP_BYTES, parseGuardBeat, type GuardBeat } from '../shared/guard-contract.ts';
import { readStateFileSync } from '../shared/state-file.ts';

/**
 * One look at a guarded app's heartbeat file, with a key that changes whenever the file does: what
 * the probe times the app's silence by (staleness.ts). A beat's key is its text: every write differs
 * (its seq grows). A file that is no beat of the contract is keyed by its identity (inode, size,
 * change times), so an app that rewrites it is still seen beating, and never trusted otherwise.
 *
 * Read synchronously: through libuv's thread pool a read is four round trips (open, fstat, read,
 * close), measured at ~250 µs of CPU against ~25 µs here, and with 20 guarded apps looked at twice a
 * second that alone was 1 % of a core. Nothing is lost by it: a round looks at its apps one after
 * another and awaits each read anyway, so a disk that holds a read holds the round either way, and
 * the probe's own pulse then stops too, which is the truth (it watches nothing meanwhile).
 */
export type Pulse =
  | { kind: 'missing' }
  | { kind: 'read'; beat: GuardBeat; raw: Record<string, unknown>; key: string }
  | { kind: 'unusable'; reason: string; key: string };

export function readPulse(path: string): Pulse {
  let reason: string;
  try {
    const file = readStateFileSync(path, GUARD_BEAT_CAP_BYTES);
    if (file.kind === 'missing') return file;
    if (file.kind === 'read') {
      const parsed = parseGuardBeat(file.text);
      if (parsed.kind === 'beat') return { kind: 'read', beat: parsed.beat, raw: parsed.raw, key: file.text };
      reason = parsed.reason;
    } else {
      reason = file.reason;
    }
  } catch (error) {
    reason = `unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  // lstat never blocks and never follows a link, whatever sits at the name.
  const stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  if (!stats) return { kind: 'missing' };
  return { kind: 'unusable', reason, key: `file ${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}` };
}
