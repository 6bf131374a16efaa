import { overdueMs, type GuardBeat } from '../shared/guard-contract.ts';
import type { Pm2App } from './pm2-client.ts';

/** What the probe sees of one guarded app in one look, from its three sources. */
export interface Observation {
  /** The app's name in PM2. */
  name: string;
  /** The probe's monotonic clock (performance.now()) at this look: only its own timers use it. */
  now: number;
  /** PM2's view of the app's instance being judged; undefined when PM2 has no such app. */
  app: Pm2App | undefined;
  /** Whether PM2's pid is alive and proven to be the process PM2 launched as this app. */
  verified: boolean;
  /**
   * ms this probe has watched that process (same pid and start) without a break: how long it has
   * been silent, when it writes no beat of its own.
   */
  watchedMs: number;
  /** The beat; while the file cannot be read as one, the last one that could. */
  beat: GuardBeat | undefined;
  /**
   * ms the heartbeat file has gone unchanged, as this probe watched it (staleness.ts): the beat's
   * age, on the probe's monotonic clock alone. Undefined when there is no file.
   */
  beatAgeMs: number | undefined;
  /** The file is there, but no beat of the contract (garbage, a directory…): only its changes show a pulse. */
  beatUnusable?: boolean;
  /** Whether the beat was written by that very process. */
  beatIsOwn: boolean;
  /** Whether the beat's writer is another live instance of this app (a duplicate holding its state). */
  beatIsDuplicate: boolean;
  /** The app's guard settings: silent longer than hangMs is hung; owed progress later than stallMs past its moment is stalled. */
  hangMs: number;
  stallMs: number;
  /**
   * The pulse PM2's metrics carry for that very process while it cannot write its heartbeat file (a
   * full or read-only disk: apps/shared/pm2-pulse.ts): how long this probe has seen it unchanged, and
   * what holds it. Undefined when it beats in its file.
   */
  pm2Pulse?: { ageMs: number; held: string[] };
  /**
   * More than one PM2 instance (a hot standby): only the beat's writer is judged; PM2's view may lag
   * a takeover, so silence since an instance's start proves nothing there.
   */
  standbyMode?: boolean;
}

export type Finding =
  | { kind: 'not-declared' }
  | { kind: 'stopped'; status: string }
  | { kind: 'transient'; status: string }
  | { kind: 'errored' }
  | { kind: 'ghost'; pid: number }
  | { kind: 'hung'; pid: number; silentMs: number }
  | { kind: 'stalled'; pid: number; overdueMs: number }
  /** Alive, and held back by a fault of the machine (a disk full or read-only, a dead log): restarting would not help. */
  | { kind: 'held'; pid: number; on: string[] }
  | { kind: 'waiting'; pid: number; ownerPid: number }
  | { kind: 'starting'; pid: number }
  | { kind: 'healthy'; pid: number; beatAgeMs: number };

/** Decides what state one guarded app is in. Pure: the probe gathers, this judges, the healer acts. */
export function diagnose(seen: Observation): Finding {
  const { app } = seen;
  if (!app) return { kind: 'not-declared' };
  if (app.status === 'stopped') return { kind: 'stopped', status: app.status };
  if (app.status === 'errored') return { kind: 'errored' };
  if (app.status !== 'online') return { kind: 'transient', status: app.status };
  if (!seen.verified) return { kind: 'ghost', pid: app.pid };
  const { beat, pm2Pulse } = seen;
  if (beat && seen.beatIsOwn) {
    // While the app says its file cannot be written, its pulse through PM2 is the one to judge: the
    // file is its last before the disk failed.
    const age = pm2Pulse ? pm2Pulse.ageMs : (seen.beatAgeMs ?? 0);
    if (age > seen.hangMs) return { kind: 'hung', pid: app.pid, silentMs: age };
    const held = pm2Pulse ? pm2Pulse.held : (beat.held ?? []).map((hold) => hold.on);
    if (held.length > 0) return { kind: 'held', pid: app.pid, on: held };
    // A fresh pulse proves the app runs, not that it progresses; an unreadable file, or a pulse that
    // only PM2 carries, says nothing of progress.
    const overdue = seen.beatUnusable || pm2Pulse ? undefined : overdueMs(beat, age, seen.stallMs);
    if (overdue !== undefined) return { kind: 'stalled', pid: app.pid, overdueMs: overdue };
    return { kind: 'healthy', pid: app.pid, beatAgeMs: age };
  }
  // Not (yet) the writer of the beat: waiting for a duplicate to let go, or still starting.
  if (beat && seen.beatIsDuplicate) return { kind: 'waiting', pid: app.pid, ownerPid: beat.pid };
  // An app whose disk failed before it wrote a beat of its own beats through PM2 alone.
  if (pm2Pulse && pm2Pulse.ageMs <= seen.hangMs) return pm2Pulse.held.length > 0 ? { kind: 'held', pid: app.pid, on: pm2Pulse.held } : { kind: 'starting', pid: app.pid };
  if (seen.standbyMode) return { kind: 'starting', pid: app.pid };
  // A file that is no beat but keeps changing is someone beating: silent only once it stops.
  const silentMs = seen.beatUnusable ? Math.min(seen.watchedMs, seen.beatAgeMs ?? Infinity) : seen.watchedMs;
  return silentMs > seen.hangMs ? { kind: 'hung', pid: app.pid, silentMs } : { kind: 'starting', pid: app.pid };
}
