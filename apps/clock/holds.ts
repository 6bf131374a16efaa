import { performance } from 'node:perf_hooks';
import type { Hold } from '../shared/heartbeat.ts';

/**
 * Why the clock holds its ticks back, for faults of the machine under it: a tick is printed only if
 * it can be saved (the checkpoint) and only counts once the log holds it. Holding is the clock's
 * answer to a full or read-only disk: it stays up, beating, says what is wrong once, and carries on
 * by itself the moment the fault is gone, where dying would only crash-loop into the same wall.
 */
export class Holds {
  private readonly held = new Map<Hold['on'], { why: string; since: number }>();

  constructor(
    private readonly say: {
      held(on: Hold['on'], why: string): void;
      released(on: Hold['on'], why: string, forMs: number, detail: string): void;
    },
  ) {}

  /** Holds the ticks for `on`; said once per hold (a new reason while held is said again). */
  hold(on: Hold['on'], why: string): void {
    const current = this.held.get(on);
    if (current?.why === why) return;
    this.held.set(on, { why, since: current?.since ?? performance.now() });
    this.say.held(on, why);
  }

  /** Ends the hold for `on`, if there was one; true if it was the last (the ticks may go on). */
  release(on: Hold['on'], detail = ''): boolean {
    const current = this.held.get(on);
    if (!current) return false;
    this.held.delete(on);
    this.say.released(on, current.why, performance.now() - current.since, detail);
    return this.held.size === 0;
  }

  isHeld(on?: Hold['on']): boolean {
    return on === undefined ? this.held.size > 0 : this.held.has(on);
  }

  /** For the heartbeat and PM2's metrics. */
  list(now = performance.now()): Hold[] {
    return [...this.held].map(([on, { why, since }]) => ({ on, why, forMs: Math.round(now - since) }));
  }
}
