import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pm2 from 'pm2';

/**
 * PM2's programmatic API, wrapped once: promises instead of callbacks, a deadline on every call,
 * and nothing that can exit the process (pm2's own describe() calls process.exit on an RPC error).
 * It speaks to PM2's RPC client directly, and never starts a daemon: the probe watches the daemon
 * it runs under; it does not create one.
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
}

interface RpcClient {
  pingDaemon(cb: (alive: boolean) => void): void;
  launchRPC(cb: (error: Error | null) => void): void;
  executeRemote(method: string, params: unknown, cb: (error: Error | null, result: unknown) => void): void;
  close(cb: () => void): void;
}

interface RawApp {
  name: string;
  pid: number;
  pm_id: number;
  pm2_env: { status: string; pm_uptime: number; restart_time: number };
}

const CALL_TIMEOUT_MS = 5_000;

export class Pm2Client {
  private readonly client = (pm2 as unknown as { Client: RpcClient }).Client;
  private connected = false;

  constructor(readonly home: string) {}

  /** The daemon's pid, from PM2_HOME/pm2.pid; undefined when there is none. */
  daemonPid(): number | undefined {
    try {
      return Number(readFileSync(join(this.home, 'pm2.pid'), 'utf8')) || undefined;
    } catch {
      return undefined;
    }
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    const alive = await withDeadline('ping the PM2 daemon', new Promise<boolean>((resolve) => this.client.pingDaemon(resolve)));
    if (!alive) throw new Error(`no PM2 daemon answers in ${this.home}`);
    await withDeadline('connect to PM2', callback<void>((done) => this.client.launchRPC((error) => done(error))));
    this.connected = true;
  }

  async apps(): Promise<Pm2App[]> {
    const list = (await this.call('getMonitorData', {})) as RawApp[];
    return list.map((app) => ({
      name: app.name,
      pmId: app.pm_id,
      pid: app.pid,
      status: app.pm2_env.status,
      launchedAt: app.pm2_env.pm_uptime,
      restarts: app.pm2_env.restart_time,
    }));
  }

  /** Restarts (or starts, if it is not running) app `pmId`, with its settings unchanged. */
  async restart(pmId: number): Promise<void> {
    await this.call('restartProcessId', { id: pmId, env: {} });
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await withDeadline('disconnect from PM2', new Promise<void>((resolve) => this.client.close(() => resolve()))).catch(() => {});
  }

  private async call(method: string, params: unknown): Promise<unknown> {
    await this.connect();
    try {
      return await withDeadline(
        `PM2 ${method}`,
        callback<unknown>((done) => this.client.executeRemote(method, params, done)),
      );
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
