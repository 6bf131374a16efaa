import { performance } from 'node:perf_hooks';
import { isClockOfOurState, type ClockIdentity } from './identity.ts';
import { findProcesses, readEnviron, type ProcessInfo } from './proc-table.ts';
import { isStillAlive, terminate } from './terminate.ts';

// The pattern every clock's command line contains (PM2's title "node <entry>", or node's own argv).
const CLOCK_NEEDLE = 'main.js';
// Where the OS's scan names each process's executable, only node's command lines need reading.
const CLOCK_IMAGE = 'node';
const DUPLICATE_TERM_GRACE_MS = 3_000;

/**
 * Clocks of this state that PM2 does not own (orphans of a killed daemon, clocks started by hand):
 * found by a full scan of the process table, each proven to be this project's clock before it is
 * counted (a look-alike never is), and terminated gracefully, then by force.
 */
export class Duplicates {
  /** When the last full scan ran (performance.now(), ms), and how long it took (ms). */
  lastScanAt = -Infinity;
  lastScanMs = 0;
  scans = 0;
  private readonly terminating = new Set<number>();

  constructor(
    private readonly identity: ClockIdentity,
    private readonly log: (line: string) => void,
    private readonly warn: (line: string) => void,
  ) {}

  /** The clocks of this state other than PM2's `pm2Pid` that `daemonPid` did not launch, and not already being ended. */
  find(pm2Pid: number | undefined, daemonPid: number | undefined): ProcessInfo[] {
    const started = performance.now();
    const found = findProcesses(CLOCK_NEEDLE, CLOCK_IMAGE).filter((proc) => {
      if (proc.pid === pm2Pid || proc.pid === process.pid || this.terminating.has(proc.pid)) return false;
      const env = readEnviron(proc.pid);
      return isClockOfOurState(proc, env, this.identity) && !isOwnedBy(daemonPid, proc, env);
    });
    this.lastScanMs = performance.now() - started;
    this.lastScanAt = performance.now();
    this.scans += 1;
    return found;
  }

  /** Gracefully, then by force after a grace period (terminate.ts), each only to the same process (pid and creation time). */
  terminate(proc: ProcessInfo): void {
    this.terminating.add(proc.pid);
    this.warn(`terminating duplicate clock pid ${proc.pid} (${proc.argv.join(' ')}): a clock of this state that PM2 does not own`);
    void terminate(proc.pid, proc.createTime, DUPLICATE_TERM_GRACE_MS).then((how) => {
      this.log(`duplicate clock pid ${proc.pid} ${how === 'gone' ? 'was already gone' : how}`);
      this.terminating.delete(proc.pid);
    });
  }
}

/** A child of our daemon launched as `clock`: PM2's own, even if PM2's view has not caught up with it. */
function isOwnedBy(daemonPid: number | undefined, proc: ProcessInfo, env: Map<string, string> | undefined): boolean {
  return proc.ppid === daemonPid && env?.get('name') === 'clock' && isStillAlive(proc.pid, proc.createTime);
}
