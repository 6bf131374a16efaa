import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseProcStat } from '../shared/proc-stat.ts';
import type { ProcessInfo, ProcessStat, ProcTable } from './proc-table.ts';

/**
 * The process table on Linux, read straight from /proc: gather, parse, filter, return plain objects.
 * Every reader takes the /proc root as a parameter, so tests can point it at fixture trees. The
 * creation time is the start time in clock ticks after boot; the user, the real uid.
 */
export function linuxTable(procRoot = PROC_ROOT): ProcTable {
  const bootTimeMs = readBootTimeMs(procRoot);
  return {
    listPids: () => listPids(procRoot),
    readStat: (pid) => readStat(pid, procRoot),
    readProcess: (pid) => readProcess(pid, procRoot),
    readEnviron: (pid) => readEnviron(pid, procRoot),
    findProcesses: (needle) => findProcesses(needle, procRoot),
    // Linux's scan reads every command line anyway: the images change nothing here.
    findAny: (wanted) => findProcesses(wanted.map((one) => one.needle), procRoot),
    startedAtMs: (createTime) => (bootTimeMs === undefined ? undefined : startedAtMs(createTime, bootTimeMs)),
    currentUser: () => String(process.getuid?.() ?? -1),
    pathKey: (path) => path,
  };
}

export const PROC_ROOT = '/proc';

/** The pids in the process table. */
export function listPids(procRoot = PROC_ROOT): number[] {
  return readdirSync(procRoot).filter((name) => /^\d+$/.test(name)).map(Number);
}

/** Splits /proc/<pid>/cmdline: NUL-separated, NUL-terminated; empty for kernel threads and zombies. */
export function parseCmdline(raw: string): string[] {
  const argv = raw.split('\0');
  while (argv.length > 0 && argv.at(-1) === '') argv.pop();
  return argv;
}

/** The real uid from /proc/<pid>/status ("Uid:\treal\teffective\tsaved\tfs"). */
export function parseUid(statusText: string): number | undefined {
  const match = /^Uid:\s+(\d+)/m.exec(statusText);
  return match ? Number(match[1]) : undefined;
}

/** /proc/<pid>/environ: NUL-separated NAME=value pairs. */
export function parseEnviron(raw: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const pair of raw.split('\0')) {
    const equals = pair.indexOf('=');
    if (equals > 0) env.set(pair.slice(0, equals), pair.slice(equals + 1));
  }
  return env;
}

/** One process, or undefined if it is gone (or vanished while it was being read). */
export function readProcess(pid: number, procRoot = PROC_ROOT): ProcessInfo | undefined {
  const dir = join(procRoot, String(pid));
  try {
    const stat = parseProcStat(readFileSync(join(dir, 'stat'), 'utf8'));
    const uid = parseUid(readFileSync(join(dir, 'status'), 'utf8'));
    if (!stat || uid === undefined) return undefined;
    const argv = parseCmdline(readFileSync(join(dir, 'cmdline'), 'utf8'));
    return { pid: stat.pid, ppid: stat.ppid, state: stat.state, createTime: stat.startTicks, dying: stat.dying, user: String(uid), argv, cwd: readCwd(dir) };
  } catch {
    return undefined;
  }
}

/** The fields of /proc/<pid>/stat that tell whether a process lives and which one it is. */
export function readStat(pid: number, procRoot = PROC_ROOT): ProcessStat | undefined {
  try {
    const stat = parseProcStat(readFileSync(join(procRoot, String(pid), 'stat'), 'utf8'));
    return stat && { pid: stat.pid, ppid: stat.ppid, state: stat.state, createTime: stat.startTicks, dying: stat.dying };
  } catch {
    return undefined;
  }
}

/** A process's environment; undefined where it is gone or not ours to read. */
export function readEnviron(pid: number, procRoot = PROC_ROOT): Map<string, string> | undefined {
  try {
    return parseEnviron(readFileSync(join(procRoot, String(pid), 'environ'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The processes whose command line contains `needle` (or any of `needles`). Only the command line is
 * read for every process (one small read each); the rest only for the few that match.
 */
export function findProcesses(needle: string | readonly string[], procRoot = PROC_ROOT): ProcessInfo[] {
  const needles = typeof needle === 'string' ? [needle] : needle;
  const found: ProcessInfo[] = [];
  if (needles.length === 0) return found;
  for (const pid of listPids(procRoot)) {
    let cmdline: string;
    try {
      cmdline = readFileSync(join(procRoot, String(pid), 'cmdline'), 'utf8');
    } catch {
      continue;
    }
    if (!needles.some((one) => cmdline.includes(one))) continue;
    const info = readProcess(pid, procRoot);
    if (info) found.push(info);
  }
  return found;
}

function readCwd(dir: string): string | undefined {
  try {
    return readlinkSync(join(dir, 'cwd'));
  } catch {
    return undefined;
  }
}

// Linux reports start times in clock ticks of USER_HZ, which is 100 on every mainstream platform.
const TICKS_PER_SECOND = 100;

/** When the machine booted (ms since the epoch), from the btime line of /proc/stat. */
export function readBootTimeMs(procRoot = PROC_ROOT): number | undefined {
  try {
    const match = /^btime\s+(\d+)/m.exec(readFileSync(join(procRoot, 'stat'), 'utf8'));
    return match ? Number(match[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** When a process started (ms since the epoch, to within the 1 s of btime). */
export function startedAtMs(startTicks: number, bootTimeMs: number): number {
  return bootTimeMs + (startTicks * 1000) / TICKS_PER_SECOND;
}
