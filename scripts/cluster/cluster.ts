import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { readHeartbeat, type Heartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { waitFor } from '../lib/wait.ts';
import { ETCD_LOOK_MS, etcdHealthy, etcdLook, hostPm2, startEcosystem, startEtcd } from './hosts.ts';
import { readManifest, writeManifest, type HostEntry, type Manifest } from './manifest.ts';
import { makeCertificates } from './certs.ts';
import { allEnded, createHost, createSwitch, deleteNamespace, signalAllIn } from './netns.ts';

/** `npm run cluster`'s three verbs: make a cluster of test hosts, say how it is, take it all away. */

/** Why the cluster cannot be made here, or undefined when it can: root, iproute2 and etcd. */
export function missing(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux\'s: the test cluster runs on Linux only';
  if (process.getuid?.() !== 0) return 'making network namespaces needs root';
  if (!onPath('ip')) return 'the ip command is missing: apt-get install iproute2';
  if (!onPath('etcd')) return 'etcd is missing: apt-get install etcd-server';
  return undefined;
}

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface UpOptions {
  hosts: number;
  dir: string;
  /** Whether DIR was made for this cluster (then down removes it whole). */
  dirCreated: boolean;
  /** The clocks' settings (CLOCK_INTERVALS, CLOCK_TICKS, PROBE_*, CLOCK_LEASE_S …), from the environment. */
  settings: Record<string, string>;
  /** etcd over https only, with client certificates of a CA made for this cluster (certs.ts). */
  tls?: boolean;
  progress(line: string): void;
}

/**
 * Makes the cluster: namespaces and links, an etcd member on each host (one cluster of N), then the
 * ecosystem under each host's own PM2. The manifest is written before each step, so that a failed or
 * interrupted `up` leaves nothing `down` does not know of.
 */
export async function up(options: UpOptions): Promise<{ dir: string; manifest: Manifest }> {
  const { dir, dirCreated } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (readManifest(dir)) throw new Error(`${dir} already holds a cluster (cluster.json): npm run cluster -- down --dir ${dir} first`);
  const tag = randomBytes(3).toString('hex');
  // A /24 of the private range, chosen per cluster; it exists only inside this cluster's namespaces.
  const subnet = `10.${200 + (randomBytes(1)[0] ?? 0) % 50}.${randomBytes(1)[0] ?? 0}`;
  const manifest: Manifest = { tag, switchNetns: `estatus-${tag}-sw`, subnet: `${subnet}.0/24`, dirCreated, settings: options.settings, hosts: [] };
  for (let index = 1; index <= options.hosts; index++) {
    const name = `h${index}`;
    const root = join(dir, name);
    manifest.hosts.push({
      name,
      netns: `estatus-${tag}-${name}`,
      ip: `${subnet}.${10 + index}`,
      pm2Home: join(root, 'pm2'),
      stateDir: join(root, 'state'),
      logDir: join(root, 'logs'),
      etcdDir: join(root, 'etcd', 'data'),
      link: `v${tag}${name}`.slice(0, 15),
    });
  }
  if (options.tls) {
    manifest.tlsDir = join(dir, 'tls');
    writeManifest(dir, manifest);
    options.progress('making a CA of the cluster\'s own, a certificate for each etcd member and one for the clocks (openssl)');
    makeCertificates(manifest.tlsDir, manifest.hosts);
  }
  writeManifest(dir, manifest);
  options.progress(`making ${options.hosts} hosts in network namespaces estatus-${tag}-*, ${manifest.subnet}`);
  createSwitch(manifest.switchNetns);
  for (const host of manifest.hosts) {
    mkdirSync(join(dir, host.name), { recursive: true, mode: 0o700 });
    createHost(host.netns, manifest.switchNetns, host.link, `${host.ip}/24`);
  }
  options.progress('starting one etcd member on each host');
  for (const host of manifest.hosts) {
    host.etcdPid = startEtcd(manifest, host, 'new');
    writeManifest(dir, manifest);
  }
  await waitFor('every etcd member to be healthy', async () => (await Promise.all(manifest.hosts.map((host) => etcdHealthy(manifest, host)))).every(Boolean), 30_000, ETCD_LOOK_MS);
  options.progress('starting the ecosystem under each host\'s own PM2');
  for (const host of manifest.hosts) {
    await startEcosystem(manifest, host);
    // What pm2 resurrect brings back after a power cut.
    await hostPm2(manifest, host, ['save', '--force']);
  }
  writeManifest(dir, manifest);
  return { dir, manifest };
}

export interface HostStatus {
  name: string;
  ip: string;
  netns: string;
  /** 'leader', 'follower', or null when its clock says nothing (no fresh heartbeat). */
  role: 'leader' | 'follower' | null;
  clockPid: number | null;
  heartbeatAgeMs: number | null;
  leaseAgeMs: number | null;
  /** null when not asked (a look from the heartbeats alone). */
  etcdHealthy: boolean | null;
  /** Whether its etcd member is etcd's own (Raft) leader; null when not asked or it did not answer. */
  etcdLeads: boolean | null;
  etcdVersion: string | null;
}

export interface ClusterStatus {
  /** The host whose clock leads and ticks, or null while none does. */
  leader: string | null;
  /** The host whose etcd member leads etcd's Raft, or null (not asked, or none answered so). */
  etcdLeader: string | null;
  hosts: HostStatus[];
}

// A heartbeat older than this is no word from the clock (the probe's default hang limit).
const HEARTBEAT_FRESH_MS = 3_000;

/**
 * How the cluster is, from each host's heartbeat and (unless `etcd` is false) its etcd member's
 * health; changes nothing. Asking etcd starts a process in each namespace: a loop that polls the
 * leader reads the heartbeats alone, or it would load the two cores it measures.
 */
export async function status(manifest: Manifest, { etcd = true }: { etcd?: boolean } = {}, now = Date.now()): Promise<ClusterStatus> {
  const hosts = await Promise.all(
    manifest.hosts.map(async (host): Promise<HostStatus> => {
      const beat: Heartbeat | undefined = await readHeartbeat(statePaths(host.stateDir).heartbeat);
      const look = etcd ? await etcdLook(manifest, host) : undefined;
      const fresh = beat !== undefined && now - beat.writtenAt <= HEARTBEAT_FRESH_MS;
      const role = fresh ? (beat.cluster?.role ?? null) : null;
      return {
        name: host.name,
        ip: host.ip,
        netns: host.netns,
        role: role === 'leader' && beat?.phase !== 'ticking' ? null : role,
        clockPid: fresh ? beat.pid : null,
        heartbeatAgeMs: beat ? Math.max(0, now - beat.writtenAt) : null,
        leaseAgeMs: fresh ? (beat.cluster?.leaseAgeMs ?? null) : null,
        etcdHealthy: look ? look.healthy : null,
        etcdLeads: look ? look.leads : null,
        etcdVersion: look ? look.version : null,
      };
    }),
  );
  return { leader: hosts.find((host) => host.role === 'leader')?.name ?? null, etcdLeader: hosts.find((host) => host.etcdLeads)?.name ?? null, hosts };
}

/**
 * Takes away everything the manifest names: each host's PM2 daemon and every process in its
 * namespace, the namespaces (and with them the links), and DIR if `up` made it. Only what this
 * cluster made is touched: namespaces by their tagged names, processes by the namespace they are in.
 */
export async function down(dir: string, progress: (line: string) => void): Promise<void> {
  const manifest = readManifest(dir);
  if (!manifest) throw new Error(`no cluster.json in ${dir}: nothing of a cluster is there to take away`);
  for (const host of manifest.hosts) {
    if (existsSync(join(host.pm2Home, 'pm2.pid'))) await hostPm2(manifest, host, ['kill'], 20_000).catch(() => undefined);
    signalAllIn(host.netns, 'SIGKILL');
  }
  for (const host of manifest.hosts) {
    await waitFor(`the processes on ${host.name} to end`, () => allEnded(host.netns), 10_000).catch(() => undefined);
    deleteNamespace(host.netns);
  }
  deleteNamespace(manifest.switchNetns);
  progress(`removed the namespaces estatus-${manifest.tag}-* and every process in them`);
  if (manifest.dirCreated) rmSync(dir, { recursive: true, force: true });
  else for (const host of manifest.hosts) rmSync(join(dir, host.name), { recursive: true, force: true });
  if (!manifest.dirCreated && manifest.tlsDir) rmSync(manifest.tlsDir, { recursive: true, force: true });
  if (!manifest.dirCreated) rmSync(join(dir, 'cluster.json'), { force: true });
}

/** Copies every host's logs (PM2's, etcd's) to a new folder that `down` leaves alone; returns its path. */
export async function keepEvidence(manifest: Manifest, prefix: string): Promise<string> {
  const kept = await mkdtemp(join(tmpdir(), prefix));
  for (const host of manifest.hosts) {
    await cp(host.logDir, join(kept, host.name, 'logs'), { recursive: true }).catch(() => {});
    await cp(join(host.etcdDir, '..', 'etcd.log'), join(kept, host.name, 'etcd.log')).catch(() => {});
  }
  return kept;
}

/** A host's clock log, as PM2 wrote it (the file may not exist yet). */
export function clockLog(host: HostEntry): string {
  try {
    return readFileSync(join(host.logDir, 'clock.out.log'), 'utf8');
  } catch {
    return '';
  }
}
