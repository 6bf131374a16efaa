import type { Metric } from './pm2-ipc.ts';

/**
 * The clock's pulse through PM2, for while its heartbeat file cannot be written (the state's disk is
 * full, read-only, failing). Chosen over a heartbeat that needs no new space (rewritten in place):
 * that would cover a full disk but not a read-only one or an I/O error, and a reader could catch it
 * half-written. PM2's IPC needs no disk at all, ties the message to the pid PM2 launched (the daemon
 * stamps it with the app's pm_id), and its metrics reach the probe in the process list it reads
 * anyway. They are sent only while the file fails, so a healthy clock costs the daemon nothing more,
 * and they show in `pm2 monit` as what they are: `heartbeat` says where the pulse is, `held` what holds
 * the ticks back.
 */
export const HEARTBEAT_METRIC = 'heartbeat';
export const HELD_METRIC = 'held';

// "via PM2 (heartbeat.json: ENOSPC), pid 1234 beat 56": any app's heartbeat file by its name.
const VIA_PM2 = /^via PM2 \([^:()]*: (.*)\), pid (\d+) beat (\d+)$/;

/** What the clock publishes: where its pulse is, and what holds its ticks back. */
export function pulseMetrics(pid: number, beat: number, fileFault: string | undefined, held: { on: string; why: string; forMs?: number }[], file = 'heartbeat.json'): Record<string, Metric> {
  return {
    [HEARTBEAT_METRIC]: { value: fileFault === undefined ? file : `via PM2 (${file}: ${fileFault}), pid ${pid} beat ${beat}` },
    [HELD_METRIC]: { value: held.length === 0 ? 'no' : held.map((hold) => `${hold.on}: ${hold.why}`).join('; ') },
  };
}

export interface Pm2Pulse {
  pid: number;
  /** Changes at every beat: the probe times how long it has seen it unchanged. */
  beat: number;
  /** Why the file cannot be written. */
  fileFault: string;
  /** What holds it back, by name ('state', 'log', or an app's own). */
  held: string[];
}

/** The pulse an app's PM2 metrics carry, when its heartbeat file cannot be written; undefined otherwise. */
export function pm2PulseOf(metrics: Record<string, unknown>): Pm2Pulse | undefined {
  const match = VIA_PM2.exec(String(metrics[HEARTBEAT_METRIC] ?? ''));
  if (!match) return undefined;
  return { fileFault: match[1] as string, pid: Number(match[2]), beat: Number(match[3]), held: heldOf(String(metrics[HELD_METRIC] ?? 'no')) };
}

function heldOf(value: string): string[] {
  if (value === 'no') return [];
  return value.split('; ').flatMap((part) => {
    const on = part.slice(0, part.indexOf(':')).trim();
    return on === '' ? [] : [on];
  });
}
