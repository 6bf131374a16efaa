/**
 * When ticks are due. Tick k of a segment is due at anchor + (k - firstTick) × interval on the
 * monotonic clock, so a late tick never pushes the next one: lateness does not add up.
 */
export class TickSchedule {
  constructor(
    private anchorMs: number,
    private firstTick: number,
    readonly lastTick: number,
    readonly intervalMs: number,
  ) {}

  dueAt(tick: number): number {
    return this.anchorMs + (tick - this.firstTick) * this.intervalMs;
  }

  /**
   * The tick after `tick`, which has just fired at `nowMs`; undefined once the segment is done.
   * After a stall (the process was stopped, the machine slept) in which the next tick's moment has
   * already gone by, the schedule starts again from now: one on-time tick, not a burst of late ones.
   */
  next(tick: number, nowMs: number): number | undefined {
    const following = tick + 1;
    if (following > this.lastTick) return undefined;
    if (this.dueAt(following) < nowMs) {
      this.anchorMs = nowMs + this.intervalMs;
      this.firstTick = following;
    }
    return following;
  }
}

/**
 * When a resumed thread's next tick is due (wall-clock ms): one interval after its last tick, as if
 * nothing had happened, or at once when that moment passed while the clock was down. Never more than
 * one interval from now: a last tick in the future (the system clock was set back since) would
 * otherwise leave the thread silent for as long as the clock went back.
 */
export function resumeDueAt(lastTickAt: number, intervalMs: number, nowMs: number): number {
  return Math.min(Math.max(lastTickAt + intervalMs, nowMs), nowMs + intervalMs);
}
