import { lstat } from 'node:fs/promises';
import { readHeartbeatFile, type Heartbeat } from '../shared/heartbeat.ts';

/**
 * One look at the heartbeat file, with a key that changes whenever the file does: what the probe
 * times the clock's silence by (staleness.ts). A heartbeat's key is its content: a live clock's
 * writes always differ (monotonicMs, or at least writtenAt). A file that is no heartbeat is keyed by
 * its identity (inode, size, change times), so a clock that rewrites it is still seen beating.
 */
export type Pulse =
  | { kind: 'missing' }
  | { kind: 'read'; heartbeat: Heartbeat; key: string }
  | { kind: 'unusable'; reason: string; key: string };

export async function readPulse(path: string): Promise<Pulse> {
  const file = await readHeartbeatFile(path);
  if (file.kind === 'read') return { ...file, key: JSON.stringify(file.heartbeat) };
  if (file.kind === 'missing') return file;
  // lstat never blocks and never follows a link, whatever sits at the name.
  const stats = await lstat(path, { bigint: true }).catch(() => undefined);
  if (!stats) return { kind: 'missing' };
  return { kind: 'unusable', reason: file.reason, key: `file ${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}` };
}
