import { setTimeout as sleep } from 'node:timers/promises';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { clockLog } from './cluster.ts';
import { failoverMs, lastTickAt, LEAD_MOVES, leaderTicking, rejoinedAsFollower, strike, type ClusterFaultKind } from './faults.ts';
import type { Manifest } from './manifest.ts';
import { hostTicks } from './verdict.ts';

/** One host-level fault done to a test cluster, and what came of it. */
export interface FailoverResult {
  kind: ClusterFaultKind;
  /** The host struck, and the leader after the fault. */
  struck: string;
  leaderAfter: string | undefined;
  recovered: boolean;
  /** ms from the fault to the first tick on another host (faults that move the lead); undefined otherwise or if none came. */
  failoverMs: number | undefined;
  /**
   * ms from the fault to the new leader ready to tick (its heartbeat's readyAt): the failover
   * itself. The first tick may come up to an interval later, when none is due at once (in a run's
   * second half only the 4 s thread ticks).
   */
  readyMs: number | undefined;
  problem: string | undefined;
}

/**
 * Does `kind` to the cluster and checks what must follow: for a fault of the leader, another host
 * ticks, the old one has stopped before it began, and once healed the old one follows and the lead
 * stays where it went; for an etcd member killed, the leader ticks on and keeps the lead.
 */
export async function failover(dir: string, manifest: Manifest, kind: ClusterFaultKind, waitMs: number): Promise<FailoverResult> {
  const leader = await leaderTicking(manifest, Date.now() - 60_000, undefined, 3, 30_000);
  await sleep(waitMs);
  const struck = await strike(dir, manifest, kind, leader);
  const result: FailoverResult = { kind, struck: struck.host.name, leaderAfter: undefined, recovered: false, failoverMs: undefined, readyMs: undefined, problem: undefined };
  let healed = false;
  const heal = async (): Promise<void> => {
    if (!healed) await struck.heal();
    healed = true;
  };
  try {
    if (LEAD_MOVES.has(kind)) {
      const next = await leaderTicking(manifest, struck.at, leader.name);
      result.failoverMs = failoverMs(manifest, leader.name, struck.at);
      const readyAt = (await readHeartbeat(statePaths(next.stateDir).heartbeat))?.readyAt;
      result.readyMs = readyAt ? readyAt - struck.at : undefined;
      result.leaderAfter = next.name;
      const began = hostTicks(next.name, clockLog(next)).find((tick) => tick.at > struck.at)?.at ?? 0;
      await heal();
      await rejoinedAsFollower(manifest, leader);
      const lead = await leaderTicking(manifest, Date.now(), undefined, 2);
      if (lastTickAt(leader) >= began) result.problem = `${leader.name} ticked at ${lastTickAt(leader)}, after ${next.name} began at ${began}`;
      else if (lead.name !== next.name) result.problem = `the lead went from ${next.name} to ${lead.name} once ${leader.name} was healed`;
    } else {
      const ticking = await leaderTicking(manifest, struck.at, undefined, 6);
      result.leaderAfter = ticking.name;
      // The clock restarted by PM2: timed, like a failover, to the first tick anywhere.
      if (kind === 'kill-leader-clock') result.failoverMs = failoverMs(manifest, '', struck.at);
      const what = kind === 'kill-etcd' ? `${struck.host.name}'s etcd member` : `${leader.name}'s clock process`;
      if (ticking.name !== leader.name) result.problem = `the lead moved from ${leader.name} to ${ticking.name} when only ${what} died`;
      await heal();
    }
    result.recovered = result.problem === undefined;
  } catch (error) {
    result.problem = error instanceof Error ? error.message : String(error);
    await heal().catch(() => {});
  }
  return result;
}
