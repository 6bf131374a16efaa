import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

/**
 * The machine under a chaos run's sandbox (--machine): LOG_DIR and STATE_DIR each a tmpfs of their
 * own, to fill and to remount read-only, and one wall clock per process (Debian's libfaketime, its
 * offset read from a file of that process's own at every call), to step. PM2's daemon and chaos
 * itself keep the true time: a step lands in one process, as a disagreement with everything else.
 */

const run = promisify(execFile);

// Debian's multiarch places for it (apt-get install libfaketime).
const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];

/**
 * Big enough that the run's own logs never fill LOG_DIR (some 400 bytes a second of ticks), small
 * enough to fill in a few milliseconds. A tmpfs gives files whole 4 KB pages: the log's last page
 * still takes lines once the disk is full, some 10 s of ticks at chaos's speed.
 */
export const DISK_SIZES = { log: '16m', state: '1m' } as const;
const FILLER = 'chaos-filler';
// A remount read-only fails (EBUSY) while a file on it is open for writing: the clock's checkpoint
// and heartbeat, the probe's pulse are, for a moment, several times a second.
const REMOUNT_PATIENCE_MS = 3_000;

export type Stepped = 'clock' | 'probe';

/** Why --machine cannot run here, in one line; undefined when it can. */
export function machineMissing(): string | undefined {
  if (process.platform !== 'linux') return "tmpfs mounts and libfaketime are Linux's: --machine runs on Linux only";
  if (process.getuid?.() !== 0) return 'mounting the small disks it fills needs root';
  if (!libfaketime()) return `libfaketime is missing (looked for ${LIBFAKETIME[0]}): apt-get install libfaketime`;
  return undefined;
}

function libfaketime(): string | undefined {
  return LIBFAKETIME.find((path) => existsSync(path));
}

export class Machine {
  private readonly mounted: string[] = [];
  private released = false;
  /** Each process's wall-clock offset now, in ms. */
  private readonly offsets: Record<Stepped, number> = { clock: 0, probe: 0 };

  private constructor(
    readonly logDir: string,
    readonly stateDir: string,
    readonly timeFiles: Record<Stepped, string>,
    private readonly library: string,
  ) {}

  /**
   * Mounts a tmpfs on each of the sandbox's LOG_DIR and STATE_DIR (before PM2 writes anything
   * there) and writes each process's time file at the true time; what it mounted is unmounted again
   * if it fails. Once it has returned, `release` must be called whatever happens.
   */
  static async prepare(sandbox: { dir: string; logDir: string; stateDir: string }): Promise<Machine> {
    const library = libfaketime();
    if (!library) throw new Error(machineMissing() ?? 'libfaketime is missing');
    const machine = new Machine(sandbox.logDir, sandbox.stateDir, { clock: join(sandbox.dir, 'clock-time'), probe: join(sandbox.dir, 'probe-time') }, library);
    try {
      for (const [dir, size] of [[sandbox.logDir, DISK_SIZES.log], [sandbox.stateDir, DISK_SIZES.state]] as const) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
        machine.mounted.push(dir);
      }
      await machine.step('clock', 0);
      await machine.step('probe', 0);
    } catch (error) {
      await machine.release();
      throw error;
    }
    return machine;
  }

  /** The settings that put `who` under libfaketime, reading its own time file; monotonic clocks untouched, as a real step leaves them. */
  fakedEnv(who: Stepped): NodeJS.ProcessEnv {
    return {
      LD_PRELOAD: this.library,
      FAKETIME_TIMESTAMP_FILE: this.timeFiles[who],
      // Read at every call: the step lands at once, at the moment chaos notes.
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    };
  }

  offsetMs(who: Stepped): number {
    return this.offsets[who];
  }

  /** Sets `who`'s wall clock `hours` from the true time; renamed into place, so that no reader sees a half-written file. */
  async step(who: Stepped, hours: number): Promise<void> {
    const file = this.timeFiles[who];
    await writeFile(`${file}.new`, `${hours < 0 ? '-' : '+'}${Math.abs(hours) === 0 ? '0' : `${Math.abs(hours)}h`}\n`);
    await rename(`${file}.new`, file);
    this.offsets[who] = hours * 3_600_000;
  }

  /** Fills `dir`'s disk to the last page; returns the file that did it. */
  async fill(dir: string): Promise<string> {
    this.assertMounted(dir);
    const path = join(dir, FILLER);
    const file = await open(path, 'w', 0o600);
    const chunk = Buffer.alloc(256 * 1024);
    try {
      // A write that does not fit writes what does; the one after it fails: the disk is full.
      for (;;) await file.write(chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      await file.close();
    }
    return path;
  }

  async free(filler: string): Promise<void> {
    if (!this.released) await rm(filler, { force: true });
  }

  async readOnly(dir: string): Promise<void> {
    this.assertMounted(dir);
    await this.remount(dir, 'ro');
  }

  async readWrite(dir: string): Promise<void> {
    if (!this.released) await this.remount(dir, 'rw');
  }

  /**
   * Unmounts both disks (read-write first), whatever state a fault left them in; lazily where
   * something still holds a file open on one. Once released, the faults' own undoing does nothing:
   * an interrupted fault's cleanup may come after this one.
   */
  async release(): Promise<string[]> {
    this.released = true;
    const problems: string[] = [];
    for (const dir of this.mounted.splice(0).reverse()) {
      await run('mount', ['-o', 'remount,rw', dir]).catch(() => {});
      try {
        await run('umount', [dir]);
      } catch {
        await run('umount', ['-l', dir]).catch((error: unknown) => problems.push(`could not unmount ${dir}: ${error instanceof Error ? error.message : String(error)}`));
      }
    }
    return problems;
  }

  private async remount(dir: string, how: 'ro' | 'rw'): Promise<void> {
    const deadline = performance.now() + REMOUNT_PATIENCE_MS;
    for (;;) {
      try {
        await run('mount', ['-o', `remount,${how}`, dir]);
        return;
      } catch (error) {
        if (performance.now() > deadline) throw new Error(`mount -o remount,${how} ${dir} failed for ${REMOUNT_PATIENCE_MS / 1000} s: ${(error as { stderr?: string }).stderr?.trim() || String(error)}`);
        await sleep(20);
      }
    }
  }

  private assertMounted(dir: string): void {
    if (this.released || !this.mounted.includes(dir)) throw new Error(`${dir} is not a disk of this run (released, or never mounted)`);
  }
}
