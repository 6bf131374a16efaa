import { open, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Checkpoint } from './checkpoint.ts';

/**
 * Whether PM2's log holds the ticks this clock printed. PM2 copies the clock's stdout into its out
 * log through a stream that dies for good at the first ENOSPC (measured: the file stopped at 4,096
 * bytes, cut mid-line, while `pm2 jlist` said online and every write to stdout succeeded), so a line
 * written to stdout is not yet a line in the log: the clock reads back what the log took.
 *
 * Lines reach the log in the order they were printed (one pipe, one stream), so the log always
 * holds a prefix of what was printed: the ticks it does not hold are the last ones printed, and
 * each carries the progress as it was before it (`before`), so taking them back is one restore.
 */
export interface Printed {
  index: number;
  run: number;
  tick: number;
  /** The progress before this tick was recorded: what the clock goes back to if the log never takes it. */
  before: Checkpoint;
  /** And after it: what the clock goes forward to if the log takes it after all, late. */
  after: Checkpoint;
  /** performance.now() when it was printed. */
  printedAt: number;
}

// Lines read from the log at most per look: more is someone else's output (a standby's, a user's).
const MAX_READ_BYTES = 1024 * 1024;
const TAIL_BYTES = 64;
// A tick line, with anything PM2 put before it (log_date_format, a `time` prefix).
const TICK_IN_LINE = /(thread-\d+) run (\d+) tick (\d+)\/\d+ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/;

export class LogWatch {
  private offset = 0;
  private ino: bigint | undefined;
  private carry = '';
  /** The last bytes read, to tell a log truncated and grown again from one that only grew. */
  private tail: Buffer = Buffer.alloc(0);
  private readonly pending: Printed[] = [];
  private looking: Promise<void> | undefined;
  /** Whether the log's last line is unfinished: a line cut by a full disk, which the next print must not join. */
  endsMidLine = false;
  /**
   * When (performance.now()) the log last grew. A log that grows is alive, however far behind (PM2's
   * daemon starved on a loaded machine): only one that has not grown for a while has stopped.
   */
  grewAt = performance.now();

  private constructor(
    readonly path: string,
    private readonly names: string[],
  ) {}

  /**
   * The watch for the log PM2 writes this clock's stdout to (PM2 passes its path in the app's
   * environment); undefined outside PM2 or when PM2 is told to keep no log (/dev/null).
   */
  static async forPm2Log(env: NodeJS.ProcessEnv, names: string[]): Promise<LogWatch | undefined> {
    const path = env.pm_out_log_path;
    if (!path || /NULL|\/dev\/null/.test(path)) return undefined;
    const watch = new LogWatch(path, names);
    // What the log held before this clock printed anything is not read.
    const info = await stat(path, { bigint: true }).catch(() => undefined);
    watch.ino = info?.ino;
    watch.offset = Number(info?.size ?? 0n);
    watch.tail = await watch.readRange(Math.max(0, watch.offset - TAIL_BYTES), Math.min(watch.offset, TAIL_BYTES)).catch(() => Buffer.alloc(0));
    return watch;
  }

  printed(entry: Printed): void {
    this.pending.push(entry);
  }

  /** The oldest tick printed that the log does not hold (yet). */
  oldestMissing(): Printed | undefined {
    return this.pending[0];
  }

  /** Takes back every tick the log does not hold, oldest first: they will be printed again. */
  takeBack(): Printed[] {
    return this.pending.splice(0);
  }

  /**
   * Reads what the log took since the last look, and drops from `pending` every tick it holds: a
   * line in the log, and every line printed before it. Returns the last of `takenBack` (ticks taken
   * back earlier) that turned up in the log after all, late (PM2's daemon was stopped, not its stream
   * dead), removing it and those before it, so that the clock can go forward to it again.
   */
  async look(takenBack: Printed[] = []): Promise<Printed | undefined> {
    while (this.looking) await this.looking;
    let found: Printed | undefined;
    this.looking = this.read((index, run, tick) => {
      const held = position(this.pending, index, run, tick);
      if (held >= 0) this.pending.splice(0, held + 1);
      const late = position(takenBack, index, run, tick);
      if (late >= 0) found = takenBack.splice(0, late + 1).at(-1);
    }).finally(() => (this.looking = undefined));
    await this.looking;
    return found;
  }

  private async read(onTick: (index: number, run: number, tick: number) => void): Promise<void> {
    const info = await stat(this.path, { bigint: true }).catch(() => undefined);
    if (!info) return;
    if (info.ino !== this.ino) this.restart(info.ino);
    // The bytes just before the offset are read again and compared: a log truncated (pm2-logrotate
    // copies it, then truncates it) and grown past the offset since the last look is read from its start.
    if (this.tail.length > 0 && !(await this.readRange(this.offset - this.tail.length, this.tail.length)).equals(this.tail)) this.restart(info.ino);
    const size = Number(info.size);
    if (size <= this.offset) return;
    let start = this.offset;
    if (size - start > MAX_READ_BYTES) {
      // Only the last MAX_READ_BYTES are read; the skipped bytes break the unfinished line kept from before.
      start = size - MAX_READ_BYTES;
      this.carry = '';
    }
    const chunk = await this.readRange(start, size - start);
    if (chunk.length > 0) this.grewAt = performance.now();
    this.offset = start + chunk.length;
    this.tail = Buffer.concat([this.tail, chunk]).subarray(-TAIL_BYTES);
    const lines = (this.carry + chunk.toString('utf8')).split('\n');
    this.carry = lines.pop() ?? '';
    this.endsMidLine = this.carry !== '';
    for (const line of lines) {
      const match = TICK_IN_LINE.exec(line);
      const index = match ? this.names.indexOf(match[1] as string) : -1;
      if (match && index >= 0) onTick(index, Number(match[2]), Number(match[3]));
    }
  }

  private restart(ino: bigint | undefined): void {
    this.ino = ino;
    this.offset = 0;
    this.carry = '';
    this.tail = Buffer.alloc(0);
  }

  /** `length` bytes of the log from `start` (fewer where it ends sooner). */
  private async readRange(start: number, length: number): Promise<Buffer> {
    if (start < 0 || length <= 0) return Buffer.alloc(0);
    const file = await open(this.path, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }
}

function position(entries: Printed[], index: number, run: number, tick: number): number {
  return entries.findIndex((entry) => entry.index === index && entry.run === run && entry.tick === tick);
}

export function sinceMs(entry: Printed, now = performance.now()): number {
  return now - entry.printedAt;
}
