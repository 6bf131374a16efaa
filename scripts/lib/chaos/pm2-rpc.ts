import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pm2 from 'pm2';

/**
 * PM2's RPC, for what chaos polls many times a second (the pm2 CLI costs a Node start per call, and
 * would disturb the timings it measures) and for sending a custom action at a known instant. Like
 * the probe's client, it only talks to a daemon that is there: it never starts one. PM2's library
 * reads PM2_HOME once, when it is first loaded; load this module only once PM2_HOME is set.
 */
export interface Pm2App {
  name: string;
  pmId: number;
  pid: number;
  status: string;
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
  pm2_env: { status: string };
}

const CALL_TIMEOUT_MS = 5_000;

export class Pm2Rpc {
  private readonly client = (pm2 as unknown as { Client: RpcClient }).Client;
  private connected = false;

  constructor(readonly home: string) {
    if (process.env.PM2_HOME !== home) {
      throw new Error(`PM2's library was loaded for PM2_HOME=${process.env.PM2_HOME ?? '(unset)'}, not ${home}`);
    }
  }

  /** The daemon's pid, from PM2_HOME/pm2.pid. */
  daemonPid(): number | undefined {
    try {
      return Number(readFileSync(join(this.home, 'pm2.pid'), 'utf8')) || undefined;
    } catch {
      return undefined;
    }
  }

  async apps(): Promise<Pm2App[]> {
    const list = (await this.call('getMonitorData', {})) as RawApp[];
    return list.map((app) => ({ name: app.name, pmId: app.pm_id, pid: app.pid, status: app.pm2_env.status }));
  }

  /** What `pm2 trigger <app> <action> <param>` does, resolved once the daemon has passed it on. */
  async sendAction(pmId: number, action: string, param: string): Promise<void> {
    const result = (await this.call('msgProcess', { id: pmId, msg: action, opts: param })) as { process_count?: number };
    if (!result?.process_count) throw new Error(`PM2 passed the action ${action} to no process (app ${pmId} not online?)`);
  }

  async close(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await withDeadline('disconnect from PM2', new Promise<void>((resolve) => this.client.close(() => resolve()))).catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.connected) return;
    const alive = await withDeadline('ping the PM2 daemon', new Promise<boolean>((resolve) => this.client.pingDaemon(resolve)));
    if (!alive) throw new Error(`no PM2 daemon answers in ${this.home}`);
    await withDeadline('connect to PM2', new Promise<void>((resolve, reject) => this.client.launchRPC((error) => (error ? reject(error) : resolve()))));
    this.connected = true;
  }

  private async call(method: string, params: unknown): Promise<unknown> {
    await this.connect();
    try {
      return await withDeadline(
        `PM2 ${method}`,
        new Promise((resolve, reject) => this.client.executeRemote(method, params, (error, value) => (error ? reject(error) : resolve(value)))),
      );
    } catch (error) {
      // The daemon died or was replaced: the next call connects afresh, never through a stale socket.
      await this.close();
      throw error;
    }
  }
}

function withDeadline<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
