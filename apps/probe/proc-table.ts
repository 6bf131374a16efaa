/**
 * The process table, the psutil way: this file is the interface, and one file per OS beside it
 * (proc-table-linux.ts, -win32.ts, -darwin.ts) reads it. The backend is chosen once, here, at import;
 * nothing above this file asks which OS it is on. Identity is (pid, createTime) everywhere.
 */

/** What tells whether a process lives and which process it is: one cheap look at one pid. */
export interface ProcessStat {
  pid: number;
  ppid: number;
  /** R, S, D, T (stopped), Z (zombie: dead, not yet reaped), … Windows: R, or Z once it has exited. */
  state: string;
  /**
   * When the process was created, in the backend's own unit (Linux: clock ticks after boot; Windows
   * and macOS: µs since the epoch). Only ever compared with another reading of the same backend:
   * with the pid, it names one process, so a reused pid is never taken for the one first seen.
   */
  createTime: number;
  /** Being taken down by the kernel (Linux's PF_EXITING); absent: no. */
  dying?: boolean;
}

export interface ProcessInfo extends ProcessStat {
  /** The owner, as the OS names users: a uid (Linux, macOS) or a SID (Windows), as a string. */
  user: string;
  /** The command line, one entry per argument (a PM2-set process title is one entry with spaces). */
  argv: string[];
  /** The working directory, where readable. */
  cwd: string | undefined;
}

/** A program to look for in the process table: a piece of its command line, and its image's name where known. */
export interface ProcessWanted {
  needle: string;
  image?: string | undefined;
}

export interface ProcTable {
  listPids(): number[];
  readStat(pid: number): ProcessStat | undefined;
  /** One process, or undefined if it is gone, vanished while being read, or not ours to read. */
  readProcess(pid: number): ProcessInfo | undefined;
  /** A process's environment; undefined where it is gone or not ours to read. */
  readEnviron(pid: number): Map<string, string> | undefined;
  /**
   * The processes whose command line contains `needle`. `image` (an executable's name without
   * extension, e.g. node) lets a backend that sees image names in its scan read the command line of
   * those processes only; a backend that does not ignores it.
   */
  findProcesses(needle: string, image?: string): ProcessInfo[];
  /**
   * findProcesses for several programs in one pass over the table: the processes that match any of
   * `wanted` (each a needle, and the image whose command lines it reads, as above). One scan serves
   * every guarded app of a probe: a scan per app was most of a probe's cost with 20 apps.
   */
  findAny(wanted: readonly ProcessWanted[]): ProcessInfo[];
  /** When a process with this createTime started, in ms since the epoch, where known. */
  startedAtMs(createTime: number): number | undefined;
  /** The user this process runs as, in ProcessInfo.user's form. */
  currentUser(): string;
  /** A path in the form in which two paths naming one file compare equal here (Windows folds case). */
  pathKey(path: string): string;
}

/** Why the process table cannot be read here (no backend, or its native part did not load), or undefined. */
export let procTableProblem: string | undefined;

async function loadBackend(): Promise<ProcTable | undefined> {
  try {
    switch (process.platform) {
      case 'linux':
        return (await import('./proc-table-linux.ts')).linuxTable();
      case 'win32':
        return (await import('./proc-table-win32.ts')).win32Table();
      case 'darwin':
        return await (await import('./proc-table-darwin.ts')).darwinTable();
      default:
        procTableProblem = `the probe reads the process table on Linux, Windows and macOS, not on ${process.platform}`;
        return undefined;
    }
  } catch (error) {
    procTableProblem = (error as Error).message;
    return undefined;
  }
}

const backend = await loadBackend();

function table(): ProcTable {
  if (!backend) throw new Error(`no process table: ${procTableProblem}`);
  return backend;
}

export const listPids = (): number[] => table().listPids();
export const readStat = (pid: number): ProcessStat | undefined => table().readStat(pid);
export const readProcess = (pid: number): ProcessInfo | undefined => table().readProcess(pid);
export const readEnviron = (pid: number): Map<string, string> | undefined => table().readEnviron(pid);
export const findProcesses = (needle: string, image?: string): ProcessInfo[] => table().findProcesses(needle, image);
export const findAny = (wanted: readonly ProcessWanted[]): ProcessInfo[] => table().findAny(wanted);
export const startedAtMs = (createTime: number): number | undefined => table().startedAtMs(createTime);
export const currentUser = (): string => table().currentUser();
export const pathKey = (path: string): string => table().pathKey(path);
