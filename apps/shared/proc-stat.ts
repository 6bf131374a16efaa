import { readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat that tell whether a process is alive and which process it is. */
export interface ProcStat {
  pid: number;
  /** R, S, D, T (stopped), Z (zombie: dead, not yet reaped), … */
  state: string;
  ppid: number;
  /** Start time in clock ticks after boot: with the pid, it names one process for the machine's uptime. */
  startTicks: number;
  /**
   * The kernel is taking it down (PF_EXITING in the flags, field 9): it runs no more code of its own,
   * though it stays in /proc, not yet a zombie, while its memory is freed (5-7 ms for a clock here).
   */
  dying: boolean;
}

// include/linux/sched.h
const PF_EXITING = 0x4;

/** Whether a process read from /proc lives: neither a zombie nor being taken down. */
export function isLiving<T extends { state: string; dying?: boolean }>(stat: T | undefined): stat is T {
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X' && stat.dying !== true;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold spaces
 * and parentheses, so the fields are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = wholeNumber(text.slice(0, open).trim());
  const fields = text.slice(close + 2).split(' ');
  const state = fields[0];
  const ppid = wholeNumber(fields[1]);
  const flags = wholeNumber(fields[6]);
  const startTicks = wholeNumber(fields[19]);
  if (pid === undefined || !state || ppid === undefined || flags === undefined || startTicks === undefined) return undefined;
  return { pid, state, ppid, startTicks, dying: (flags & PF_EXITING) !== 0 };
}

function wholeNumber(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The stat of a live process, or undefined where it is gone or not readable (or not on Linux). */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}
