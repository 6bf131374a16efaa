import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clonePrefix } from '../windows/clone-prefix.ts';
import { WindowsUnavailable } from '../windows/exit-codes.ts';
import { runWindows, type WindowsResult } from '../windows/run.ts';
import { prepareWindows } from '../windows/setup.ts';
import { spawnWindows } from '../windows/spawn.ts';
import { toWindowsPath } from '../windows/windows-path.ts';
import { parseJlist, sandboxPlaces, type Pm2Process } from './pm2-sandbox.ts';
import { waitFor } from './wait.ts';

/**
 * A real PM2 daemon run by Windows Node under wine, of the test's own: a temporary PM2_HOME,
 * STATE_DIR and LOG_DIR on the Linux side (Linux paths here; the runner hands them to Windows as
 * Z:\ paths, and their files are read from Linux as they are), and a wine prefix of its own. The
 * prefix is needed because PM2 on Windows names its pipes the same for every PM2_HOME
 * (`\\.\pipe\rpc.sock`), and pipe names are per wineserver, which is per prefix: in a shared prefix
 * a test's `pm2 kill` could end someone else's daemon. Every pid here is a Windows pid, except
 * `ChildProcess.pid` of spawnNode (the Linux pid of that program). `cleanup` ends it all; so does
 * process exit, should a test fail before its cleanup runs.
 */
export interface WindowsSandbox {
  dir: string;
  home: string;
  stateDir: string;
  logDir: string;
  /** This sandbox's own wine prefix, a copy of the runner's. */
  prefix: string;
  /** The settings every command here gets (Linux paths; translated at each run). */
  env: NodeJS.ProcessEnv;
  /** Any command of `npm run windows` (pm2, node, taskkill, a Windows program), whatever its exit code. */
  run(words: string[], settings?: NodeJS.ProcessEnv): Promise<WindowsResult>;
  /** Runs the pm2 CLI (Windows Node) against this sandbox's daemon; fails unless it exits 0. */
  pm2(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** The same, with some settings changed for this one command (`pm2 start` reads them). */
  pm2With(settings: NodeJS.ProcessEnv, ...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** `pm2 jlist`, parsed; pids are Windows pids. */
  list(): Promise<Pm2Process[]>;
  /** The Windows pid of the online app `name`, once PM2 reports it (other than `other`). */
  onlinePid(name: string, other?: number, timeoutMs?: number): Promise<number>;
  /** LOG_DIR/<name>.out.log, as the ecosystem file names it ('' while it does not exist). */
  outLog(name?: string): Promise<string>;
  errLog(name?: string): Promise<string>;
  /** `taskkill /F /PID pid` (Windows pid); fails unless taskkill says it ended it. */
  taskkill(pid: number): Promise<void>;
  /** Whether the Windows process `pid` runs (asked of Windows Node: `process.kill(pid, 0)`). */
  isRunning(pid: number): Promise<boolean>;
  /**
   * Starts Windows Node by hand, outside PM2 (a duplicate clock, a look-alike), with this sandbox's
   * settings and `settings`; its stdout and stderr go to `outFile`, read by `output()`.
   */
  spawnNode(args: string[], settings?: NodeJS.ProcessEnv): HandStarted;
  cleanup(): Promise<void>;
}

// Not estatus-test-: .ci/run's safety net kills the pid in the pid file of every estatus-test-
// directory's PM2_HOME, a Linux pid there, while a Windows daemon's pid file holds a Windows pid (by
// chance some Linux process's). Its own net ends these with wineserver -k of each one's prefix.
export const WINDOWS_SANDBOX_PREFIX = 'estatus-wintest-';

export interface HandStarted extends ChildProcess {
  outFile: string;
  output(): string;
  /**
   * Its Windows pid, once it has started. Written by a preload given through NODE_OPTIONS, not by
   * an argument, so that its command line is exactly `node.exe ARGS…` (what the probe looks at).
   */
  windowsPid(timeoutMs?: number): Promise<number>;
}

const PM2_TIMEOUT_MS = 60_000;
/** Each look is a pm2 CLI under wine (~1 s here, 2-3 s on a busy machine), so a start is seen a few looks later. */
const ONLINE_TIMEOUT_MS = 60_000;
const live = new Set<WindowsSandbox>();

process.once('exit', () => {
  for (const sandbox of live) endSync(sandbox);
});

/** Whether Windows can be had here; when not, why, in one line a skipped test prints. */
export async function windowsAvailability(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `the Windows suite runs Windows Node under wine on Linux; this is ${process.platform}` };
  try {
    await prepareWindows(say);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: error instanceof WindowsUnavailable ? error.message : `windows: ${(error as Error).message}` };
  }
}

export async function createWindowsSandbox(settings: NodeJS.ProcessEnv = {}): Promise<WindowsSandbox> {
  const setup = await prepareWindows(say);
  const dir = await mkdtemp(join(tmpdir(), WINDOWS_SANDBOX_PREFIX));
  const { home, stateDir, logDir, env } = sandboxPlaces(dir, settings);
  const prefix = join(dir, 'wine');
  await mkdir(logDir);
  await clonePrefix(setup.prefix, prefix);
  const run = (words: string[], extra: NodeJS.ProcessEnv = {}) => runWindows(setup, words, { env: { ...env, ...extra }, prefix, timeoutMs: PM2_TIMEOUT_MS });
  const pm2OrFail = async (extra: NodeJS.ProcessEnv, args: string[]) => {
    const result = await run(['pm2', ...args], extra);
    if (result.code !== 0) throw new Error(`pm2 ${args.join(' ')} (Windows Node, wine) exited with code ${result.code}\n${result.stdout}\n${result.stderr}`);
    return result;
  };
  const children = new Set<ChildProcess>();
  const sandbox: WindowsSandbox = {
    dir,
    home,
    stateDir,
    logDir,
    prefix,
    env,
    run,
    pm2: (...args) => pm2OrFail({}, args),
    pm2With: (extra, ...args) => pm2OrFail(extra, args),
    async list() {
      return parseJlist((await pm2OrFail({}, ['jlist'])).stdout);
    },
    async onlinePid(name, other, timeoutMs = ONLINE_TIMEOUT_MS) {
      const what = `PM2 (Windows Node) to report ${name} online${other ? ` with a pid other than ${other}` : ''}`;
      return waitFor(what, async () => {
        const found = (await sandbox.list()).find((p) => p.name === name);
        return found?.status === 'online' && found.pid > 0 && found.pid !== other ? found.pid : undefined;
      }, timeoutMs);
    },
    outLog: (name = 'clock') => readFile(join(logDir, `${name}.out.log`), 'utf8').catch(() => ''),
    errLog: (name = 'clock') => readFile(join(logDir, `${name}.err.log`), 'utf8').catch(() => ''),
    async taskkill(pid) {
      const result = await run(['taskkill', '/F', '/PID', String(pid)]);
      if (result.code !== 0) throw new Error(`taskkill /F /PID ${pid} (wine) exited with code ${result.code}: ${(result.stdout + result.stderr).trim()}`);
    },
    async isRunning(pid) {
      const check = `try { process.kill(${pid}, 0); process.exit(0) } catch (error) { process.exit(error.code === 'ESRCH' ? 1 : 2) }`;
      const result = await run(['node', '-e', check]);
      if (result.code !== 0 && result.code !== 1) throw new Error(`could not tell whether Windows pid ${pid} runs (exit ${result.code}): ${result.stderr.trim()}`);
      return result.code === 0;
    },
    spawnNode(args, extra = {}) {
      const name = join(dir, `node-${children.size + 1}`);
      const outFile = `${name}.out`;
      const pidFile = `${name}.pid`;
      writeFileSync(outFile, '');
      writeFileSync(`${name}.preload.cjs`, `require('node:fs').writeFileSync(${JSON.stringify(toWindowsPath(pidFile))}, String(process.pid));\n`);
      const settings = { ...env, ...extra };
      const preload = `--require ${JSON.stringify(toWindowsPath(`${name}.preload.cjs`))}`;
      settings.NODE_OPTIONS = settings.NODE_OPTIONS ? `${settings.NODE_OPTIONS} ${preload}` : preload;
      const child = spawnWindows(setup, ['node', ...args], { env: settings, prefix, outFile, errFile: outFile });
      children.add(child);
      return Object.assign(child, {
        outFile,
        output: () => readFileSync(outFile, 'utf8'),
        windowsPid: (timeoutMs = 30_000) =>
          waitFor(`the Windows pid of node ${args.join(' ')} (in ${pidFile})`, () => Number(readFileSync(pidFile, 'utf8')) || undefined, timeoutMs),
      });
    },
    async cleanup() {
      const daemon = daemonPid(home);
      const killed = existsSync(home) ? await run(['pm2', 'kill']).catch(() => undefined) : undefined;
      if (daemon && killed?.code !== 0) await run(['taskkill', '/F', '/PID', String(daemon)]).catch(() => undefined);
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      endSync(sandbox);
      live.delete(sandbox);
      await rm(dir, { recursive: true, force: true });
    },
  };
  live.add(sandbox);
  return sandbox;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

function daemonPid(home: string): number | undefined {
  try {
    return Number(readFileSync(join(home, 'pm2.pid'), 'utf8')) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * What is left, at once: every Windows process of this sandbox's own prefix (`wineserver -k`: the
 * prefix is the sandbox's, so nothing else lives there), waited for (`wineserver -w`), then the
 * temporary directory. Also the last resort at process exit, where nothing can be awaited.
 */
function endSync(sandbox: WindowsSandbox): void {
  const env = { ...process.env, WINEPREFIX: sandbox.prefix };
  for (const flag of ['-k', '-w']) {
    try {
      execFileSync('wineserver', [flag], { env, stdio: 'ignore', timeout: 15_000 });
    } catch {
      // No wineserver runs for this prefix (already ended): nothing to end or wait for.
    }
  }
  rmSync(sandbox.dir, { recursive: true, force: true });
}
