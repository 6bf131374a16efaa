/**
 * What hot-standby mode writes in the clock's log, read back: the line a standby logs when it takes
 * over, "clock: took over from clock pid 4711 in 8.3 ms (its death to ticking here)" (apps/clock/clock.ts).
 * PM2 merges both instances' output into one log with no pid on a line: this line is the one place the
 * log says which clock ticks from here on.
 */
const TAKEOVER_LINE = /^clock: took over from clock pid (\d+|\?) in (\d+(?:\.\d+)?) ms\b.*$/gm;

export interface Takeover {
  /** The active it took over from (undefined if the standby could not tell). */
  fromPid: number | undefined;
  /** Its own measure: from the old active's death (the lock's connection closing) to ticking. */
  ms: number;
  /** Where the line ends in the text: every tick after it is the new active's. */
  end: number;
}

/** Every takeover line in `text`, in order. */
export function takeovers(text: string): Takeover[] {
  return [...text.matchAll(TAKEOVER_LINE)].map((match) => ({
    fromPid: match[1] === '?' ? undefined : Number(match[1]),
    ms: Number(match[2]),
    end: (match.index ?? 0) + match[0].length,
  }));
}

/** The first takeover in `text`, from clock `fromPid` if given. */
export function takeoverFrom(text: string, fromPid?: number): Takeover | undefined {
  return takeovers(text).find((takeover) => fromPid === undefined || takeover.fromPid === fromPid);
}
