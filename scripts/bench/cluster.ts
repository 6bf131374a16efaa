import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { down, missing, up } from '../cluster/cluster.ts';
import { WAIT_MS } from '../chaos/plan.ts';
import { failover } from '../cluster/failovers.ts';
import { leaderTicking } from '../cluster/faults.ts';
import { waitFor } from '../lib/wait.ts';
import { readManifest, type Manifest } from '../cluster/manifest.ts';
import { cleanUpOnInterrupt } from '../lib/interrupt.ts';
import { cpuSeconds } from './proc-usage.ts';
import { SETTLE_MS } from './measure.ts';

/**
 * The bench's cluster rows: three test hosts (npm run cluster) at the production defaults. First a
 * quiet window with nothing failing (leader changes counted, the leader's CPU measured), then the
 * failovers: the leader cut off the network, and the leader powered off, each `count` times.
 */
export interface ClusterMeasurements {
  /** Why the cluster could not be measured here (not root, no etcd …), or undefined. */
  skipped: string | undefined;
  cutMs: number[];
  powerOffMs: number[];
  /** The same failovers, to the new leader ready to tick rather than to its first tick. */
  cutReadyMs: number[];
  powerOffReadyMs: number[];
  /** The leader's clock process SIGKILLed (its host fine): the kill to the clock after it ready, on the same host. */
  clockKillReadyMs: number[];
  /** Failovers that did not happen as they must (another host ticking, the old one stopped, the lead kept once healed). */
  failures: string[];
  quietSeconds: number;
  /** Leadership changes while nothing failed. */
  quietChanges: number;
  /** The leader's clock process: CPU as a share of one core over the quiet window. */
  leaderCpuPercent: number;
}

const SETTINGS = { CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20', PROBE_PERIOD_MS: '500', PROBE_HANG_MS: '3000' };
const LOOK_EVERY_MS = 1_000;

export async function measureCluster(count: number, quietSeconds: number, progress: (line: string) => void): Promise<ClusterMeasurements> {
  const result: ClusterMeasurements = { skipped: missing(), cutMs: [], powerOffMs: [], cutReadyMs: [], powerOffReadyMs: [], clockKillReadyMs: [], failures: [], quietSeconds, quietChanges: 0, leaderCpuPercent: Number.NaN };
  if (result.skipped) return result;
  const parent = await mkdtemp(join(tmpdir(), 'estatus-bench-cluster-'));
  const dir = join(parent, 'cluster');
  const takeAway = cleanUpOnInterrupt(async () => {
    if (readManifest(dir)) await down(dir, progress);
    await rm(parent, { recursive: true, force: true });
  });
  try {
    progress('cluster: making 3 test hosts with a 3-member etcd');
    await up({ hosts: 3, dir, dirCreated: true, settings: SETTINGS, progress: (line) => progress(`cluster: ${line}`) });
    const manifest = readManifest(dir) as Manifest;
    await quietWindow(manifest, result, progress);
    for (let round = 1; round <= count; round++) await clockKill(manifest, result, round, count, progress);
    for (let round = 1; round <= count; round++) {
      for (const kind of ['cut-leader', 'power-off-leader'] as const) {
        // Each after 0.5-2 s of ticking, as chaos draws them: the fault lands anywhere in the lease's keep-alive beat.
        const waitMs = WAIT_MS.min + Math.floor(Math.random() * (WAIT_MS.max - WAIT_MS.min));
        const done = await failover(dir, manifest, kind, waitMs);
        if (done.recovered && done.failoverMs !== undefined) (kind === 'cut-leader' ? result.cutMs : result.powerOffMs).push(done.failoverMs);
        if (done.recovered && done.readyMs !== undefined) (kind === 'cut-leader' ? result.cutReadyMs : result.powerOffReadyMs).push(done.readyMs);
        else result.failures.push(`${kind}: ${done.problem ?? 'no failover time'}`);
        progress(`cluster: ${kind} ${round}/${count}: ${done.recovered ? `${done.leaderAfter} ready ${done.readyMs} ms, ticking ${done.failoverMs} ms later` : `FAILED: ${done.problem}`}`);
      }
    }
    return result;
  } finally {
    await takeAway();
  }
}

/**
 * The leader's clock SIGKILLed, its host and etcd fine: PM2 starts it again (it carries on with the
 * noted lease, no election) and it must lead again from the same host. Timed to its heartbeat's
 * readyAt: at 2 s / 4 s the first tick may be seconds away by the schedule alone.
 */
async function clockKill(manifest: Manifest, result: ClusterMeasurements, round: number, count: number, progress: (line: string) => void): Promise<void> {
  const leader = await leaderTicking(manifest, Date.now() - 60_000, undefined, 1, 30_000);
  // Only a clock ready for over a second (as the single-host kills): the healthy-restart path, not
  // the crash-loop back-off that a clock killed sooner earns (1 s more, by design).
  await waitFor(`${leader.name}'s clock ready for ${SETTLE_MS} ms`, async () => Date.now() - ((await readHeartbeat(statePaths(leader.stateDir).heartbeat))?.readyAt ?? Date.now()) > SETTLE_MS, 30_000, 50);
  await sleep(WAIT_MS.min + Math.floor(Math.random() * (WAIT_MS.max - WAIT_MS.min)));
  const pid = (await readHeartbeat(statePaths(leader.stateDir).heartbeat))?.pid;
  if (pid === undefined) throw new Error(`no heartbeat from the leader ${leader.name}`);
  const at = Date.now();
  process.kill(pid, 'SIGKILL');
  try {
    const beat = await waitFor(`a clock after ${leader.name}:${pid} to lead`, async () => {
      const beats = await Promise.all(manifest.hosts.map(async (host) => ({ host, beat: await readHeartbeat(statePaths(host.stateDir).heartbeat) })));
      return beats.find(({ beat }) => beat && beat.pid !== pid && beat.cluster?.role === 'leader' && beat.phase === 'ticking' && (beat.readyAt ?? 0) > at);
    }, 20_000, 20);
    if (beat.host !== leader) throw new Error(`the lead went to ${beat.host.name}`);
    result.clockKillReadyMs.push((beat.beat?.readyAt ?? 0) - at);
    progress(`cluster: leader's clock killed ${round}/${count}: ready again on ${leader.name} ${result.clockKillReadyMs.at(-1)} ms later`);
  } catch (error) {
    result.failures.push(`clock-kill: ${error instanceof Error ? error.message : String(error)}`);
    progress(`cluster: leader's clock killed ${round}/${count}: FAILED: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Nothing fails for `quietSeconds`: who leads is looked at every second, and the leader's CPU time taken. */
async function quietWindow(manifest: Manifest, result: ClusterMeasurements, progress: (line: string) => void): Promise<void> {
  const leader = await leaderTicking(manifest, 0, undefined, 3, 60_000);
  const pidOf = async (): Promise<number | undefined> => (await readHeartbeat(statePaths(leader.stateDir).heartbeat))?.pid;
  const pid = await pidOf();
  if (pid === undefined) throw new Error(`no heartbeat from the leader ${leader.name}`);
  progress(`cluster: quiet run, ${result.quietSeconds} s: ${leader.name} leads; counting leader changes`);
  const seen = new Set<string>();
  const cpuBefore = await cpuSeconds(pid);
  const started = performance.now();
  while (performance.now() - started < result.quietSeconds * 1_000) {
    for (const host of manifest.hosts) {
      const beat = await readHeartbeat(statePaths(host.stateDir).heartbeat);
      if (beat?.cluster?.role === 'leader' && beat.phase === 'ticking') seen.add(`${host.name}:${beat.pid}`);
    }
    await sleep(LOOK_EVERY_MS);
  }
  const wallSeconds = (performance.now() - started) / 1_000;
  result.quietChanges = Math.max(0, seen.size - 1);
  result.leaderCpuPercent = (await pidOf()) === pid ? ((await cpuSeconds(pid)) - cpuBefore) / wallSeconds * 100 : Number.NaN;
}
