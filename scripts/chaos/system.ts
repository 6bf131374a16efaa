import { join } from 'node:path';
import type { ClockIdentity } from '../../apps/probe/identity.ts';
import { readHeartbeat, type Heartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import type { Pm2Result } from '../lib/pm2-cli.ts';
import { clocksOfState } from './clock-processes.ts';
import type { Machine } from './machine.ts';
import { sizeOf } from './pm2-logs.ts';
import { pm2AppOf, type Pm2App, type Pm2Client, type RawPm2Process } from '../../apps/probe/pm2-client.ts';
import { lookAtWorker, type WorkerSpec, type WorkerView } from './worker-look.ts';

/** The running system chaos breaks: one PM2 daemon with its clock and probe (and the worker), their state and logs. */
export interface System {
  home: string;
  stateDir: string;
  logDir: string;
  /** Runs the pm2 CLI against this daemon, failing unless it exits 0. */
  pm2(...args: string[]): Promise<Pm2Result>;
  rpc: Pm2Client;
  identity: ClockIdentity;
  probePeriodMs: number;
  /** The probe's PROBE_HANG_MS. */
  probeHangMs: number;
  threads: number;
  /** Hot-standby mode (CLOCK_STANDBY=1): PM2 runs two clock instances, one active, one standby. */
  standby: boolean;
  /** --machine: the disks and wall clocks under the sandbox, for the faults of the machine. */
  machine?: Machine | undefined;
  /** The example worker beside the clock, as PM2 launched it; absent with --no-worker or --machine. */
  worker?: WorkerSpec | undefined;
}

/** One PM2 instance of the clock, with the role it last published to PM2 (hot standby: 'active' or 'standby'). */
export interface ClockInstance extends Pm2App {
  role: string | undefined;
}

/** One look at the system: PM2's view, the process table and the heartbeat, at one moment. */
export interface Look {
  at: number;
  /**
   * The clock that ticks: PM2's clock instance whose pid wrote the heartbeat (in hot-standby mode,
   * the active one); failing that the first one online, else the first. With one instance, that one.
   */
  clock: ClockInstance | undefined;
  /** Every PM2 instance of the clock, in PM2's order (two in hot-standby mode). */
  instances: ClockInstance[];
  probe: Pm2App | undefined;
  /** Why PM2 could not be asked, if it could not. */
  pm2Error: string | undefined;
  daemonPid: number | undefined;
  /** Pids of the clocks of this state in the process table. */
  clocks: number[];
  heartbeat: Heartbeat | undefined;
  /** The worker, when the system runs one. */
  worker?: WorkerView | undefined;
}

export async function look(system: System): Promise<Look> {
  let list: RawPm2Process[] = [];
  let pm2Error: string | undefined;
  try {
    list = await system.rpc.processList();
  } catch (error) {
    pm2Error = error instanceof Error ? error.message : String(error);
  }
  const heartbeat = await readHeartbeat(statePaths(system.stateDir).heartbeat);
  const instances = list.filter((app) => app.name === 'clock').map(clockInstanceOf);
  const probe = list.find((app) => app.name === 'probe');
  const worker = system.worker && (await lookAtWorker(system.worker, list));
  return {
    at: Date.now(),
    clock: tickingInstance(instances, heartbeat),
    instances,
    probe: probe && clockInstanceOf(probe),
    pm2Error,
    daemonPid: system.rpc.daemonPid(),
    clocks: clocksOfState(system.identity).map((proc) => proc.pid),
    heartbeat,
    ...(worker ? { worker } : {}),
  };
}

/** PM2's entry as Pm2Client.apps() gives it, with the `role` metric the clock publishes in hot-standby mode. */
export function clockInstanceOf(app: RawPm2Process): ClockInstance {
  const metrics = app.pm2_env.axm_monitor as Record<string, { value?: unknown }> | undefined;
  const role = metrics?.role?.value;
  return { ...pm2AppOf(app), role: typeof role === 'string' ? role : undefined };
}

/** The instance that ticks: the heartbeat's writer among PM2's online instances, as the probe decides it. */
export function tickingInstance<T extends Pm2App>(instances: T[], heartbeat: Pick<Heartbeat, 'pid'> | undefined): T | undefined {
  const online = instances.filter((app) => app.status === 'online' && app.pid > 0);
  return online.find((app) => app.pid === heartbeat?.pid) ?? online[0] ?? instances[0];
}

/** In hot-standby mode, the instance that waits: the online one that is not `active`. */
export function standbyInstance<T extends Pm2App>(instances: T[], active: T | undefined): T | undefined {
  return instances.find((app) => app !== active && app.status === 'online' && app.pid > 0);
}

export const logPaths = (system: System) => ({
  out: join(system.logDir, 'clock.out.log'),
  err: join(system.logDir, 'clock.err.log'),
});

/** What was there just before a fault: to tell the processes and log lines that came after it. */
export interface Before {
  /** The clock that ticked (in hot-standby mode the active one: the heartbeat's writer), and its PM2 id. */
  clockPid: number;
  pmId: number;
  /** Hot-standby mode: the standby waiting to take over, and its PM2 id (0 and -1 in plain mode). */
  standbyPid: number;
  standbyPmId: number;
  probePid: number;
  /** The worker PM2 ran (0 when the system runs none, or PM2 had none online). */
  workerPid: number;
  daemonPid: number | undefined;
  outSize: number;
  errSize: number;
}

export async function before(system: System, seen: Look): Promise<Before> {
  const logs = logPaths(system);
  const standby = system.standby ? standbyInstance(seen.instances, seen.clock) : undefined;
  return {
    clockPid: seen.clock?.pid ?? 0,
    pmId: seen.clock?.pmId ?? 0,
    standbyPid: standby?.pid ?? 0,
    standbyPmId: standby?.pmId ?? -1,
    probePid: seen.probe?.pid ?? 0,
    workerPid: seen.worker?.app?.status === 'online' ? seen.worker.app.pid : 0,
    daemonPid: seen.daemonPid,
    outSize: await sizeOf(logs.out),
    errSize: await sizeOf(logs.err),
  };
}
