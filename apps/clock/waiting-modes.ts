import { publishMetrics, signalReady, type Metric } from '../shared/pm2-ipc.ts';
import { log, warn } from './log.ts';
import { DEATH_NOTICE, type StateLock } from './state-lock.ts';

/**
 * How a clock waits while another clock owns its state, and what it says once it has the state: the
 * part its mode gives it (CLOCK_STANDBY). The clock composes one; nothing in its start asks which.
 */
export interface WaitingMode {
  /** Whether to hold a death bell (death-bell.ts): the waiting clock hears the owner die before the kernel closes its socket. */
  readonly bell: boolean;
  /** Before the state lock is asked for. */
  prepare(): Promise<void>;
  /** Another clock owns the state: `who` it is, in a few words; `first`: the first time this clock finds so. */
  waiting(who: string, first: boolean): void;
  /** The lock is this clock's; `takeover` when another clock had it first. */
  locked(takeover: StateLock['tookOverFrom']): void;
  /** Ticking from `tickingAt` (performance.now()), with the lock in hand. */
  ticking(takeover: StateLock['tookOverFrom'], tickingAt: number, lock: StateLock): void;
  /** What `pm2 monit` shows of the mode, once ticking. */
  metrics(): Record<string, Metric>;
}

/** The default: a clock that finds its state owned waits, not ready, and says so. */
export class Exclusive implements WaitingMode {
  readonly bell = false;

  constructor(private readonly stateDir: string) {}

  async prepare(): Promise<void> {}

  waiting(who: string): void {
    warn(`the state in ${this.stateDir} is owned by ${who}; waiting for it to stop before taking over`);
  }

  locked(takeover: StateLock['tookOverFrom']): void {
    if (takeover) log(`took over the state in ${this.stateDir}`);
  }

  ticking(): void {}

  metrics(): Record<string, Metric> {
    return {};
  }
}

/** What a standby asks of the clock that composes it, while it waits. */
export interface StandbyHooks {
  /** Starts the workers: a standby is fully started before it waits, so that taking over is only resuming. */
  startWorkers(): Promise<void>;
  /** Runs the takeover's code once, writing nothing, so that V8 has compiled it by the takeover. */
  rehearse(): void;
  /** Makes ready, while waiting, what the takeover would otherwise make (cluster mode: etcd's client). */
  warm(): void;
}

/**
 * Hot standby (CLOCK_STANDBY): a clock that finds its state owned is as ready as a clock can be
 * without it (workers up, PM2 told ready, its takeover rehearsed), and takes over the instant the
 * owner dies; how fast is measured, from the owner's death to ticking here.
 */
export class Standby implements WaitingMode {
  readonly bell = true;
  /** How long this clock took to take over from a dead owner, in ms. */
  private takeoverMs: number | undefined;

  constructor(private readonly hooks: StandbyHooks) {}

  async prepare(): Promise<void> {
    await this.hooks.startWorkers();
  }

  waiting(who: string, first: boolean): void {
    if (first) log(`standby: ${who} is active; this clock waits, ready to take over the instant it dies`);
    // PM2 counts a standby online: it is as ready as a clock can be without the state.
    signalReady();
    publishMetrics({ role: { value: 'standby' } });
    if (!first) return;
    this.hooks.rehearse();
    this.hooks.warm();
  }

  locked(): void {}

  ticking(takeover: StateLock['tookOverFrom'], tickingAt: number, lock: StateLock): void {
    if (takeover) {
      this.takeoverMs = tickingAt - takeover.at;
      log(`took over from clock pid ${takeover.pid ?? '?'} in ${this.takeoverMs.toFixed(1)} ms (its death to ticking here)`);
    }
    if (!lock.hasBell) warn(DEATH_NOTICE);
  }

  metrics(): Record<string, Metric> {
    return {
      role: { value: 'active' },
      ...(this.takeoverMs === undefined ? {} : { 'took over in': { value: Math.round(this.takeoverMs * 10) / 10, unit: 'ms' } }),
    };
  }
}
