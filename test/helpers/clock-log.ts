import { parseTickLine, type TickLine } from '../../apps/shared/tick-line.ts';

/** The tick lines of a clock log, in order. */
export function ticksOf(logText: string): TickLine[] {
  return logText.split('\n').flatMap((line) => parseTickLine(line) ?? []);
}

/** How many tick lines a log holds. */
export function tickCount(logText: string): number {
  return ticksOf(logText).length;
}

/** Whether app `name`'s out or error log (in the sandbox's LOG_DIR) contains `text`. */
export async function logSays(sandbox: { outLog(name?: string): Promise<string>; errLog(name?: string): Promise<string> }, name: string, text: string): Promise<boolean> {
  return ((await sandbox.outLog(name)) + (await sandbox.errLog(name))).includes(text);
}
