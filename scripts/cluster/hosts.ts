import { execFile, spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { PM2_BIN } from '../lib/pm2-cli.ts';
import { ECOSYSTEM } from '../lib/pm2-sandbox.ts';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { waitFor } from '../lib/wait.ts';
import { etcdEndpoints, etcdUrl, type HostEntry, type Manifest } from './manifest.ts';
import { tlsFiles } from './certs.ts';
import { allEnded, signalAllIn } from './netns.ts';

/** What runs on each test host: an etcd member and a PM2 daemon with the ecosystem, inside its namespace. */

/** Runs `command` inside `netns` and returns what it printed, whatever its exit code. */
export function inNamespace(netns: string, command: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', netns, ...command], { env, cwd: PROJECT_ROOT, timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/**
 * Starts the host's etcd member, detached, with its log in its data directory's parent. `state` is
 * 'new' when the cluster is formed, 'existing' when a member comes back (its data directory is kept).
 */
export function startEtcd(manifest: Manifest, host: HostEntry, state: 'new' | 'existing'): number {
  mkdirSync(host.etcdDir, { recursive: true, mode: 0o700 });
  const peers = manifest.hosts.map((other) => `${other.name}=http://${other.ip}:2380`).join(',');
  const log = openSync(join(host.etcdDir, '..', 'etcd.log'), 'a', 0o600);
  const child = spawn(
    'ip',
    [
      'netns', 'exec', host.netns, 'etcd',
      '--name', host.name,
      '--data-dir', host.etcdDir,
      '--listen-client-urls', etcdUrl(manifest, host),
      '--advertise-client-urls', etcdUrl(manifest, host),
      ...tlsFlags(manifest, host),
      '--listen-peer-urls', `http://${host.ip}:2380`,
      '--initial-advertise-peer-urls', `http://${host.ip}:2380`,
      '--initial-cluster', peers,
      '--initial-cluster-state', state,
      '--initial-cluster-token', `estatus-${manifest.tag}`,
      // A member that was cut off and comes back asks before it disrupts the cluster's leader (etcd
      // 3.5's default): without it, its higher term deposes a healthy etcd leader, and with it the
      // leases of the clock it serves stop being confirmed for a moment.
      '--pre-vote=true',
      // Hosts of one machine answer in microseconds: a tenth of etcd's default Raft timings (100 ms
      // heartbeat, 1 s election) still leaves them ample room, and an etcd leader lost is replaced in
      // ~0.5 s, well inside the clock's lease, rather than ~1-2 s.
      '--heartbeat-interval=50',
      '--election-timeout=500',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`etcd on ${host.name} did not start`);
  return child.pid;
}

/** With --tls: clients only over https, and only with a certificate the cluster's CA signed (peers stay http). */
function tlsFlags(manifest: Manifest, host: HostEntry): string[] {
  if (!manifest.tlsDir) return [];
  const files = tlsFiles(manifest.tlsDir);
  return ['--cert-file', files.serverCert(host.name), '--key-file', files.serverKey(host.name), '--trusted-ca-file', files.ca, '--client-cert-auth'];
}

/**
 * The start of a `node -e` script that asks `host`'s member over its gateway: `ask(path, body?)`
 * resolves to the answer's status and JSON body; over https with the cluster's client certificate.
 */
function askScript(manifest: Manifest, host: HostEntry): string {
  const files = manifest.tlsDir ? tlsFiles(manifest.tlsDir) : undefined;
  const tls = files ? `ca: fs.readFileSync(${JSON.stringify(files.ca)}), cert: fs.readFileSync(${JSON.stringify(files.clientCert)}), key: fs.readFileSync(${JSON.stringify(files.clientKey)}),` : '';
  return `
    const fs = require('node:fs');
    const ask = (path, body) => new Promise((resolve, reject) => {
      const url = new URL(path, ${JSON.stringify(etcdUrl(manifest, host))});
      const request = require(url.protocol === 'https:' ? 'node:https' : 'node:http').request(url, { method: body ? 'POST' : 'GET', timeout: 1500, ${tls} }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => { try { resolve({ status: response.statusCode, body: JSON.parse(text) }); } catch (error) { reject(error); } });
      });
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', reject);
      request.end(body);
    });`;
}

/** How often to ask etcdHealthy in a wait: each ask starts a process in the namespace. */
export const ETCD_LOOK_MS = 250;

export interface EtcdLook {
  /** /health says true. */
  healthy: boolean;
  /** Its member ID, whether it is etcd's Raft leader, and its release; null when it does not answer. */
  memberId: string | null;
  leads: boolean | null;
  version: string | null;
}

/**
 * How `host`'s etcd member is, asked from inside its own namespace through etcd's HTTP gateway:
 * /health, then /v3/maintenance/status (who leads etcd's Raft, its release).
 */
export async function etcdLook(manifest: Manifest, host: HostEntry): Promise<EtcdLook> {
  const script = `${askScript(manifest, host)}
    (async () => {
      const health = await ask('/health').then((r) => r.body, () => ({}));
      const status = await ask('/v3/maintenance/status', '{}').then((r) => r.body, () => undefined);
      console.log(JSON.stringify({ healthy: health.health === 'true', memberId: status?.header?.member_id ?? null, leads: status?.header?.member_id ? status.leader === status.header.member_id : null, version: status?.version ?? null }));
    })();`;
  const result = await inNamespace(host.netns, [process.execPath, '-e', script], process.env, 5_000);
  try {
    return JSON.parse(result.stdout) as EtcdLook;
  } catch {
    return { healthy: false, memberId: null, leads: null, version: null };
  }
}

/** Whether `host`'s member answers etcd's /health with health true. */
export async function etcdHealthy(manifest: Manifest, host: HostEntry): Promise<boolean> {
  return (await etcdLook(manifest, host)).healthy;
}

/**
 * Asks etcd's Raft leader, on `from`, to hand its leadership to `to`'s member (etcd's MoveLeader);
 * undefined when done, else what etcd (or the way there) said.
 */
export async function moveEtcdLeader(manifest: Manifest, from: HostEntry, to: HostEntry): Promise<string | undefined> {
  const target = (await etcdLook(manifest, to)).memberId;
  if (!target) return `${to.name}'s member does not answer`;
  const script = `${askScript(manifest, from)}
    ask('/v3/maintenance/transfer-leadership', JSON.stringify({ targetID: '${target}' })).then(
      (r) => { if (r.status !== 200) { console.log(r.status + ' ' + JSON.stringify(r.body)); process.exit(1); } },
      (e) => { console.log(String(e)); process.exit(1); });`;
  const result = await inNamespace(from.netns, [process.execPath, '-e', script], process.env, 5_000);
  return result.code === 0 ? undefined : result.stdout.trim() || `exit ${result.code}`;
}

/** The environment of a host's PM2 commands: its own PM2_HOME, state, logs, and the cluster's settings. */
export function hostEnv(manifest: Manifest, host: HostEntry): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...manifest.settings,
    PM2_HOME: host.pm2Home,
    STATE_DIR: host.stateDir,
    LOG_DIR: host.logDir,
    CLOCK_ETCD: etcdEndpoints(manifest),
    ...(manifest.tlsDir
      ? { CLOCK_ETCD_CA: tlsFiles(manifest.tlsDir).ca, CLOCK_ETCD_CERT: tlsFiles(manifest.tlsDir).clientCert, CLOCK_ETCD_KEY: tlsFiles(manifest.tlsDir).clientKey }
      : {}),
    CLOCK_HOST: host.name,
    CLOCK_STANDBY: manifest.settings.CLOCK_STANDBY ?? '0',
  };
}

/** Runs the pm2 CLI for `host`, inside its namespace (the daemon it starts lives there). */
export function hostPm2(manifest: Manifest, host: HostEntry, args: string[], timeoutMs = 60_000) {
  return inNamespace(host.netns, [process.execPath, PM2_BIN, ...args], hostEnv(manifest, host), timeoutMs);
}

/** Starts the ecosystem on `host` under a PM2 daemon of its own; fails with what pm2 said. */
export async function startEcosystem(manifest: Manifest, host: HostEntry): Promise<void> {
  const result = await hostPm2(manifest, host, ['start', ECOSYSTEM]);
  if (result.code !== 0) throw new Error(`pm2 start on ${host.name} exited with code ${result.code}: ${result.stderr || result.stdout}`);
}

/** A host's power cut: every process in its namespace SIGKILLed at once, then waited for. */
export async function powerOff(host: HostEntry): Promise<void> {
  signalAllIn(host.netns, 'SIGKILL');
  await waitFor(`every process on ${host.name} to be gone`, () => allEnded(host.netns), 10_000);
}

/** A host's power back: its etcd member rejoins with its data, and `pm2 resurrect` brings the saved ecosystem back. */
export async function powerOn(manifest: Manifest, host: HostEntry): Promise<void> {
  host.etcdPid = startEtcd(manifest, host, 'existing');
  const result = await hostPm2(manifest, host, ['resurrect']);
  if (result.code !== 0) throw new Error(`pm2 resurrect on ${host.name} exited with code ${result.code}: ${result.stderr || result.stdout}`);
}
