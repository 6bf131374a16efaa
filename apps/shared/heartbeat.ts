import { readFile } from 'node:fs/promises';

/**
 * The clock's pulse, read by the probe: written atomically by the clock that owns the state, from
 * the moment it takes the state lock ('starting', which includes a crash-loop back-off), at once
 * when it is ready ('ticking'), and every HEARTBEAT_PERIOD_MS by its main thread. A main thread that
 * hangs stops writing it; that is how a hang shows.
 */
export interface Heartbeat {
  pid: number;
  /** /proc start time in clock ticks (Linux), so a reused pid is never taken for this clock. */
  startTicks: number | null;
  /** 'following': cluster mode, waiting for the leadership (beating, not ticking). */
  phase: 'starting' | 'ticking' | 'following';
  /** Wall-clock ms when the process started, and when it became ready (null while starting). */
  startedAt: number;
  readyAt: number | null;
  /** Wall-clock ms of this write: its age is the heartbeat's age. */
  writtenAt: number;
  /** The run in progress, and each thread's last tick (null and empty while starting). */
  run: number | null;
  /** CLOCK_TICKS: a thread at this tick is done with the run (absent from older clocks). */
  ticksPerRun?: number;
  /** Each thread's last tick, and how late it fired against its schedule (monotonic clock, ms). */
  threads: HeartbeatThread[];
  /**
   * Clocks connected to the state lock, waiting for it. Every clock of this state either owns the
   * lock or waits on it, so this is how a watchdog learns of a duplicate without scanning /proc.
   */
  waiters: number;
  /** Cluster mode (CLOCK_ETCD): this host's part in the election. */
  cluster?: {
    name: string;
    host: string;
    role: 'leader' | 'follower';
    /** The leader key's value (host:pid), or null while none is known. */
    leader: string | null;
    /** ms since etcd last confirmed this clock's lease (null without one). */
    leaseAgeMs: number | null;
  };
}

export interface HeartbeatThread {
  name: string;
  tick: number;
  at: number | null;
  lateMs?: number;
  /** Its interval, ms (absent from older clocks). */
  intervalMs?: number;
  /**
   * ms, at `writtenAt`, since the thread last showed progress: its last tick, or the moment it began
   * to owe one (ticking started, a run began). Measured on the clock's monotonic clock, so a step of
   * the system clock cannot fake or hide a stall (absent from older clocks).
   */
  quietMs?: number;
}

export const HEARTBEAT_PERIOD_MS = 250;

export function serializeHeartbeat(heartbeat: Heartbeat): string {
  return `${JSON.stringify(heartbeat)}\n`;
}

/** The last heartbeat written, or undefined when there is none or it cannot be read as one. */
export async function readHeartbeat(path: string): Promise<Heartbeat | undefined> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<Heartbeat>;
    if (typeof value.pid !== 'number' || typeof value.writtenAt !== 'number') return undefined;
    return value as Heartbeat;
  } catch {
    return undefined;
  }
}
