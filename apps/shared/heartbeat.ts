import { readFile } from 'node:fs/promises';

/**
 * The clock's pulse, read by the probe: written atomically when the clock is ready, then at least
 * every 500 ms by its main thread. A main thread that hangs stops writing it; that is how a hang shows.
 */
export interface Heartbeat {
  pid: number;
  /** /proc start time in clock ticks (Linux), so a reused pid is never taken for this clock. */
  startTicks: number | null;
  /** Wall-clock ms when the process started, and when it became ready. */
  startedAt: number;
  readyAt: number;
  /** Wall-clock ms of this write: its age is the heartbeat's age. */
  writtenAt: number;
  run: number;
  threads: { name: string; tick: number; at: number | null }[];
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
