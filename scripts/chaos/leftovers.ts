import { listPids, readEnviron, readProcess, type ProcessInfo } from '../../apps/probe/proc-table.ts';
import { isLiving, readProcStat } from '../../apps/shared/proc-stat.ts';

/**
 * Processes a chaos run started and left alive: its PM2 daemon and that daemon's apps carry its
 * PM2_HOME in their environment, and any clock of its state its STATE_DIR. Only this user's, never
 * this process itself.
 */
export function processesOf(home: string, stateDir: string): ProcessInfo[] {
  const uid = process.getuid?.() ?? -1;
  return listPids()
    .filter((pid) => pid !== process.pid)
    .flatMap((pid) => {
      const env = readEnviron(pid);
      if (!env || (env.get('PM2_HOME') !== home && env.get('STATE_DIR') !== stateDir)) return [];
      const proc = readProcess(pid);
      return isLiving(proc) && proc.user === String(uid) ? [proc] : [];
    });
}

/** SIGKILLs each of them (pid and start time checked at the last moment); returns the pids killed. */
export function killAll(processes: ProcessInfo[]): number[] {
  const killed: number[] = [];
  for (const proc of processes) {
    if (readProcStat(proc.pid)?.startTicks !== proc.createTime) continue;
    try {
      process.kill(proc.pid, 'SIGKILL');
      killed.push(proc.pid);
    } catch {
      // Gone in between: nothing left to end.
    }
  }
  return killed;
}
