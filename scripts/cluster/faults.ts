import { readFileSync } from 'node:fs';
import { isAlive, waitFor } from '../lib/wait.ts';
import { clockLog, status } from './cluster.ts';
import { ETCD_LOOK_MS, etcdHealthy, powerOff, powerOn, startEtcd } from './hosts.ts';
import { writeManifest, type HostEntry, type Manifest } from './manifest.ts';
import { pidsIn, setHostLink, signalAllIn } from './netns.ts';
import { hostTicks } from './verdict.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';

/**
 * Host-level faults of a test cluster, shared by its test, `npm run chaos -- --cluster` and the
 * bench: each strikes at once and returns the moment it struck and how to heal what it broke.
 */
export const CLUSTER_FAULT_KINDS = ['cut-leader', 'power-off-leader', 'freeze-leader', 'kill-etcd', 'kill-leader-clock'] as const;
export type ClusterFaultKind = (typeof CLUSTER_FAULT_KINDS)[number];

export const CLUSTER_FAULT_DESCRIPTIONS: Record<ClusterFaultKind, string> = {
  'cut-leader': "the leader's links set down; another host must tick, the old one stop; then up again",
  'power-off-leader': 'SIGKILL of every process on the leader; another host must tick; then etcd and pm2 resurrect again',
  'freeze-leader': 'SIGSTOP of every process on the leader; another host must tick; thawed, the old one never ticks again',
  'kill-etcd': "SIGKILL of a follower's etcd member; the leader ticks on; then the member is started again",
  'kill-leader-clock': "SIGKILL of the leader's clock alone; PM2 starts it again and it leads on, from the same host",
};

/** Faults after which the lead must move to another host. */
export const LEAD_MOVES: ReadonlySet<ClusterFaultKind> = new Set(['cut-leader', 'power-off-leader', 'freeze-leader']);

export interface Struck {
  kind: ClusterFaultKind;
  /** The host struck: the leader, or for kill-etcd the follower whose member was killed. */
  host: HostEntry;
  /** The leader when it struck. */
  leader: HostEntry;
  at: number;
  heal(): Promise<void>;
}

export function hostNamed(manifest: Manifest, name: string): HostEntry {
  const host = manifest.hosts.find((entry) => entry.name === name);
  if (!host) throw new Error(`no host ${name} in the cluster`);
  return host;
}

/**
 * The leader, once one leads (other than `not`) and has printed `ticks` ticks after `since` (ms
 * since the epoch), by its own log.
 */
export async function leaderTicking(manifest: Manifest, since: number, not?: string, ticks = 3, deadlineMs = 20_000): Promise<HostEntry> {
  const name = await waitFor(
    `a leader other than ${not ?? 'none'} ticking`,
    async () => {
      const { leader } = await status(manifest, { etcd: false });
      if (!leader || leader === not) return undefined;
      return hostTicks(leader, clockLog(hostNamed(manifest, leader))).filter((tick) => tick.at > since).length >= ticks ? leader : undefined;
    },
    deadlineMs,
  );
  return hostNamed(manifest, name);
}

/** The first tick that a host other than `struck` printed after `at`: ms after `at`, or undefined. */
export function failoverMs(manifest: Manifest, struck: string, at: number): number | undefined {
  const first = manifest.hosts
    .filter((entry) => entry.name !== struck)
    .flatMap((entry) => hostTicks(entry.name, clockLog(entry)))
    .filter((tick) => tick.at > at)
    .sort((a, b) => a.at - b.at)[0];
  return first && first.at - at;
}

/** The time (ms since the epoch) of the last tick `host` printed, or 0. */
export function lastTickAt(host: HostEntry): number {
  return hostTicks(host.name, clockLog(host)).at(-1)?.at ?? 0;
}

/** Waits until `host` says it follows again (a fresh heartbeat, role follower). */
export async function rejoinedAsFollower(manifest: Manifest, host: HostEntry, deadlineMs = 20_000): Promise<void> {
  await waitFor(`${host.name} back as a follower`, async () => (await status(manifest, { etcd: false })).hosts.find((entry) => entry.name === host.name)?.role === 'follower', deadlineMs);
}

/** Does `kind` to the cluster whose manifest is in `dir`, at once. */
export async function strike(dir: string, manifest: Manifest, kind: ClusterFaultKind, leader: HostEntry): Promise<Struck> {
  const at = Date.now();
  switch (kind) {
    case 'cut-leader':
      setHostLink(leader.netns, manifest.switchNetns, leader.link, false);
      return { kind, host: leader, leader, at, heal: async () => setHostLink(leader.netns, manifest.switchNetns, leader.link, true) };
    case 'power-off-leader':
      await powerOff(leader);
      return {
        kind,
        host: leader,
        leader,
        at,
        heal: async () => {
          await powerOn(manifest, leader);
          writeManifest(dir, manifest);
        },
      };
    case 'freeze-leader':
      signalAllIn(leader.netns, 'SIGSTOP');
      return { kind, host: leader, leader, at, heal: async () => void signalAllIn(leader.netns, 'SIGCONT') };
    case 'kill-leader-clock': {
      const pid = (await readHeartbeat(statePaths(leader.stateDir).heartbeat))?.pid;
      if (!pid || !pidsIn(leader.netns).includes(pid)) throw new Error(`no clock process of ${leader.name}'s to kill`);
      process.kill(pid, 'SIGKILL');
      return { kind, host: leader, leader, at, heal: async () => {} };
    }
    case 'kill-etcd': {
      const follower = manifest.hosts.find((entry) => entry !== leader) as HostEntry;
      const etcd = pidsIn(follower.netns).find((pid) => commOf(pid) === 'etcd');
      if (!etcd) throw new Error(`no etcd process on ${follower.name}`);
      process.kill(etcd, 'SIGKILL');
      await waitFor(`etcd on ${follower.name} to be gone`, () => !isAlive(etcd), 5_000);
      return {
        kind,
        host: follower,
        leader,
        at,
        heal: async () => {
          follower.etcdPid = startEtcd(manifest, follower, 'existing');
          writeManifest(dir, manifest);
          // Each look starts a process in the namespace: a few a second, not twenty.
          await waitFor(`etcd on ${follower.name} healthy again`, () => etcdHealthy(manifest, follower), 20_000, ETCD_LOOK_MS);
        },
      };
    }
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
