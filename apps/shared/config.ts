import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: this file is apps/shared/config.ts, or dist/shared/config.js once built. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A bad setting, said in one line: the variable, the value it had, what is expected instead. */
export class ConfigError extends Error {
  constructor(readonly variable: string, readonly value: string | undefined, expected: string) {
    super(`${variable}=${JSON.stringify(value ?? '')} is not valid: expected ${expected}`);
    this.name = 'ConfigError';
  }
}

export interface ClockConfig {
  /** One entry per worker thread: thread-1 ticks every intervalsMs[0], and so on. */
  intervalsMs: number[];
  ticksPerRun: number;
  stateDir: string;
  /** Whether the fault-injection action (`pm2 trigger clock fault …`) is honoured. */
  faults: boolean;
  /**
   * Hot standby (CLOCK_STANDBY=1): PM2 runs two clocks; the one that does not own the state waits,
   * fully started, and takes over the instant the owner dies.
   */
  standby: boolean;
  /** Cluster mode (CLOCK_ETCD set): hosts elect one leader through etcd; undefined on a single host. */
  cluster: ClusterConfig | undefined;
}

export interface ClusterConfig {
  /** etcd's client URLs, http(s). */
  endpoints: string[];
  /** The election's name: every clock of one cluster campaigns under it (CLOCK_CLUSTER). */
  name: string;
  /** This host's name in the cluster (CLOCK_HOST, default the host name). */
  host: string;
  /** The leader's lease, in whole seconds (CLOCK_LEASE_S): a dead leader is replaced about this long after it died. */
  leaseS: number;
  /**
   * https endpoints: the CA that signed etcd's certificates (CLOCK_ETCD_CA; without it the system's
   * own roots) and this client's certificate and key for etcd's --client-cert-auth (CLOCK_ETCD_CERT,
   * CLOCK_ETCD_KEY). undefined for http.
   */
  tls: { ca: Buffer | undefined; cert: Buffer | undefined; key: Buffer | undefined } | undefined;
}

const DEFAULT_INTERVALS = '2,4';
const DEFAULT_TICKS = '20';
const MIN_INTERVAL_S = 0.01;
const MAX_INTERVAL_S = 86_400;
const MAX_TICKS = 1_000_000;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** Reads and validates the clock's settings once, at start; throws ConfigError on the first bad one. */
export function readClockConfig(env: NodeJS.ProcessEnv = process.env): ClockConfig {
  return {
    intervalsMs: parseIntervals(env.CLOCK_INTERVALS),
    ticksPerRun: parseTicks(env.CLOCK_TICKS),
    stateDir: resolveStateDir(env.STATE_DIR),
    faults: parseSwitch('CLOCK_FAULTS', env.CLOCK_FAULTS),
    standby: parseSwitch('CLOCK_STANDBY', env.CLOCK_STANDBY),
    cluster: parseCluster(env),
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** CLOCK_ETCD and the settings that go with it; undefined (a single host) when CLOCK_ETCD is unset or empty. */
export function parseCluster(env: NodeJS.ProcessEnv): ClusterConfig | undefined {
  const raw = env.CLOCK_ETCD;
  if (raw === undefined || raw.trim() === '') return undefined;
  const endpoints = raw.split(',').map((part) => part.trim());
  const isUrl = (text: string): boolean => {
    try {
      const url = new URL(text);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.pathname === '/' && !url.search && !url.hash;
    } catch {
      return false;
    }
  };
  if (endpoints.some((endpoint) => !isUrl(endpoint))) {
    throw new ConfigError('CLOCK_ETCD', raw, "a comma-separated list of etcd client URLs, e.g. CLOCK_ETCD=http://10.0.0.1:2379,http://10.0.0.2:2379 (or unset for one host)");
  }
  const name = (env.CLOCK_CLUSTER ?? 'estatus').trim();
  if (!NAME.test(name)) throw new ConfigError('CLOCK_CLUSTER', env.CLOCK_CLUSTER, 'a name of letters, digits, ".", "_" or "-", e.g. CLOCK_CLUSTER=estatus');
  const host = (env.CLOCK_HOST ?? hostname()).trim();
  if (!NAME.test(host)) throw new ConfigError('CLOCK_HOST', env.CLOCK_HOST, 'a name of letters, digits, ".", "_" or "-" for this host, e.g. CLOCK_HOST=h1 (default: the host name)');
  const leaseText = (env.CLOCK_LEASE_S ?? '2').trim();
  const leaseS = Number(leaseText);
  if (!/^\d+$/.test(leaseText) || leaseS < 2 || leaseS > 60) {
    throw new ConfigError('CLOCK_LEASE_S', env.CLOCK_LEASE_S, "a whole number of seconds from 2 (etcd's shortest lease) to 60, e.g. CLOCK_LEASE_S=2");
  }
  const secure = endpoints.map((endpoint) => new URL(endpoint).protocol === 'https:');
  if (secure.some((each) => each !== secure[0])) {
    throw new ConfigError('CLOCK_ETCD', raw, 'URLs all http:// or all https:// (one connection setting serves every member)');
  }
  return { endpoints: endpoints.map((endpoint) => new URL(endpoint).origin), name, host, leaseS, tls: parseEtcdTls(env, secure[0] === true) };
}

/** CLOCK_ETCD_CA, CLOCK_ETCD_CERT, CLOCK_ETCD_KEY: PEM files, read once at start. */
function parseEtcdTls(env: NodeJS.ProcessEnv, secure: boolean): ClusterConfig['tls'] {
  const names = ['CLOCK_ETCD_CA', 'CLOCK_ETCD_CERT', 'CLOCK_ETCD_KEY'] as const;
  const given = names.filter((name) => (env[name] ?? '').trim() !== '');
  if (!secure) {
    if (given[0]) throw new ConfigError(given[0], env[given[0]], 'a PEM file only with https:// URLs in CLOCK_ETCD (unset for http)');
    return undefined;
  }
  const certGiven = given.includes('CLOCK_ETCD_CERT');
  const keyGiven = given.includes('CLOCK_ETCD_KEY');
  if (certGiven !== keyGiven) {
    const missing = certGiven ? 'CLOCK_ETCD_KEY' : 'CLOCK_ETCD_CERT';
    throw new ConfigError(missing, env[missing] ?? '', 'a PEM file: CLOCK_ETCD_CERT and CLOCK_ETCD_KEY go together (the client certificate and its key)');
  }
  const read = (name: (typeof names)[number], what: string, marker: RegExp): Buffer | undefined => {
    const path = (env[name] ?? '').trim();
    if (path === '') return undefined;
    let text: Buffer;
    try {
      text = readFileSync(path);
    } catch (error) {
      throw new ConfigError(name, env[name], `a readable PEM file holding ${what} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    if (!marker.test(text.toString('latin1'))) throw new ConfigError(name, env[name], `a PEM file holding ${what} (no ${marker.source} in it)`);
    return text;
  };
  return {
    ca: read('CLOCK_ETCD_CA', "the CA certificate that signed etcd's", /-----BEGIN CERTIFICATE-----/),
    cert: read('CLOCK_ETCD_CERT', "this client's certificate", /-----BEGIN CERTIFICATE-----/),
    key: read('CLOCK_ETCD_KEY', "this client's private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
  };
}

export function parseIntervals(raw: string | undefined): number[] {
  const text = raw === undefined ? DEFAULT_INTERVALS : raw;
  const expected =
    `a comma-separated list of seconds per thread, each from ${MIN_INTERVAL_S} to ${MAX_INTERVAL_S}, ` +
    `e.g. CLOCK_INTERVALS=${DEFAULT_INTERVALS}`;
  const parts = text.split(',').map((part) => part.trim());
  if (text.trim() === '' || parts.some((part) => !DECIMAL.test(part))) {
    throw new ConfigError('CLOCK_INTERVALS', raw, expected);
  }
  const seconds = parts.map(Number);
  if (seconds.some((s) => s < MIN_INTERVAL_S || s > MAX_INTERVAL_S)) {
    throw new ConfigError('CLOCK_INTERVALS', raw, expected);
  }
  return seconds.map((s) => Math.round(s * 1000));
}

export function parseTicks(raw: string | undefined): number {
  const text = (raw === undefined ? DEFAULT_TICKS : raw).trim();
  const ticks = Number(text);
  if (!/^\d+$/.test(text) || ticks < 1 || ticks > MAX_TICKS) {
    throw new ConfigError(
      'CLOCK_TICKS',
      raw,
      `a whole number of ticks per run from 1 to ${MAX_TICKS}, e.g. CLOCK_TICKS=${DEFAULT_TICKS}`,
    );
  }
  return ticks;
}

/** STATE_DIR defaults to state/ in the project; a relative one is taken from the project's root. */
export function resolveStateDir(raw: string | undefined): string {
  if (raw === undefined) return resolve(PROJECT_ROOT, 'state');
  if (raw.trim() === '') {
    throw new ConfigError('STATE_DIR', raw, 'a directory path, or leave it unset for state/ in the project');
  }
  return isAbsolute(raw) ? raw : resolve(PROJECT_ROOT, raw);
}

export function parseSwitch(variable: string, raw: string | undefined): boolean {
  const text = (raw ?? '').trim();
  if (text === '' || text === '0' || text === 'false') return false;
  if (text === '1' || text === 'true') return true;
  throw new ConfigError(variable, raw, `1 (on) or 0 (off), e.g. ${variable}=1`);
}

export interface ProbeConfig {
  /** How often the probe looks at the clock. */
  periodMs: number;
  /** A heartbeat older than this means the clock is hung. */
  hangMs: number;
  stateDir: string;
}

/** Reads and validates the probe's settings once, at start; throws ConfigError on the first bad one. */
export function readProbeConfig(env: NodeJS.ProcessEnv = process.env): ProbeConfig {
  return {
    periodMs: parseMilliseconds('PROBE_PERIOD_MS', env.PROBE_PERIOD_MS, 500, 50, 60_000),
    hangMs: parseMilliseconds('PROBE_HANG_MS', env.PROBE_HANG_MS, 3_000, 500, 600_000),
    stateDir: resolveStateDir(env.STATE_DIR),
  };
}

export function parseMilliseconds(variable: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const text = raw.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new ConfigError(variable, raw, `a whole number of milliseconds from ${min} to ${max}, e.g. ${variable}=${fallback}`);
  }
  return value;
}
