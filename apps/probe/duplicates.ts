import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isInstanceOf, type AppIdentity } from './identity.ts';
import { readEnviron, type ProcessInfo, type ProcessWanted } from './proc-table.ts';
import { isStillAlive, terminate } from './terminate.ts';

const DUPLICATE_TERM_GRACE_MS = 3_000;

/**
 * Instances of a guarded app that PM2 does not own (orphans of a killed daemon, ones started by
 * hand): found in a full scan of the process table (one scan serves every guarded app of the probe:
 * probe.ts), each proven to be an instance of that app (its user, script and state) before it is
 * counted (a look-alike never is), and terminated gracefully, then by force.
 */
export class Duplicates {
  /** When the last full scan this app took part in ran (performance.now(), ms). */
  lastScanAt = -Infinity;
  private readonly terminating = new Set<number>();

  constructor(
    private readonly identity: AppIdentity,
    /** The interpreter's image name, where the OS's scan can skip every other process's command line (node for a node app). */
    private readonly image: string | undefined,
    private readonly log: (line: string) => void,
    private readonly warn: (line: string) => void,
  ) {}

  /** What the scan looks for: every instance's command line names its script (PM2's title "node <script>", or the interpreter's argv). */
  get wanted(): ProcessWanted {
    return { needle: basename(this.identity.entry), image: this.image };
  }

  /** Among a scan's `scanned` processes, the instances other than PM2's `pm2Pids` that `daemonPid` did not launch, and not already being ended. */
  find(scanned: readonly ProcessInfo[], pm2Pids: number[], daemonPid: number | undefined): ProcessInfo[] {
    const { needle } = this.wanted;
    this.lastScanAt = performance.now();
    return scanned.filter((proc) => {
      if (!proc.argv.join(' ').includes(needle)) return false;
      if (pm2Pids.includes(proc.pid) || proc.pid === process.pid || this.terminating.has(proc.pid)) return false;
      const env = readEnviron(proc.pid);
      return isInstanceOf(proc, env, this.identity) && !isOwnedBy(daemonPid, this.identity.name, proc, env);
    });
  }

  /** Gracefully, then by force after a grace period (terminate.ts), each only to the same process (pid and creation time). */
  terminate(proc: ProcessInfo): void {
    this.terminating.add(proc.pid);
    const { name } = this.identity;
    this.warn(`terminating duplicate ${name} pid ${proc.pid} (${proc.argv.join(' ')}): an instance of ${name} on its state that PM2 does not own`);
    void terminate(proc.pid, proc.createTime, DUPLICATE_TERM_GRACE_MS).then((how) => {
      this.log(`duplicate ${name} pid ${proc.pid} ${how === 'gone' ? 'was already gone' : how}`);
      this.terminating.delete(proc.pid);
    });
  }
}

/** A child of our daemon launched as `name`: PM2's own, even if PM2's view has not caught up with it. */
function isOwnedBy(daemonPid: number | undefined, name: string, proc: ProcessInfo, env: Map<string, string> | undefined): boolean {
  return proc.ppid === daemonPid && env?.get('name') === name && isStillAlive(proc.pid, proc.createTime);
}
