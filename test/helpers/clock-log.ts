import { parseTickLine, type TickLine } from '../../apps/shared/tick-line.ts';

/** The tick lines of a clock log, in order. */
export function ticksOf(logText: string): TickLine[] {
  return logText.split('\n').flatMap((line) => parseTickLine(line) ?? []);
}

/** How many tick lines a log holds. */
export function tickCount(logText: string): number {
  return ticksOf(logText).length;
}
