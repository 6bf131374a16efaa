import { readStateFile } from './state-file.ts';

/**
 * The clock's pulse, read by the probe: written atomically by the clock that owns the state, from
 * the moment it takes the state lock ('starting', which includes a crash-loop back-off), at once
 * when it is ready ('ticking'), and every HEARTBEAT_PERIOD_MS by its main thread. A main thread that
 * hangs stops writing it; that is how a hang shows.
 */
export interface Heartbeat {
  /**
   * The guard contract's fields (apps/shared/guard-contract.ts), which the probe judges every guarded
   * app by, the clock included (absent from older clocks); everything else here is the clock's own,
   * for people and npm run status.
   */
  guard?: 1;
  seq?: number;
  ready?: boolean;
  owedInMs?: number | null;
  pid: number;
  /** /proc start time in clock ticks (Linux), so a reused pid is never taken for this clock. */
  startTicks: number | null;
  /** 'following': cluster mode, waiting for the leadership (beating, not ticking). */
  phase: 'starting' | 'ticking' | 'following';
  /** Wall-clock ms when the process started, and when it became ready (null while starting). */
  startedAt: number;
  readyAt: number | null;
  /**
   * Wall-clock ms of this write, for people and logs. Not how a watchdog ages it: another process's
   * wall clock can be stepped either way (the probe times how long it has seen the file unchanged).
   */
  writtenAt: number;
  /**
   * The writer's monotonic clock at this write (ms since it started): it grows with every write,
   * whatever the wall clock does, so that no two writes are ever the same file (absent from older clocks).
   */
  monotonicMs?: number;
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
  /**
   * What holds the ticks back (absent or empty: nothing). A held clock is alive and owes no tick:
   * what holds it is outside it (a full or read-only disk, a log PM2 stopped writing), so restarting
   * it would not help; it carries on by itself once the fault is gone (apps/clock/holds.ts).
   */
  held?: Hold[];
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

export interface Hold {
  /** 'state': the checkpoint cannot be saved; 'log': PM2's log has stopped taking the clock's lines. */
  on: 'state' | 'log';
  /** In a few words, with the error code where there is one: "ENOSPC", "no tick reached it for 2.1 s". */
  why: string;
  /** How long it has held, ms (the clock's monotonic clock). */
  forMs: number;
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

/**
 * The most a heartbeat can be: ~150 bytes a thread plus ~300 of its own, so a thousand threads fit.
 * Anything bigger is no heartbeat, and is not read into memory every probe period.
 */
export const HEARTBEAT_CAP_BYTES = 256 * 1024;

export function serializeHeartbeat(heartbeat: Heartbeat): string {
  return `${JSON.stringify(heartbeat)}\n`;
}

/**
 * The last heartbeat written, or why there is none to use. Its readers (the probe, npm run status)
 * do not own the state: they move nothing aside, whatever they find.
 */
export async function readHeartbeatFile(path: string): Promise<
  { kind: 'missing' } | { kind: 'read'; heartbeat: Heartbeat } | { kind: 'unusable'; reason: string }
> {
  let file: Awaited<ReturnType<typeof readStateFile>>;
  try {
    file = await readStateFile(path, HEARTBEAT_CAP_BYTES);
  } catch (error) {
    return { kind: 'unusable', reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  if (file.kind !== 'read') return file;
  let value: Partial<Heartbeat>;
  try {
    value = JSON.parse(file.text) as Partial<Heartbeat>;
  } catch {
    return { kind: 'unusable', reason: file.text.trim() === '' ? 'empty file' : 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || typeof value.pid !== 'number' || typeof value.writtenAt !== 'number') {
    return { kind: 'unusable', reason: 'no pid or writtenAt' };
  }
  return { kind: 'read', heartbeat: value as Heartbeat };
}

/** The last heartbeat written, or undefined when there is none or it cannot be read as one. */
export async function readHeartbeat(path: string): Promise<Heartbeat | undefined> {
  const file = await readHeartbeatFile(path);
  return file.kind === 'read' ? file.heartbeat : undefined;
}
