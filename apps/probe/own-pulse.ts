import { closeSync, constants, fstatSync, lstatSync, openSync, writeSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { LatestWriter, writeFileWhole } from '../shared/atomic-write.ts';
import { lookAtProbePulse, serializeProbePulse, type ProbePulse } from '../shared/probe-pulse.ts';

/**
 * The probe's own pulse (shared/probe-pulse.ts), written for the clock to watch: from a timer, not
 * from the probe's loop, because a look can wait on PM2 for up to its call deadline (5 s) while PM2's
 * daemon is stopped or busy, and a probe waiting on PM2 is not hung. What the clock must see is that
 * the probe's event loop runs.
 */
export interface OwnPulseOptions {
  path: string;
  pid: number;
  createTime: number | null;
  pulseMs: number;
  hangMs: number;
  warn(line: string): void;
}

export class OwnPulse {
  private timer: NodeJS.Timeout | undefined;
  /** The fault said while writes fail, so that it is said once, and its end once. */
  private failing: string | undefined;
  private readonly writer: LatestWriter;

  constructor(private readonly options: OwnPulseOptions) {
    this.writer = new LatestWriter(
      async (data) => {
        await writePulse(options.path, data);
        if (this.failing !== undefined) options.warn(`writes its pulse ${options.path} again`);
        this.failing = undefined;
      },
      (error) => this.failed(error),
    );
  }

  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.options.pulseMs);
    this.timer.unref();
  }

  /** Stops beating and removes the pulse, if it is still this probe's: a stopped probe is not a hung one. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.writer.flush();
    const look = await lookAtProbePulse(this.options.path);
    if (look.kind === 'present' && look.pulse?.pid === this.options.pid) await unlink(this.options.path).catch(() => {});
  }

  private beat(): void {
    const { pid, createTime, pulseMs, hangMs } = this.options;
    const pulse: ProbePulse = { pid, createTime, monotonicMs: Math.round(performance.now() * 1000) / 1000, writtenAt: Date.now(), pulseMs, hangMs };
    this.writer.set(serializeProbePulse(pulse));
  }

  private failed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    // No state directory yet: the clock creates it, and until then there is no clock to watch this probe.
    if (code === 'ENOENT' || this.failing !== undefined) return;
    this.failing = code;
    this.options.warn(
      `cannot write its pulse ${this.options.path} (${code}); retrying every ${this.options.pulseMs} ms, said once: ` +
        'meanwhile the clock cannot tell whether this probe hangs',
    );
  }
}

const NO_FOLLOW: number | undefined = constants.O_NOFOLLOW;
const NON_BLOCK = constants.O_NONBLOCK ?? 0;

/**
 * Writes the pulse over the last one, in place, where that one is a regular file of the same size
 * (every pulse is): no new disk space, so a full disk does not silence a healthy probe. A reader may
 * see half of one write mixed with the last: that is a change too, which is all the clock looks for.
 * Anything else at the name is replaced whole.
 */
async function writePulse(path: string, data: string): Promise<void> {
  if (overwriteInPlace(path, data)) return;
  try {
    const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (NO_FOLLOW ?? 0), 0o600);
    try {
      await file.writeFile(data);
    } finally {
      await file.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A directory, a symlink (replaced itself, never followed), a FIFO, a file of another size.
    await writeFileWhole(path, data);
  }
}

// What an open for writing in place meets when the name is no pulse file of ours.
const NOT_IN_PLACE = new Set(['ENOENT', 'ELOOP', 'EMLINK', 'EISDIR', 'ENXIO', 'EACCES', 'EPERM']);

/**
 * Synchronous, four system calls: through libuv's thread pool the same write was ~250 µs of CPU, four
 * times a second, a tenth of a busy probe's cost. A disk that holds it holds the event loop, and the
 * pulse stops: what the clock is to see then anyway.
 */
function overwriteInPlace(path: string, data: string): boolean {
  const bytes = Buffer.from(data);
  let fd: number;
  try {
    if (NO_FOLLOW === undefined && lstatSync(path).isSymbolicLink()) return false;
    fd = openSync(path, constants.O_WRONLY | (NO_FOLLOW ?? 0) | NON_BLOCK);
  } catch (error) {
    if (NOT_IN_PLACE.has((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size !== bytes.length) return false;
    const written = writeSync(fd, bytes, 0, bytes.length, 0);
    if (written !== bytes.length) throw new Error(`wrote ${written} of the pulse's ${bytes.length} bytes`);
    return true;
  } finally {
    closeSync(fd);
  }
}
