import { lstat } from 'node:fs/promises';
import { GUARD_BEAT_CAP_BYTES, parseGuardBeat, type GuardBeat } from '../shared/guard-contract.ts';
import { readStateFile } from '../shared/state-file.ts';

/**
 * One look at a guarded app's heartbeat file, with a key that changes whenever the file does: what
 * the probe times the app's silence by (staleness.ts). A beat's key is its text: every write differs
 * (its seq grows). A file that is no beat of the contract is keyed by its identity (inode, size,
 * change times), so an app that rewrites it is still seen beating, and never trusted otherwise.
 */
export type Pulse =
  | { kind: 'missing' }
  | { kind: 'read'; beat: GuardBeat; raw: Record<string, unknown>; key: string }
  | { kind: 'unusable'; reason: string; key: string };

export async function readPulse(path: string): Promise<Pulse> {
  let reason: string;
  try {
    const file = await readStateFile(path, GUARD_BEAT_CAP_BYTES);
    if (file.kind === 'missing') return file;
    if (file.kind === 'read') {
      const parsed = parseGuardBeat(file.text);
      if (parsed.kind === 'beat') return { kind: 'read', beat: parsed.beat, raw: JSON.parse(file.text) as Record<string, unknown>, key: file.text };
      reason = parsed.reason;
    } else {
      reason = file.reason;
    }
  } catch (error) {
    reason = `unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  // lstat never blocks and never follows a link, whatever sits at the name.
  const stats = await lstat(path, { bigint: true }).catch(() => undefined);
  if (!stats) return { kind: 'missing' };
  return { kind: 'unusable', reason, key: `file ${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}` };
}
