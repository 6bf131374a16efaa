import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isClockOfOurState } from '../../apps/probe/identity.ts';
import { readEnviron, readProcess } from '../../apps/probe/proc-table.ts';
import { parseProcStat, readProcStat } from '../../apps/shared/proc-stat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { isAlive, waitFor } from '../lib/wait.ts';
import { injectMachineFault, unhealedNow, type MachineInjected } from './machine-faults.ts';
import { isMachineFault, isWorkerFault, type PlannedFault } from './plan.ts';
import { before, look, type Before, type System } from './system.ts';
import { injectWorkerFault, type WorkerInjected } from './worker-faults.ts';

/**
 * A fault as it was done: when (ms since the epoch) and what was there just before. For a disk
 * fault of the machine `at` is when the disk was given back: recovery is timed from there.
 */
export interface Injected {
  fault: PlannedFault;
  at: number;
  before: Before;
  /** A fault of the machine (--machine): what was healed before it, what it did, what went wrong meanwhile. */
  machine?: MachineInjected;
  /** A fault of the worker: the worker it struck, and when on the monotonic clock. */
  worker?: WorkerInjected;
}

// A checkpoint no clock can read: not JSON.
const GARBAGE = '{"version": 1, "run": 7, "threads": [{"name": "thread-1", "tick"\u0000\u0000 not a checkpoint\n';

/** Does `fault` to the system, at once; throws if it cannot (the target is not there or not ours). */
export async function injectFault(system: System, fault: PlannedFault): Promise<Injected> {
  const seen = await look(system);
  if (!seen.clock || !seen.probe || seen.clock.status !== 'online' || seen.probe.status !== 'online') {
    throw new Error(`cannot inject ${fault.kind}: PM2 does not report clock and probe online${seen.pm2Error ? ` (${seen.pm2Error})` : ''}`);
  }
  const was = await before(system, seen);
  if (system.standby) {
    // "The clock" is the active one: the heartbeat's writer, which only the owner of the state lock is.
    if (seen.heartbeat?.pid !== was.clockPid) {
      throw new Error(`cannot inject ${fault.kind}: no PM2 clock instance wrote the heartbeat (pid ${seen.heartbeat?.pid ?? 'none'}), so which one is active is not known`);
    }
    if (was.standbyPid <= 0) throw new Error(`cannot inject ${fault.kind}: PM2 reports no standby clock online`);
  }
  if (isWorkerFault(fault.kind)) {
    const worker = injectWorkerFault(system, fault.kind, seen);
    return { fault, at: Date.now(), before: was, worker };
  }
  let at = Date.now();
  // The clock (in hot-standby mode the active one) is proven to be this state's clock first; the fault's time is the signal's.
  const strikeClock = async (name: NodeJS.Signals): Promise<Verified> => {
    const clock = await verifiedClock(system, was.clockPid);
    at = Date.now();
    signal(clock, name);
    return clock;
  };
  switch (fault.kind) {
    case 'sigkill-clock':
      await strikeClock('SIGKILL');
      break;
    case 'sigterm-clock':
      await strikeClock('SIGTERM');
      break;
    case 'hang-clock':
      await strikeClock('SIGSTOP');
      break;
    case 'stall-clock':
      await verifiedClock(system, was.clockPid);
      at = Date.now();
      await system.rpc.sendAction(was.pmId, 'fault', 'stall');
      break;
    case 'crash-thread':
      await system.rpc.sendAction(was.pmId, 'fault', `crash thread-${fault.thread}`);
      break;
    case 'sigkill-standby': {
      const standby = await verifiedClock(system, was.standbyPid);
      at = Date.now();
      signal(standby, 'SIGKILL');
      break;
    }
    case 'sigkill-probe':
      signal(verifiedOurs(system, was.probePid, 'the probe'), 'SIGKILL');
      break;
    case 'kill-daemon': {
      const daemon = verifiedOurs(system, was.daemonPid ?? 0, 'the PM2 daemon');
      signal(daemon, 'SIGKILL');
      await waitFor(`the PM2 daemon ${daemon.pid} to die`, () => !isAlive(daemon.pid), 5_000);
      // What the init system does when the daemon dies (Restart=on-failure, then pm2 resurrect).
      await system.pm2('resurrect');
      break;
    }
    case 'hang-probe': {
      const unhealed = unhealedNow(seen, was);
      const probe = verifiedOurs(system, was.probePid, 'the probe');
      at = Date.now();
      signal(probe, 'SIGSTOP');
      return { fault, at, before: was, machine: { unhealed, falseHeals: [] } };
    }
    case 'damage-checkpoint': {
      // Stopped first, so that the clock cannot replace the garbage with a good checkpoint before it dies.
      const verified = await strikeClock('SIGSTOP');
      await waitFor(`clock pid ${verified.pid} to stop`, () => allThreadsStopped(verified.pid), 2_000);
      await writeFile(statePaths(system.stateDir).checkpoint, GARBAGE);
      at = Date.now();
      signal(verified, 'SIGKILL');
      break;
    }
    default:
      if (isMachineFault(fault.kind)) return { fault, before: was, ...(await injectMachineFault(system, fault.kind, was, seen)) };
  }
  return { fault, at, before: was };
}

interface Verified {
  pid: number;
  startTicks: number;
}

// A build (npm run build, or pm2 start's build-if-stale) deletes and rewrites dist/ for a moment, and
// with it the entry point a clock's identity is proven by: the proof is given that long to hold.
const IDENTITY_PATIENCE_MS = 2_000;

/** PM2's clock pid, checked against the process table: this state's clock, as the probe would prove it. */
async function verifiedClock(system: System, pid: number): Promise<Verified> {
  const proved = (): Verified | undefined => {
    const proc = readProcess(pid);
    return proc && isClockOfOurState(proc, readEnviron(pid), system.identity) ? { pid, startTicks: proc.createTime } : undefined;
  };
  return waitFor(`PM2's clock pid ${pid} to be proven a live clock of ${system.stateDir}`, proved, IDENTITY_PATIENCE_MS);
}

/** A process started by this PM2 daemon, or the daemon itself: its environment names this PM2_HOME. */
function verifiedOurs(system: System, pid: number, what: string): Verified {
  const startTicks = readProcStat(pid)?.startTicks;
  if (pid <= 0 || startTicks === undefined || !isOfHome(readEnviron(pid), system.home)) {
    throw new Error(`${what} (pid ${pid}) is not a live process of ${system.home}`);
  }
  return { pid, startTicks };
}

function isOfHome(env: Map<string, string> | undefined, home: string): boolean {
  return env?.get('PM2_HOME') === home;
}

/** Signals only the process that was verified: same pid and start time, so never a reused pid. */
function signal(target: Verified, name: NodeJS.Signals): void {
  if (readProcStat(target.pid)?.startTicks !== target.startTicks) throw new Error(`pid ${target.pid} ended before it could be sent ${name}`);
  process.kill(target.pid, name);
}

/** Whether every thread of `pid` (main, workers, libuv's pool) is stopped: no write can still land. */
function allThreadsStopped(pid: number): boolean {
  const taskDir = join('/proc', String(pid), 'task');
  try {
    return readdirSync(taskDir).every((tid) => {
      const state = parseProcStat(readFileSync(join(taskDir, tid, 'stat'), 'utf8'))?.state;
      return state === 'T' || state === 't';
    });
  } catch {
    return false;
  }
}
