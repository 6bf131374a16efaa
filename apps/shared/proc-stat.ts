import { readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat that tell whether a process is alive and which process it is. */
export interface ProcStat {
  pid: number;
  /** R, S, D, T (stopped), Z (zombie: dead, not yet reaped), … */
  state: string;
  ppid: number;
  /** Start time in clock ticks after boot: with the pid, it names one process for the machine's uptime. */
  startTicks: number;
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
  const startTicks = wholeNumber(fields[19]);
  if (pid === undefined || !state || ppid === undefined || startTicks === undefined) return undefined;
  return { pid, state, ppid, startTicks };
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
