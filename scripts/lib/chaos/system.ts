import { join } from 'node:path';
import type { ClockIdentity } from '../../../apps/probe/identity.ts';
import { readHeartbeat, type Heartbeat } from '../../../apps/shared/heartbeat.ts';
import { statePaths } from '../../../apps/shared/state-dir.ts';
import type { Pm2Result } from '../pm2-cli.ts';
import { clocksOfState } from './clock-processes.ts';
import { sizeOf } from './pm2-logs.ts';
import type { Pm2App, Pm2Client } from '../../../apps/probe/pm2-client.ts';

/** The running system chaos breaks: one PM2 daemon with its clock and probe, their state and logs. */
export interface System {
  home: string;
  stateDir: string;
  logDir: string;
  /** Runs the pm2 CLI against this daemon, failing unless it exits 0. */
  pm2(...args: string[]): Promise<Pm2Result>;
  rpc: Pm2Client;
  identity: ClockIdentity;
  probePeriodMs: number;
  threads: number;
}

/** One look at the system: PM2's view, the process table and the heartbeat, at one moment. */
export interface Look {
  at: number;
  clock: Pm2App | undefined;
  probe: Pm2App | undefined;
  /** Why PM2 could not be asked, if it could not. */
  pm2Error: string | undefined;
  daemonPid: number | undefined;
  /** Pids of the clocks of this state in the process table. */
  clocks: number[];
  heartbeat: Heartbeat | undefined;
}

export async function look(system: System): Promise<Look> {
  let apps: Pm2App[] = [];
  let pm2Error: string | undefined;
  try {
    apps = await system.rpc.apps();
  } catch (error) {
    pm2Error = error instanceof Error ? error.message : String(error);
  }
  return {
    at: Date.now(),
    clock: apps.find((app) => app.name === 'clock'),
    probe: apps.find((app) => app.name === 'probe'),
    pm2Error,
    daemonPid: system.rpc.daemonPid(),
    clocks: clocksOfState(system.identity).map((proc) => proc.pid),
    heartbeat: await readHeartbeat(statePaths(system.stateDir).heartbeat),
  };
}

export const logPaths = (system: System) => ({
  out: join(system.logDir, 'clock.out.log'),
  err: join(system.logDir, 'clock.err.log'),
});

/** What was there just before a fault: to tell the processes and log lines that came after it. */
export interface Before {
  clockPid: number;
  pmId: number;
  probePid: number;
  daemonPid: number | undefined;
  outSize: number;
  errSize: number;
}

export async function before(system: System, seen: Look): Promise<Before> {
  const logs = logPaths(system);
  return {
    clockPid: seen.clock?.pid ?? 0,
    pmId: seen.clock?.pmId ?? 0,
    probePid: seen.probe?.pid ?? 0,
    daemonPid: seen.daemonPid,
    outSize: await sizeOf(logs.out),
    errSize: await sizeOf(logs.err),
  };
}
