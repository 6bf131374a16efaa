import { performance } from 'node:perf_hooks';
import { readHeartbeatFile } from '../shared/heartbeat.ts';
import { lookAtProbePulse, type ProbePulse } from '../shared/probe-pulse.ts';
import { isLiving, readProcStat } from '../shared/proc-stat.ts';
import { statePaths } from '../shared/state-dir.ts';

/**
 * Who watches the watcher: the clock watches the probe's pulse (shared/probe-pulse.ts) and ends a
 * probe that has stopped beating, so that PM2 starts a new one, which then heals whatever hung
 * meanwhile. Every time here is this process's own monotonic clock: the probe's clock is never
 * compared with it, and the wall clock is never asked (either can be stepped). What is timed is how
 * long this clock has watched the pulse file unchanged, as the probe times the clock's heartbeat.
 */

/** How often the clock looks: as often as the probe writes its pulse by default. */
export const WATCH_EVERY_MS = 250;
// The clock's own heartbeat (written every 250 ms) at most this old: the state directory takes writes.
const OWN_WRITES_FRESH_MS = 1_000;

export type Verdict =
  /** No pulse file: no probe, or one that stopped gracefully. Nothing to judge. */
  | 'no probe'
  /**
   * Not counted: the state is not this clock's (a standby's), this clock's own heartbeat is not
   * landing (a read-only or full disk: the probe's pulse cannot land either), or this clock was
   * itself held (stopped, starved). The count starts again.
   */
  | 'not judged'
  | 'beating'
  /** What is at the name is no pulse (garbage, a directory, …): no process to end, whatever its age. */
  | 'no pulse'
  /** Ended (or found gone, or no longer that process) already: one try per pulse, one kill per hang limit. */
  | 'silent, done'
  | 'ended'
  | 'gone'
  | 'not that process'
  | "another user's"
  | 'cannot end here';

export interface ProbeWatchOptions {
  stateDir: string;
  warn(line: string): void;
  /** This process's monotonic clock (tests step their own). */
  now?: () => number;
  /** Whose heartbeat counts as this clock's own (tests stand in for the clock). */
  self?: { pid: number; startTicks: number | null };
}

interface Seen {
  key: string;
  since: number;
}

export class ProbeWatch {
  private readonly paths: { heartbeat: string; probePulse: string };
  private readonly now: () => number;
  private readonly self: { pid: number; startTicks: number | null };
  private seen: Seen | undefined;
  private lastLookAt: number | undefined;
  /** The pulse already acted on, and when: one try per pulse, at most one kill per hang limit. */
  private actedOn: string | undefined;
  private actedAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private cannotEndSaid = false;

  constructor(private readonly options: ProbeWatchOptions) {
    this.paths = statePaths(options.stateDir);
    this.now = options.now ?? (() => performance.now());
    this.self = options.self ?? { pid: process.pid, startTicks: readProcStat(process.pid)?.startTicks ?? null };
  }

  /** Looks every WATCH_EVERY_MS, for as long as the process lives (the timer keeps nothing alive). */
  start(): void {
    this.timer = setTimeout(() => void this.look().finally(() => this.start()), WATCH_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** One look, and what came of it. */
  async look(): Promise<Verdict> {
    const look = await lookAtProbePulse(this.paths.probePulse);
    const now = this.now();
    const held = this.lastLookAt !== undefined && now - this.lastLookAt > heldAfterMs(this.seenPulse(look));
    this.lastLookAt = now;
    if (look.kind === 'missing') {
      this.seen = undefined;
      return 'no probe';
    }
    if (held || !(await this.ownWritesLand(now))) {
      this.seen = { key: look.key, since: now };
      return 'not judged';
    }
    if (this.seen?.key !== look.key) {
      this.seen = { key: look.key, since: now };
      return 'beating';
    }
    const { pulse } = look;
    const silentMs = now - this.seen.since;
    if (!pulse) return 'no pulse';
    if (silentMs <= pulse.hangMs + pulse.pulseMs) return 'beating';
    if (this.actedOn === look.key || now - this.actedAt < pulse.hangMs) return 'silent, done';
    this.actedOn = look.key;
    this.actedAt = now;
    return this.end(pulse, silentMs);
  }

  private seenPulse(look: Awaited<ReturnType<typeof lookAtProbePulse>>): ProbePulse | undefined {
    return look.kind === 'present' ? look.pulse : undefined;
  }

  /**
   * Whether this clock's own heartbeat landed within OWN_WRITES_FRESH_MS: it is written by this very
   * process, so its monotonicMs is on this clock, and fresh it shows that the state directory takes
   * writes. Otherwise the probe's silence says nothing about the probe.
   */
  private async ownWritesLand(now: number): Promise<boolean> {
    const file = await readHeartbeatFile(this.paths.heartbeat);
    if (file.kind !== 'read') return false;
    const { pid, startTicks, monotonicMs } = file.heartbeat;
    if (pid !== this.self.pid || (startTicks ?? null) !== this.self.startTicks || typeof monotonicMs !== 'number') return false;
    const age = now - monotonicMs;
    return age >= 0 && age <= OWN_WRITES_FRESH_MS;
  }

  /**
   * Ends the probe if it is still the process that wrote the pulse (pid and creation time) and this
   * user's. The process table and the kill are loaded only now: a clock that never needs them does
   * not pay for them at start or in memory.
   */
  private async end(pulse: ProbePulse, silentMs: number): Promise<Verdict> {
    if (pulse.createTime === null || pulse.pid === this.self.pid) return 'not that process';
    let table: typeof import('../probe/proc-table.ts');
    let terminate: typeof import('../probe/terminate.ts');
    try {
      [table, terminate] = await Promise.all([import('../probe/proc-table.ts'), import('../probe/terminate.ts')]);
      if (table.procTableProblem !== undefined) throw new Error(table.procTableProblem);
    } catch (error) {
      if (!this.cannotEndSaid) this.options.warn(`the probe pid ${pulse.pid} has not beaten for ${seconds(silentMs)} s, but this clock cannot end it: ${(error as Error).message}`);
      this.cannotEndSaid = true;
      return 'cannot end here';
    }
    const proc = table.readProcess(pulse.pid);
    if (!proc || !isLiving(proc)) return 'gone';
    if (proc.createTime !== pulse.createTime) return 'not that process';
    if (proc.user !== table.currentUser()) return "another user's";
    if (!terminate.killVerified(pulse.pid, pulse.createTime)) return 'gone';
    this.options.warn(
      `the probe pid ${pulse.pid} has not beaten for ${seconds(silentMs)} s (hung or stopped?); ended it (${terminate.killName()}) so that PM2 starts it again`,
    );
    return 'ended';
  }
}

/**
 * A break between two looks longer than this means this clock was held, not merely busy: the probe's
 * own rule for its looks at the clock (probe/staleness.ts), half the hang limit but never less than
 * two looks. Before any pulse is read, the shortest hang limit there is (PROBE_HANG_MS ≥ 500).
 */
function heldAfterMs(pulse: ProbePulse | undefined): number {
  return Math.max((pulse?.hangMs ?? 500) / 2, 2 * WATCH_EVERY_MS);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** Starts watching the probe of the state in `stateDir`, saying what it does through `warn`. */
export function watchProbe(stateDir: string, warn: (line: string) => void): ProbeWatch {
  const watch = new ProbeWatch({ stateDir, warn });
  watch.start();
  return watch;
}
