import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * PM2's programmatic API, wrapped once for the whole project (the probe, and the status and chaos
 * scripts): promises instead of callbacks, a deadline on every call, and nothing that can exit the
 * process (pm2's own describe() calls process.exit on an RPC error). It speaks to PM2's RPC client
 * directly and never starts a daemon: it only talks to one that is there. The pm2 library binds
 * itself to PM2_HOME, and creates its folders there, when it is first loaded: so it is loaded on the
 * first connect, and only for the PM2_HOME of this process's environment.
 */

/** PM2's view of one app. */
export interface Pm2App {
  name: string;
  pmId: number;
  pid: number;
  /** online, stopped, stopping, launching, errored, waiting restart, one-launch-status */
  status: string;
  /** When PM2 last launched it (ms since the epoch). */
  launchedAt: number;
  restarts: number;
  /** Its custom metrics' values, by name (what `pm2 monit` shows); optional for views made by hand. */
  metrics?: Record<string, unknown>;
  /** Its environment as PM2 launched it (its `env`, and PM2's own top-level values over it). */
  env?: Record<string, string>;
  /** The script PM2 runs (pm_exec_path), in the folder PM2 runs it in (pm_cwd), with its interpreter. */
  execPath?: string;
  cwd?: string;
  interpreter?: string;
}

/** One entry of PM2's process list, as `pm2 jlist` prints it. */
export interface RawPm2Process {
  name: string;
  pid: number;
  pm_id: number;
  monit?: { memory?: number; cpu?: number };
  pm2_env: { status: string; pm_uptime: number; restart_time: number; [field: string]: unknown };
}

interface RpcClient {
  pingDaemon(cb: (alive: boolean) => void): void;
  launchRPC(cb: (error: Error | null) => void): void;
  executeRemote(method: string, params: unknown, cb: (error: Error | null, result: unknown) => void): void;
  close(cb: () => void): void;
}

const CALL_TIMEOUT_MS = 5_000;

/**
 * One entry of PM2's process list, as the rest of the project sees an app. `envs`, where given, keeps
 * each launch's env (keyed by pm_id and launch time: PM2 changes an app's env only by launching it
 * again), so that a list fetched every few seconds does not rebuild every app's environment.
 */
export function pm2AppOf(app: RawPm2Process, envs?: Map<number, { launchedAt: number; env: Record<string, string> }>): Pm2App {
  let env = envs?.get(app.pm_id);
  if (env?.launchedAt !== app.pm2_env.pm_uptime) {
    env = { launchedAt: app.pm2_env.pm_uptime, env: envOf(app.pm2_env) };
    envs?.set(app.pm_id, env);
  }
  return {
    name: app.name,
    pmId: app.pm_id,
    pid: app.pid,
    status: app.pm2_env.status,
    launchedAt: app.pm2_env.pm_uptime,
    restarts: app.pm2_env.restart_time,
    metrics: metricValues(app.pm2_env.axm_monitor),
    env: env.env,
    ...stringField('execPath', app.pm2_env.pm_exec_path),
    ...stringField('cwd', app.pm2_env.pm_cwd),
    ...stringField('interpreter', app.pm2_env.exec_interpreter),
  };
}

function stringField<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === 'string' && value !== '' ? ({ [key]: value } as Record<K, string>) : {};
}

/** The app's env (pm2_env.env), with the merged top level, which PM2 launched it with, over it. */
function envOf(pm2Env: RawPm2Process['pm2_env']): Record<string, string> {
  const strings = (value: unknown): [string, string][] =>
    typeof value === 'object' && value !== null ? Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string') : [];
  return Object.fromEntries([...strings(pm2Env.env), ...strings(pm2Env)]);
}

function metricValues(monitor: unknown): Record<string, unknown> {
  if (typeof monitor !== 'object' || monitor === null) return {};
  return Object.fromEntries(Object.entries(monitor).map(([name, metric]) => [name, (metric as { value?: unknown } | null)?.value]));
}

/** PM2_HOME as pm2 resolves it: an empty value counts as unset. */
export function pm2HomeOf(env: NodeJS.ProcessEnv): string {
  return resolve(env.PM2_HOME || join(homedir(), '.pm2'));
}

export class Pm2Client {
  private client: RpcClient | undefined;
  private connected = false;
  /** Closed for good (close()): a call still in flight must not connect again, or its sockets keep the process alive. */
  private closed = false;
  private readonly envs = new Map<number, { launchedAt: number; env: Record<string, string> }>();

  constructor(readonly home: string) {
    if (pm2HomeOf(process.env) !== resolve(home)) {
      throw new Error(`PM2's library binds to PM2_HOME=${pm2HomeOf(process.env)} in this process, not ${home}`);
    }
  }

  /** The daemon's pid, from PM2_HOME/pm2.pid; undefined when there is none. */
  daemonPid(): number | undefined {
    try {
      return Number(readFileSync(join(this.home, 'pm2.pid'), 'utf8')) || undefined;
    } catch {
      return undefined;
    }
  }

  async connect(): Promise<void> {
    if (this.closed) throw new Error('the PM2 client is closed');
    if (this.connected) return;
    this.client ??= ((await import('pm2')).default as unknown as { Client: RpcClient }).Client;
    const client = this.client;
    const alive = await withDeadline('ping the PM2 daemon', new Promise<boolean>((done) => client.pingDaemon(done)));
    if (!alive) throw new Error(`no PM2 daemon answers in ${this.home}`);
    if (this.closed) throw new Error('the PM2 client is closed');
    // Only once connected: without a connection, executeRemote would start a daemon to talk to.
    await withDeadline('connect to PM2', callback<void>((done) => client.launchRPC((error) => done(error))));
    this.connected = true;
  }

  /** PM2's process list, as `pm2 jlist` prints it. */
  async processList(): Promise<RawPm2Process[]> {
    const list = await this.call('getMonitorData', {});
    if (!Array.isArray(list)) throw new Error(`PM2 getMonitorData: expected a list of processes, got ${typeof list}`);
    return list as RawPm2Process[];
  }

  async apps(): Promise<Pm2App[]> {
    const list = await this.processList();
    for (const pmId of this.envs.keys()) if (!list.some((app) => app.pm_id === pmId)) this.envs.delete(pmId);
    return list.map((app) => pm2AppOf(app, this.envs));
  }

  /** Restarts (or starts, if it is not running) app `pmId`, with its settings unchanged. */
  async restart(pmId: number): Promise<void> {
    await this.call('restartProcessId', { id: pmId, env: {} });
  }

  /**
   * What `pm2 reloadLogs` does: PM2 closes and opens again every app's log streams. PM2 never
   * reopens a stream that met a write error (a full disk) by itself; closing discards what a stream
   * still buffers, so this is for a log known to take nothing.
   */
  async reloadLogs(): Promise<void> {
    await this.call('reloadLogs', {});
  }

  /** What `pm2 trigger <app> <action> <param>` does, resolved once the daemon has passed it on. */
  async sendAction(pmId: number, action: string, param: string): Promise<void> {
    const result = (await this.call('msgProcess', { id: pmId, msg: action, opts: param })) as { process_count?: number };
    if (!result?.process_count) throw new Error(`PM2 passed the action ${action} to no process (app ${pmId} not online?)`);
  }

  /** Disconnects for good: every later call fails at once instead of connecting again. */
  async close(): Promise<void> {
    this.closed = true;
    await this.disconnect();
  }

  /** Drops the connection; the next call connects again. */
  async disconnect(): Promise<void> {
    if (!this.connected || !this.client) return;
    this.connected = false;
    const client = this.client;
    await withDeadline('disconnect from PM2', new Promise<void>((done) => client.close(() => done()))).catch(() => {});
  }

  private async call(method: string, params: unknown): Promise<unknown> {
    await this.connect();
    const client = this.client as RpcClient;
    try {
      return await withDeadline(`PM2 ${method}`, callback<unknown>((done) => client.executeRemote(method, params, done)));
    } catch (error) {
      // A stale connection (the daemon restarted) is dropped, so that the next call reconnects.
      await this.disconnect();
      throw error;
    }
  }
}

function callback<T>(run: (done: (error: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value as T))));
}

function withDeadline<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
