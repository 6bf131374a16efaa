import dayjs from 'dayjs';

/** One tick as printed: `thread-1 run 3 tick 7/20 2026-11-27 02:15:59.004` (local time). */
export interface TickLine {
  thread: string;
  run: number;
  tick: number;
  ticksPerRun: number;
  timestamp: string;
}

const TIMESTAMP_FORMAT = 'YYYY-MM-DD HH:mm:ss.SSS';
const TICK_LINE = /^(thread-\d+) run (\d+) tick (\d+)\/(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})$/;

export function formatTickLine(thread: string, run: number, tick: number, ticksPerRun: number, atMs: number): string {
  return `${thread} run ${run} tick ${tick}/${ticksPerRun} ${dayjs(atMs).format(TIMESTAMP_FORMAT)}`;
}

/** The tick in a log line, or undefined for any other line (PM2 log files hold other lines too). */
export function parseTickLine(line: string): TickLine | undefined {
  const match = TICK_LINE.exec(line.trimEnd());
  if (!match) return undefined;
  const [, thread, run, tick, ticksPerRun, timestamp] = match as unknown as [string, string, string, string, string, string];
  return { thread, run: Number(run), tick: Number(tick), ticksPerRun: Number(ticksPerRun), timestamp };
}
