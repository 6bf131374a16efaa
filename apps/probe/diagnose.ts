import type { Heartbeat, Hold } from '../shared/heartbeat.ts';
import { stalledThread } from './stall.ts';
import type { Pm2App } from './pm2-client.ts';

/** What the probe sees of the clock in one look, from its three sources. */
export interface Observation {
  /** The probe's monotonic clock (performance.now()) at this look: only its own timers use it. */
  now: number;
  /** PM2's view of the app `clock`; undefined when PM2 has no such app. */
  app: Pm2App | undefined;
  /** Whether PM2's pid is alive and proven to be the process PM2 launched as `clock`. */
  verified: boolean;
  /**
   * ms this probe has watched that process (same pid and start) without a break: how long it has
   * been silent, when it writes no heartbeat of its own.
   */
  watchedMs: number;
  /** The heartbeat; while the file cannot be read as one, the last one that could. */
  heartbeat: Heartbeat | undefined;
  /**
   * ms the heartbeat file has gone unchanged, as this probe watched it (staleness.ts): the
   * heartbeat's age, on the probe's monotonic clock alone. Undefined when there is no file.
   */
  heartbeatAgeMs: number | undefined;
  /** The file is there, but no heartbeat (garbage, a directory…): only its changes show a pulse. */
  heartbeatUnusable?: boolean;
  /** Whether the heartbeat was written by that very process (pid and start time). */
  heartbeatIsOwn: boolean;
  /** Whether the heartbeat's writer is another live clock of this state (a duplicate holding the lock). */
  heartbeatIsDuplicate: boolean;
  hangMs: number;
  /**
   * The pulse PM2's metrics carry for that very process while it cannot write its heartbeat file (a
   * full or read-only state disk: apps/shared/pm2-pulse.ts): how long this probe has seen it
   * unchanged, and what holds its ticks. Undefined when it beats in its file.
   */
  pm2Pulse?: { ageMs: number; held: Hold['on'][] };
  /**
   * Hot-standby mode (two PM2 clocks). A standby never writes the heartbeat, and PM2's view may lag
   * a takeover: silence since its start proves nothing there, so only the heartbeat's writer is judged.
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
  | { kind: 'stalled'; pid: number; thread: string; owedMs: number }
  /** Alive, and holding its ticks for a fault of the machine (a disk full or read-only, a dead log): restarting would not help. */
  | { kind: 'held'; pid: number; on: Hold['on'][] }
  | { kind: 'waiting'; pid: number; ownerPid: number }
  | { kind: 'starting'; pid: number }
  | { kind: 'healthy'; pid: number; heartbeatAgeMs: number };

/** Decides what state the clock is in. Pure: the probe gathers, this judges, the healer acts. */
export function diagnose(seen: Observation): Finding {
  const { app } = seen;
  if (!app) return { kind: 'not-declared' };
  if (app.status === 'stopped') return { kind: 'stopped', status: app.status };
  if (app.status === 'errored') return { kind: 'errored' };
  if (app.status !== 'online') return { kind: 'transient', status: app.status };
  if (!seen.verified) return { kind: 'ghost', pid: app.pid };
  const { heartbeat, pm2Pulse } = seen;
  if (heartbeat && seen.heartbeatIsOwn) {
    // While the clock says its file cannot be written, its pulse through PM2 is the one to judge: the
    // file is its last before the disk failed.
    const age = pm2Pulse ? pm2Pulse.ageMs : (seen.heartbeatAgeMs ?? 0);
    if (age > seen.hangMs) return { kind: 'hung', pid: app.pid, silentMs: age };
    const held = pm2Pulse ? pm2Pulse.held : (heartbeat.held ?? []).map((hold) => hold.on);
    if (held.length > 0) return { kind: 'held', pid: app.pid, on: held };
    // A fresh pulse proves the main thread runs, not that it ticks; an unreadable one, or one that
    // only PM2 carries, says nothing of ticks.
    const stalled = seen.heartbeatUnusable || pm2Pulse ? undefined : stalledThread(heartbeat, age, seen.hangMs);
    if (stalled) return { kind: 'stalled', pid: app.pid, ...stalled };
    return { kind: 'healthy', pid: app.pid, heartbeatAgeMs: age };
  }
  // Not (yet) the owner of the state: waiting for a duplicate to let go, or still starting.
  if (heartbeat && seen.heartbeatIsDuplicate) return { kind: 'waiting', pid: app.pid, ownerPid: heartbeat.pid };
  // A clock whose disk failed before it wrote a heartbeat of its own beats through PM2 alone.
  if (pm2Pulse && pm2Pulse.ageMs <= seen.hangMs) return pm2Pulse.held.length > 0 ? { kind: 'held', pid: app.pid, on: pm2Pulse.held } : { kind: 'starting', pid: app.pid };
  if (seen.standbyMode) return { kind: 'starting', pid: app.pid };
  // A file that is no heartbeat but keeps changing is someone beating: silent only once it stops.
  const silentMs = seen.heartbeatUnusable ? Math.min(seen.watchedMs, seen.heartbeatAgeMs ?? Infinity) : seen.watchedMs;
  return silentMs > seen.hangMs ? { kind: 'hung', pid: app.pid, silentMs } : { kind: 'starting', pid: app.pid };
}
