import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { PM2_BIN, pm2OrFail } from './pm2-cli.ts';
import { isAlive, waitFor } from './wait.ts';

/**
 * A real PM2 daemon of the test's own, in a temporary PM2_HOME, with its own state and log
 * directories: the user's ~/.pm2 and daemon are never touched. `cleanup` kills the daemon; so does
 * process exit, should a test fail before its cleanup runs.
 */
export interface Sandbox {
  dir: string;
  home: string;
  stateDir: string;
  logDir: string;
  env: NodeJS.ProcessEnv;
  /** Runs the pm2 CLI against this sandbox's daemon. */
  pm2(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** The same, with some settings changed for this one command (`pm2 start` reads them). */
  pm2With(settings: NodeJS.ProcessEnv, ...args: string[]): Promise<{ stdout: string; stderr: string }>;
  list(): Promise<Pm2Process[]>;
  /** The pid of the online app `name`, once PM2 reports it. */
  onlinePid(name: string, other?: number): Promise<number>;
  outLog(name?: string): Promise<string>;
  errLog(name?: string): Promise<string>;
  /** Starts the clock's compiled entry point directly, outside PM2, with this sandbox's settings. */
  spawnClock(extraEnv?: NodeJS.ProcessEnv): ChildProcess & { output: () => string };
  cleanup(): Promise<void>;
}

export interface Pm2Process {
  name: string;
  /** PM2's id of this instance (in hot-standby mode two clocks share the name, not the id). */
  pmId: number;
  pid: number;
  status: string;
  restarts: number;
  exitCode: number | undefined;
  /** The app's custom metrics (pm2 monit), by name. */
  metrics: Record<string, { value: unknown; unit?: string }>;
}

export const ECOSYSTEM = join(PROJECT_ROOT, 'ecosystem.config.js');
export const CLOCK_ENTRY = join(PROJECT_ROOT, 'dist', 'clock', 'main.js');
const live = new Set<Sandbox>();

process.once('exit', () => {
  for (const sandbox of live) killDaemonSync(sandbox);
});

/**
 * A sandbox's places in `dir` and the settings its every command gets: its own PM2_HOME, state and
 * logs, the clock at test speed (0.2 s / 0.4 s, 5 ticks a run), then the test's own `settings`.
 */
export function sandboxPlaces(dir: string, settings: NodeJS.ProcessEnv) {
  const home = join(dir, 'pm2');
  const stateDir = join(dir, 'state');
  const logDir = join(dir, 'logs');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PM2_HOME: home,
    STATE_DIR: stateDir,
    LOG_DIR: logDir,
    CLOCK_INTERVALS: '0.2,0.4',
    CLOCK_TICKS: '5',
    ...settings,
  };
  return { home, stateDir, logDir, env };
}

export async function createSandbox(settings: NodeJS.ProcessEnv = {}): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'estatus-test-'));
  const { home, stateDir, logDir, env } = sandboxPlaces(dir, settings);
  const children = new Set<ChildProcess>();
  const sandbox: Sandbox = {
    dir,
    home,
    stateDir,
    logDir,
    env,
    pm2: (...args) => runPm2(env, args),
    pm2With: (settings, ...args) => runPm2({ ...env, ...settings }, args),
    async list() {
      return parseJlist((await runPm2(env, ['jlist'])).stdout);
    },
    async onlinePid(name, other) {
      return waitFor(`PM2 to report ${name} online${other ? ` with a pid other than ${other}` : ''}`, async () => {
        const found = (await sandbox.list()).find((p) => p.name === name);
        return found?.status === 'online' && found.pid > 0 && found.pid !== other && isAlive(found.pid)
          ? found.pid
          : undefined;
      });
    },
    outLog: (name = 'clock') => readFile(join(logDir, `${name}.out.log`), 'utf8').catch(() => ''),
    errLog: (name = 'clock') => readFile(join(logDir, `${name}.err.log`), 'utf8').catch(() => ''),
    spawnClock(extraEnv = {}) {
      const child = spawn(process.execPath, [CLOCK_ENTRY], { env: { ...env, ...extraEnv }, stdio: 'pipe' });
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      children.add(child);
      return Object.assign(child, { output: () => output });
    },
    async cleanup() {
      for (const child of children) if (child.pid && child.exitCode === null) child.kill('SIGKILL');
      const daemon = daemonPid(sandbox);
      if (existsSync(home)) await runPm2(env, ['kill']).catch(() => killDaemonSync(sandbox));
      if (daemon) await waitFor(`the PM2 daemon ${daemon} to end`, () => !isAlive(daemon));
      live.delete(sandbox);
      await rm(dir, { recursive: true, force: true });
    },
  };
  live.add(sandbox);
  return sandbox;
}

interface RawProcess {
  name: string;
  pm_id: number;
  pid: number;
  pm2_env: {
    status: string;
    restart_time: number;
    exit_code?: number;
    axm_monitor?: Record<string, { value: unknown; unit?: string }>;
  };
}

/** `pm2 jlist`'s one JSON line (when the command also started the daemon, PM2's banner comes first). */
export function parseJlist(stdout: string): Pm2Process[] {
  const line = stdout.split('\n').find((text) => text.startsWith('[{') || text.trim() === '[]');
  if (line === undefined) throw new Error(`pm2 jlist printed no list: ${JSON.stringify(stdout.slice(0, 300))}`);
  return (JSON.parse(line) as RawProcess[]).map((p) => ({
    name: p.name,
    pmId: p.pm_id,
    pid: p.pid,
    status: p.pm2_env.status,
    restarts: p.pm2_env.restart_time,
    exitCode: p.pm2_env.exit_code,
    metrics: p.pm2_env.axm_monitor ?? {},
  }));
}

function runPm2(env: NodeJS.ProcessEnv, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return pm2OrFail(env, args, 30_000);
}

function daemonPid(sandbox: Sandbox): number | undefined {
  try {
    return Number(readFileSync(join(sandbox.home, 'pm2.pid'), 'utf8')) || undefined;
  } catch {
    return undefined;
  }
}

/** Last resort at exit: `pm2 kill`, synchronously, for this sandbox's daemon only. */
function killDaemonSync(sandbox: Sandbox): void {
  try {
    execFileSync(process.execPath, [PM2_BIN, 'kill'], { env: sandbox.env, stdio: 'ignore', timeout: 15_000 });
  } catch {
    const pid = daemonPid(sandbox);
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}
