import type { ProcessInfo, ProcessStat, ProcessWanted, ProcTable } from './proc-table.ts';
import { parseCwd, parseKinfoProc, parseKinfoProcs, parseProcArgs2, type KinfoProc } from './darwin-structs.ts';

/** The kernel's raw answers the macOS backend reads: live through koffi (darwin-api.ts), or recorded. */
export interface DarwinSource {
  /** sysctl KERN_PROC_ALL: every process's kinfo_proc, back to back. */
  allProcs(): Buffer | undefined;
  /** sysctl KERN_PROC_PID: one kinfo_proc, or no bytes for a pid that does not exist. */
  proc(pid: number): Buffer | undefined;
  /** sysctl KERN_PROCARGS2: argc, the executable, argv and the environment. */
  procArgs(pid: number): Buffer | undefined;
  /** proc_pidinfo PROC_PIDVNODEPATHINFO: the current and root directories. */
  vnodePathInfo(pid: number): Buffer | undefined;
  uid(): number;
}

/**
 * The process table on macOS, as psutil reads it: a full scan is one sysctl (KERN_PROC_ALL: pid,
 * parent, start time, owner, name), the command line and environment one more (KERN_PROCARGS2) per
 * process worth reading, the cwd proc_pidinfo. NOT RUN ON A REAL MAC: tested on recorded layouts only.
 */
export async function darwinTable(source?: DarwinSource): Promise<ProcTable> {
  const from = source ?? (await import('./darwin-api.ts')).liveDarwinSource();
  const stat = (pid: number): KinfoProc | undefined => {
    const bytes = from.proc(pid);
    const proc = bytes && parseKinfoProc(bytes);
    return proc?.pid === pid ? proc : undefined;
  };
  const info = (proc: KinfoProc): ProcessInfo | undefined => {
    const args = from.procArgs(proc.pid);
    const parsed = args && parseProcArgs2(args);
    // A zombie has no arguments left to read; any other process we cannot read is not ours.
    if (!parsed && proc.state !== 'Z') return undefined;
    const cwd = from.vnodePathInfo(proc.pid);
    return { ...statOf(proc), user: String(proc.uid), argv: parsed?.argv ?? [], cwd: cwd && parseCwd(cwd) };
  };
  // One sysctl for the whole table; the arguments read only of processes whose name some search wants.
  const findAny = (wanted: readonly ProcessWanted[]): ProcessInfo[] => {
    const found: ProcessInfo[] = [];
    for (const proc of parseKinfoProcs(from.allProcs() ?? Buffer.alloc(0))) {
      const here = wanted.filter((search) => search.image === undefined || search.image === proc.comm);
      if (here.length === 0) continue;
      const whole = info(proc);
      const commandLine = whole?.argv.join(' ');
      if (whole && here.some((search) => commandLine?.includes(search.needle))) found.push(whole);
    }
    return found;
  };
  return {
    listPids: () => parseKinfoProcs(from.allProcs() ?? Buffer.alloc(0)).map((proc) => proc.pid),
    readStat: (pid) => {
      const proc = stat(pid);
      return proc && statOf(proc);
    },
    readProcess: (pid) => {
      const proc = stat(pid);
      return proc && info(proc);
    },
    readEnviron: (pid) => {
      const args = from.procArgs(pid);
      return args && parseProcArgs2(args)?.env;
    },
    findProcesses: (needle, image) => findAny([{ needle, image }]),
    findAny,
    startedAtMs: (createTime) => createTime / 1000,
    currentUser: () => String(from.uid()),
    pathKey: (path) => path,
  };
}

function statOf(proc: KinfoProc): ProcessStat {
  return { pid: proc.pid, ppid: proc.ppid, state: proc.state, createTime: proc.createTime };
}
