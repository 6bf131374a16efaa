/**
 * The probe's own restart intensity: a heal wanted when WINDOW_MS already holds MAX_HEALS puts it
 * into back-off, each twice as long as the last (1 s, capped at 5 min). Once a back-off is over, one
 * heal is let through even if the window is still full (nothing may be wrong any more); the next
 * one wanted while it is full begins the next back-off. So a clock that cannot be saved is never
 * hammered, and PM2 with it: 10 heals in its first minute, then at most 5 each 5 min. A window with
 * no heal after the last back-off forgets it all.
 *
 * A back-off that ended used to start the next one at once, without a heal in between (the window
 * still held the heals that began it): 5 + 10 + 20 + 40 s with the clock errored and nothing done,
 * 77 s from the last of 61 quick kills to ticking (scripts/bench/quick-kills.ts). The first back-off
 * is short because a clock that reaches its start backs off by itself (apps/clock/start-backoff.ts):
 * this one is for what that cannot cover (a clock that dies as it loads, before it reads its
 * record), and need not stack much on top of it.
 *
 * Times are the caller's monotonic clock (performance.now()): a step of the wall clock neither ends
 * a back-off nor makes one last an hour.
 */
export const MAX_HEALS = 5;
export const WINDOW_MS = 60_000;
export const FIRST_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 300_000;

export type Permission = { allowed: true } | { allowed: false; until: number; startedNow: boolean };

export class HealBudget {
  private heals: number[] = [];
  private backoffMs = 0;
  private backoffUntil = -Infinity;
  /** A back-off has ended and no heal has been let through since. */
  private afterBackoff = false;

  /** Whether a heal may run at `now`; a permitted heal is counted. */
  take(now: number): Permission {
    this.heals = this.heals.filter((at) => at > now - WINDOW_MS);
    if (this.heals.length === 0 && now >= this.backoffUntil + WINDOW_MS) {
      this.backoffMs = 0;
      this.afterBackoff = false;
    }
    if (now < this.backoffUntil) return { allowed: false, until: this.backoffUntil, startedNow: false };
    if (this.heals.length >= MAX_HEALS && !this.afterBackoff) {
      this.backoffMs = this.backoffMs === 0 ? FIRST_BACKOFF_MS : Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      this.backoffUntil = now + this.backoffMs;
      this.afterBackoff = true;
      return { allowed: false, until: this.backoffUntil, startedNow: true };
    }
    this.afterBackoff = false;
    this.heals.push(now);
    return { allowed: true };
  }
}
