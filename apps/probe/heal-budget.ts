/**
 * The probe's own restart intensity: more than MAX_HEALS heal actions within WINDOW_MS puts it into
 * back-off, each back-off twice as long as the last (capped), so that a clock that cannot be saved
 * is never hammered, and PM2 with it. A quiet window forgets the back-off. Times are the caller's
 * monotonic clock (performance.now()): a step of the wall clock neither ends a back-off nor makes one last an hour.
 */
export const MAX_HEALS = 5;
export const WINDOW_MS = 60_000;
const FIRST_BACKOFF_MS = 5_000;
const MAX_BACKOFF_MS = 300_000;

export type Permission = { allowed: true } | { allowed: false; until: number; startedNow: boolean };

export class HealBudget {
  private heals: number[] = [];
  private backoffMs = 0;
  private backoffUntil = -Infinity;

  /** Whether a heal may run at `now`; a permitted heal is counted. */
  take(now: number): Permission {
    this.heals = this.heals.filter((at) => at > now - WINDOW_MS);
    if (this.heals.length === 0 && now >= this.backoffUntil + WINDOW_MS) this.backoffMs = 0;
    if (now < this.backoffUntil) return { allowed: false, until: this.backoffUntil, startedNow: false };
    if (this.heals.length >= MAX_HEALS) {
      this.backoffMs = this.backoffMs === 0 ? FIRST_BACKOFF_MS : Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      this.backoffUntil = now + this.backoffMs;
      return { allowed: false, until: this.backoffUntil, startedNow: true };
    }
    this.heals.push(now);
    return { allowed: true };
  }
}
