import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * DIR/cluster.json: everything `npm run cluster -- up` made, written as it is made (so that `down`
 * can undo a failed `up` too), and what tests, chaos and the bench read to find each host.
 */
export interface HostEntry {
  name: string;
  netns: string;
  ip: string;
  pm2Home: string;
  stateDir: string;
  logDir: string;
  /** etcd's data directory and its process, once started. */
  etcdDir: string;
  etcdPid?: number;
  /** The host side of its link to the switch, inside the switch namespace. */
  link: string;
}

export interface Manifest {
  /** Names every namespace and link of this cluster: nothing without it is ever touched. */
  tag: string;
  /** The namespace that holds the bridge all hosts' links join. */
  switchNetns: string;
  subnet: string;
  /** Whether `up` created DIR (and `down` may remove it) or was given one that existed. */
  dirCreated: boolean;
  /** The settings the hosts' clocks run with. */
  settings: Record<string, string>;
  /** With `up --tls`: the folder of the cluster's CA and certificates; etcd then speaks https to clients only. */
  tlsDir?: string;
  hosts: HostEntry[];
}

export function manifestPath(dir: string): string {
  return join(dir, 'cluster.json');
}

export function writeManifest(dir: string, manifest: Manifest): void {
  const path = manifestPath(dir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** The manifest of DIR, or undefined when there is none (nothing was made there). */
export function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(manifestPath(dir), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** The client URLs of every member, as CLOCK_ETCD takes them. */
export function etcdEndpoints(manifest: Pick<Manifest, 'hosts' | 'tlsDir'>): string {
  return manifest.hosts.map((host) => etcdUrl(manifest, host)).join(',');
}

/** A member's client URL: https when the cluster was made with --tls. */
export function etcdUrl(manifest: Pick<Manifest, 'tlsDir'>, host: Pick<HostEntry, 'ip'>): string {
  return `${manifest.tlsDir ? 'https' : 'http'}://${host.ip}:2379`;
}
