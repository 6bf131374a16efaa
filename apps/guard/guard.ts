import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GUARD_ENV, GUARD_VERSION, GuardSettingError, guardSettingsOf, type GuardBeat } from '../shared/guard-contract.ts';
import { publishMetrics, signalReady } from '../shared/pm2-ipc.ts';
import { pulseMetrics } from '../shared/pm2-pulse.ts';
import { BeatFile } from './beat-file.ts';

export { StateFile, type StateFileOptions, type StateRead } from './state.ts';

export interface GuardOptions {
  /** ms between two beats (default Guard.PERIOD_MS). */
  periodMs?: number;
  /** Where the guard's own lines go, one whole line each (default: stderr, after "guard: "). */
  say?: (line: string) => void;
  /** Fields of the app's own in every beat, from the first (see describe()). */
  describe?: () => Record<string, unknown>;
}

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
  /** What PM2's metrics last said of the beat file and the holds (published when it changes, and at every beat while the file fails). */
  private lastPulse: string | undefined;
  readonly periodMs: number;

  /**
   * The guard this process's env asks for: GUARD_HEARTBEAT (and GUARD_HANG_MS for how often to beat),
   * as PM2 gives them from the ecosystem file (guard-app.js). Without GUARD_HEARTBEAT, a guard that
   * writes nothing. A bad setting is said once on stderr: a heartbeat path that is not absolute leaves
   * the app unguarded, as the probe will; a bad GUARD_HANG_MS or GUARD_STALL_MS is the probe's to
   * refuse, and meanwhile the app beats every PERIOD_MS.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, say: (line: string) => void = sayOnStderr): Guard {
    const heartbeat = env[GUARD_ENV.heartbeat];
    const options = { say: (line: string) => say(`guard: ${line}`) };
    if (heartbeat === undefined || heartbeat.trim() === '') return new Guard(undefined, options);
    try {
      const settings = guardSettingsOf(env.name ?? basename(heartbeat, '.json'), (name) => env[name]);
      return new Guard(settings?.heartbeat, { ...options, periodMs: periodFor(settings?.hangMs) });
    } catch (error) {
      if (!(error instanceof GuardSettingError)) throw error;
      say(error.message);
      return new Guard(error.setting === GUARD_ENV.heartbeat ? undefined : heartbeat, options);
    }
  }

  /**
   * A guard writing its beats to `heartbeat` (none: a guard that writes nothing): fromEnv is the usual
   * way; this is for an app that knows its beat file itself (the clock: its state directory's).
   */
  constructor(heartbeat: string | undefined, options: GuardOptions = {}) {
    this.periodMs = options.periodMs ?? Guard.PERIOD_MS;
    this.more = options.describe;
    if (heartbeat === undefined) return;
    // Under PM2 the pulse goes through its metrics while the file fails; elsewhere nothing carries it.
    const meanwhile = process.send ? "the pulse goes through PM2's metrics, where the probe reads it" : 'the probe sees no beat';
    this.file = new BeatFile(heartbeat, this.periodMs, options.say ?? ((line) => sayOnStderr(`guard: ${line}`)), meanwhile);
    this.write();
    // unref: the beat never keeps the process alive; an app with nothing else to do exits as it would unguarded.
    this.timer = setInterval(() => this.write(), this.periodMs);
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

  /**
   * The app is ready: said in a beat written at once, and then to PM2 for its wait_ready
   * (process.send('ready')), so that an app PM2 counts online already shows ready to the probe.
   * Resolves once both are out (never rejects; a beat that cannot be written is said, as any).
   */
  async ready(): Promise<void> {
    if (this.stopped || this.isReady) return;
    this.isReady = true;
    this.write();
    await this.file?.flush();
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
   * idle spell, or the app is ready and its first piece of work is under way. Negative: it was owed
   * that long ago already (an app of several parts, one of which is late: the clock's threads).
   */
  owe(withinMs: number): void {
    if (this.stopped) return;
    this.promise(withinMs, true);
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
   * Call it before exiting on a stop; never rejects. `keep`: the last beat stays where it is, for
   * tools that show what a stopped app last said (the clock's, for npm run status); the probe judges
   * a stopped app by PM2's word, whatever its file says.
   */
  async stopping({ keep = false }: { keep?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (keep) await this.file?.flush();
    else await this.file?.removeOwn(process.pid);
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

  private promise(withinMs: number | undefined, pastAllowed = false): void {
    if (withinMs === undefined) {
      this.owedAt = undefined;
      return;
    }
    if (!Number.isFinite(withinMs) || (withinMs < 0 && !pastAllowed)) {
      throw new RangeError(`guard: expected the progress owed within a number of ms from 0, got ${String(withinMs)} (${typeof withinMs})`);
    }
    // A moment already past is no span to promise again at the next progress().
    if (withinMs >= 0) this.promiseMs = withinMs;
    this.owedAt = performance.now() + withinMs;
  }

  private write(): void {
    if (!this.file || this.stopped) return;
    this.seq += 1;
    const beat = this.beat();
    this.file.set(`${JSON.stringify({ ...this.more?.(), ...beat })}\n`);
    // While the file cannot be written (a full or read-only disk), the pulse goes through PM2's
    // metrics, where the probe takes it as a sign of life of this very pid (apps/shared/pm2-pulse.ts):
    // a silent file alone would read as a hang, and a restart would only meet the same disk. Otherwise
    // PM2 is told only when the file's state or the holds change (pm2 monit shows them).
    const fault = this.file.failing;
    const metrics = pulseMetrics(process.pid, this.seq, fault, beat.held ?? [], basename(this.file.path));
    const pulse = `${metrics.heartbeat?.value}|${metrics.held?.value}`;
    if (fault === undefined && pulse === this.lastPulse) return;
    this.lastPulse = pulse;
    publishMetrics(metrics);
  }
}

/** At least 4 beats per GUARD_HANG_MS, and never fewer than 4 a second. */
function periodFor(hangMs: number | undefined): number {
  return hangMs === undefined ? Guard.PERIOD_MS : Math.max(1, Math.min(Guard.PERIOD_MS, Math.floor(hangMs / 4)));
}

function sayOnStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}
