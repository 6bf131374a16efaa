/**
 * How long something the probe watches (the heartbeat, PM2's clock process) has gone unchanged, on
 * the probe's own monotonic clock. Never a wall time of one process minus a wall time of another:
 * either of them can be stepped (NTP, a VM resumed, an operator), and a step of an hour would read as
 * an hour of silence, or hide one. What the probe can trust is what it saw itself: the moment it
 * first saw the current version, and that it looked on without a break since.
 */
export interface Sighting {
  /** What was seen: equal keys, the same version. */
  key: string;
  /** performance.now() when this version was first seen (or watching began again). */
  since: number;
  /** performance.now() of the last look. */
  at: number;
}

/**
 * The sighting after a look at `now` that saw `key`. A first look, a new version, or a look after the
 * probe itself was held for longer than `heldMs` (stopped, starved, its disk stalled: what held it
 * may have held the clock too) starts the count again: nothing is judged stale until it has been
 * watched, unchanged, for the whole time claimed.
 */
export function sight(previous: Sighting | undefined, key: string, now: number, heldMs: number): Sighting {
  if (previous === undefined || previous.key !== key || now - previous.at > heldMs) return { key, since: now, at: now };
  return { key, since: previous.since, at: now };
}

/** ms the sighted version has been watched without a change. */
export function unchangedMs(sighting: Sighting): number {
  return sighting.at - sighting.since;
}

/**
 * A break between two looks longer than this means the probe was held, not merely busy: half the hang
 * limit (a gap that long leaves too little of the window watched), but never less than two periods.
 */
export function heldAfterMs(hangMs: number, periodMs: number): number {
  return Math.max(hangMs / 2, 2 * periodMs);
}
