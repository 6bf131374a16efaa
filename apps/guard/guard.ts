import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GUARD_ENV, GUARD_VERSION, GuardSettingError, guardSettingsOf, type GuardBeat } from '../shared/guard-contract.ts';
import { publishMetrics, signalReady } from '../shared/pm2-ipc.ts';
import { pulseMetrics } from '../shared/pm2-pulse.ts';
import { BeatFile } from './beat-file.ts';

export { StateFile, type StateFileOptions, type StateRead } from './state.ts';

/**
 * What a Node app does to be guarded by the probe (the README's "Guard any app"): a few calls that
 * say when it is ready, when it makes progress and by when it owes the next; the beat file that
 * carries them to the probe is written by a timer of its own. Outside a guard (no GUARD_HEARTBEAT)
 * every call still works and writes nothing, so the app runs anywhere.
 *
 *   const guard = Guard.fromEnv();
 *   guard.ready();
 *   guard.progress(5_000);   // made progress now; owes the next within 5 s
 *   guard.idle();            // owes nothing until the next progress or owe
 *   await guard.stopping();
 */
export class Guard {
  /** The most time between two beats; less when GUARD_HANG_MS / 4 is less, as the contract asks. */
  static readonly PERIOD_MS = 250;

  private readonly file: BeatFile | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private isReady = false;
  private stopped = false;
  /** Monotonic (performance.now()) moments: the last progress, and when the next is owed (undefined: owes none). */
  private lastProgress: number | undefined;
  private owedAt: number | undefined;
  /** The span the last progress(ms) or owe(ms) promised, kept for progress() without one. */
  private promiseMs: number | undefined;
  private readonly holds = new Map<string, { why: string; since: number }>();
  private more: (() => Record<string, unknown>) | undefined;
  /** Whether the pulse last went through PM2 (the file failing), so that its end is published once. */
  private viaPm2 = false;

  /**
   * The guard this process's env asks for: GUARD_HEARTBEAT (and GUARD_HANG_MS for how often to beat),
   * as PM2 gives them from the ecosystem file (guard-app.js). Without GUARD_HEARTBEAT, a guard that
   * writes nothing. A bad setting is said once on stderr: a heartbeat path that is not absolute leaves
   * the app unguarded, as the probe will; a bad GUARD_HANG_MS or GUARD_STALL_MS is the probe's to
   * refuse, and meanwhile the app beats every PERIOD_MS.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, say: (line: string) => void = sayOnStderr): Guard {
    const heartbeat = env[GUARD_ENV.heartbeat];
    if (heartbeat === undefined || heartbeat.trim() === '') return new Guard(undefined, Guard.PERIOD_MS, say);
    try {
      const settings = guardSettingsOf(env.name ?? basename(heartbeat, '.json'), (name) => env[name]);
      return new Guard(settings?.heartbeat, periodFor(settings?.hangMs), say);
    } catch (error) {
      if (!(error instanceof GuardSettingError)) throw error;
      say(error.message);
      return new Guard(error.setting === GUARD_ENV.heartbeat ? undefined : heartbeat, Guard.PERIOD_MS, say);
    }
  }

  /** A guard writing its beats to `heartbeat` every `periodMs` (none: a guard that writes nothing); fromEnv is the usual way. */
  constructor(
    heartbeat: string | undefined,
    readonly periodMs: number = Guard.PERIOD_MS,
    say: (line: string) => void = sayOnStderr,
  ) {
    if (heartbeat === undefined) return;
    this.file = new BeatFile(heartbeat, periodMs, (line) => say(`guard: ${line}`));
    this.write();
    // unref: the beat never keeps the process alive; an app with nothing else to do exits as it would unguarded.
    this.timer = setInterval(() => this.write(), periodMs);
    this.timer.unref();
  }

  /** Whether beats are written (GUARD_HEARTBEAT was given). */
  get guarded(): boolean {
    return this.file !== undefined;
  }

  /** The beat file's path, undefined for a guard that writes nothing. */
  get heartbeat(): string | undefined {
    return this.file?.path;
  }

  /** The app is ready: said in the next beat (written at once), and to PM2 for its wait_ready (process.send('ready')). */
  ready(): void {
    if (this.stopped || this.isReady) return;
    this.isReady = true;
    this.write();
    signalReady();
  }

  /**
   * The app made progress now, and owes the next within `withinMs`; without it, within the span it
   * last promised (or owes none, if it never promised any).
   */
  progress(withinMs?: number): void {
    if (this.stopped) return;
    this.lastProgress = performance.now();
    this.promise(withinMs ?? this.promiseMs);
  }

  /**
   * The app owes progress within `withinMs` from now, without having made any: work arrived after an
   * idle spell, or the app is ready and its first piece of work is under way.
   */
  owe(withinMs: number): void {
    if (this.stopped) return;
    this.promise(withinMs);
  }

  /** The app has nothing to do: it owes no progress until the next progress(ms) or owe(ms). An idle app is never stalled. */
  idle(): void {
    this.owedAt = undefined;
  }

  /**
   * Something outside the app holds it back (a full disk, a log that takes nothing): while any hold
   * lasts, the app owes nothing and the probe leaves it alone, for a restart would not help. `on`
   * names what holds it; holding the same `on` again changes only the reason.
   */
  hold(on: string, why: string): void {
    const current = this.holds.get(on);
    this.holds.set(on, { why, since: current?.since ?? performance.now() });
  }

  /** The hold on `on` is over. */
  release(on: string): void {
    this.holds.delete(on);
  }

  /**
   * Fields of the app's own to write in every beat beside the contract's (what it is doing, for
   * people and tools: the probe reads only the contract's fields). `fields` is called at each write;
   * it cannot replace a field of the contract, and what it returns must be JSON and small (a beat
   * is at most 64 KB).
   */
  describe(fields: () => Record<string, unknown>): void {
    this.more = fields;
  }

  /**
   * The app is stopping: no more beats, and the beat file is removed if it is still this process's,
   * so that nothing is left that looks like a silent app (a new process of the app writes its own).
   * Call it before exiting on a stop; never rejects.
   */
  async stopping(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.file?.removeOwn(process.pid);
  }

  /** The beat as written at this instant (GuardBeat of apps/shared/guard-contract.ts). */
  beat(now: number = performance.now()): GuardBeat {
    const held = [...this.holds].map(([on, { why, since }]) => ({ on, why, forMs: Math.round(now - since) }));
    return {
      guard: GUARD_VERSION,
      pid: process.pid,
      seq: this.seq,
      ready: this.isReady,
      owedInMs: this.owedAt === undefined ? null : Math.round(this.owedAt - now),
      progressAgoMs: this.lastProgress === undefined ? null : Math.round(now - this.lastProgress),
      ...(held.length > 0 ? { held } : {}),
    };
  }

  private promise(withinMs: number | undefined): void {
    if (withinMs === undefined) {
      this.owedAt = undefined;
      return;
    }
    if (!Number.isFinite(withinMs) || withinMs < 0) {
      throw new RangeError(`guard: expected the progress owed within a number of ms from 0, got ${String(withinMs)} (${typeof withinMs})`);
    }
    this.promiseMs = withinMs;
    this.owedAt = performance.now() + withinMs;
  }

  private write(): void {
    if (!this.file || this.stopped) return;
    this.seq += 1;
    const beat = this.beat();
    this.file.set(`${JSON.stringify({ ...this.more?.(), ...beat })}\n`);
    // While the file cannot be written (a full or read-only disk), the pulse goes through PM2's
    // metrics, where the probe takes it as a sign of life of this very pid (apps/shared/pm2-pulse.ts):
    // a silent file alone would read as a hang, and a restart would only meet the same disk.
    const fault = this.file.failing;
    if (fault === undefined && !this.viaPm2) return;
    this.viaPm2 = fault !== undefined;
    publishMetrics(pulseMetrics(process.pid, this.seq, fault, beat.held ?? [], basename(this.file.path)));
  }
}

/** At least 4 beats per GUARD_HANG_MS, and never fewer than 4 a second. */
function periodFor(hangMs: number | undefined): number {
  return hangMs === undefined ? Guard.PERIOD_MS : Math.max(1, Math.min(Guard.PERIOD_MS, Math.floor(hangMs / 4)));
}

function sayOnStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}
