/**
 * Ending a process, only the very one that was verified (pid and creation time): the interface, with
 * the backend chosen once at import (terminate-posix.ts: signals; terminate-win32.ts: a handle).
 */
export interface Terminator {
  /** How killVerified ends a process, for the log: SIGKILL, TerminateProcess. */
  killName: string;
  /** Whether `pid` is still the process first seen (same creation time) and neither dead nor dying. */
  isStillAlive(pid: number, createTime: number): boolean;
  /** Ends it at once (SIGKILL; TerminateProcess) if it is still that process; whether it was sent. */
  killVerified(pid: number, createTime: number): boolean;
  /**
   * Ends it gracefully, then by force if it is still alive after `graceMs`, and says how it ended.
   * Windows has no SIGTERM, and a clock started by hand has no IPC channel to be asked through: there
   * it is TerminateProcess at once ('killed'), which costs nothing, as the clock checkpoints right
   * after each tick it prints.
   */
  terminate(pid: number, createTime: number, graceMs: number): Promise<'gone' | 'terminated' | 'killed'>;
}

async function loadTerminator(): Promise<Terminator | undefined> {
  try {
    return process.platform === 'win32' ? (await import('./terminate-win32.ts')).win32Terminator() : (await import('./terminate-posix.ts')).posixTerminator();
  } catch {
    // The process table's own loading says why (procTableProblem); the probe stops before it gets here.
    return undefined;
  }
}

const backend = await loadTerminator();

function terminator(): Terminator {
  if (!backend) throw new Error('no way to end processes here: the process table\'s backend did not load');
  return backend;
}

export const killName = (): string => terminator().killName;
export const isStillAlive = (pid: number, createTime: number): boolean => terminator().isStillAlive(pid, createTime);
export const killVerified = (pid: number, createTime: number): boolean => terminator().killVerified(pid, createTime);
export const terminate = (pid: number, createTime: number, graceMs: number): Promise<'gone' | 'terminated' | 'killed'> =>
  terminator().terminate(pid, createTime, graceMs);
