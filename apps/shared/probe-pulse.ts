import { readStateFile } from './state-file.ts';

/**
 * The probe's own pulse, for the clock to watch the watcher (apps/clock/probe-watch.ts): the probe
 * rewrites it every PULSE_MS from a timer of its own (apps/probe/own-pulse.ts), so a probe that is
 * stopped (SIGSTOP), frozen or starved stops rewriting it. It is removed when the probe stops
 * gracefully: no file, no probe to judge.
 */
export interface ProbePulse {
  pid: number;
  /**
   * The probe's creation time as the process table reads it (Linux: /proc start ticks; Windows and
   * macOS: µs since the epoch): with the pid, the one process the clock may end. null where unknown,
   * and then it is never ended.
   */
  createTime: number | null;
  /**
   * The probe's own performance.now() at this write. Never compared with another process's clock:
   * it only makes every write differ, so that the watcher sees each one as a change.
   */
  monotonicMs: number;
  /** Wall-clock ms of this write, for people. Nobody ages the file by it. */
  writtenAt: number;
  /** How often it is rewritten, and the probe's PROBE_HANG_MS: unchanged for their sum, the probe is hung. */
  pulseMs: number;
  hangMs: number;
}

/** As often as the clock's heartbeat, or with every look of a probe that looks more often. */
export const pulseEveryMs = (periodMs: number): number => Math.min(periodMs, 250);

/**
 * Every pulse is padded to this size, so that a later one can be written over it in place, needing
 * no new disk space: a full disk must not make a healthy probe look hung.
 */
export const PROBE_PULSE_BYTES = 256;
// A file at the name that is bigger than this is no pulse of ours, and is not read into memory.
const CAP_BYTES = 4096;

/** The pulse as written: JSON padded with spaces to PROBE_PULSE_BYTES (longer only if it cannot fit). */
export function serializeProbePulse(pulse: ProbePulse): string {
  const json = JSON.stringify(pulse);
  return json.length < PROBE_PULSE_BYTES ? `${json.padEnd(PROBE_PULSE_BYTES - 1)}\n` : `${json}\n`;
}

/** The pulse in `text`, or undefined when it is not one (garbage, a write half-seen, another format). */
export function parseProbePulse(text: string): ProbePulse | undefined {
  let value: Partial<ProbePulse>;
  try {
    value = JSON.parse(text) as Partial<ProbePulse>;
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, createTime, monotonicMs, writtenAt, pulseMs, hangMs } = value;
  const positive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
  if (!positive(pid) || !Number.isInteger(pid) || !positive(pulseMs) || !positive(hangMs)) return undefined;
  if (typeof monotonicMs !== 'number' || typeof writtenAt !== 'number') return undefined;
  if (createTime !== null && typeof createTime !== 'number') return undefined;
  return { pid, createTime, monotonicMs, writtenAt, pulseMs, hangMs };
}

/**
 * One look at the pulse file. `key` changes whenever the file does (its whole text; for something
 * that is no file, what it is), and `pulse` is there only when the text is a pulse. Read bounded and
 * safe (state-file.ts): a symlink is never followed, a FIFO never blocks, a huge file never read.
 */
export type ProbePulseLook = { kind: 'missing' } | { kind: 'present'; key: string; pulse: ProbePulse | undefined; problem: string | undefined };

export async function lookAtProbePulse(path: string): Promise<ProbePulseLook> {
  let file: Awaited<ReturnType<typeof readStateFile>>;
  try {
    file = await readStateFile(path, CAP_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return { kind: 'present', key: `unreadable ${code}`, pulse: undefined, problem: `unreadable (${code})` };
  }
  if (file.kind === 'missing') return file;
  if (file.kind === 'unusable') return { kind: 'present', key: file.reason, pulse: undefined, problem: file.reason };
  const pulse = parseProbePulse(file.text);
  return { kind: 'present', key: file.text, pulse, problem: pulse ? undefined : 'not a probe pulse' };
}
