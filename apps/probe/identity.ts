import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isLiving } from '../shared/proc-stat.ts';
import { pathKey, type ProcessInfo } from './proc-table.ts';

/**
 * Who counts as an instance of a guarded app. A name or a command line can be faked or reused; the
 * probe acts only on a process it has proven to be one: this user's, alive, running the app's script
 * (by real path) on the app's state — the path an environment variable of its names, the heartbeat's
 * by default — and, for PM2's own instance, launched by this PM2 daemon under that app's name.
 */
export interface AppIdentity {
  /** PM2's name of the app. */
  name: string;
  /** Real path of the script it runs. */
  entry: string;
  /** The user it must run as (ProcessInfo.user's form). */
  user: string;
  /**
   * The state an instance works on: the environment variable naming it (GUARD_STATE_ENV, else
   * GUARD_HEARTBEAT), the path PM2's instance has there, where a relative value starts (PM2's cwd
   * for the app), and the path an instance without the variable uses (none: it is not one).
   */
  state: { env: string; path: string; base: string; fallback?: string };
  /** PM2's fork-mode container of the daemon that runs it (PM2 runs a node app's script through it). */
  container: string;
}

/** The state path an instance with environment `env` works on, resolved as the app does; undefined if none. */
export function statePathOf(env: Map<string, string>, state: AppIdentity['state']): string | undefined {
  const configured = env.get(state.env);
  if (configured === undefined || configured === '') return state.fallback;
  return isAbsolute(configured) ? configured : resolve(state.base, configured);
}

/** Whether `proc` is a live instance of the app `id`: its user, its script, its state. */
export function isInstanceOf(proc: ProcessInfo, env: Map<string, string> | undefined, id: AppIdentity): boolean {
  if (!env || proc.user !== id.user || !isLiving(proc)) return false;
  const script = scriptOf(proc.argv, env);
  if (!script || !proc.cwd) return false;
  const runs = realpathOrUndefined(resolve(proc.cwd, script));
  if (runs === undefined) return false;
  // PM2's own fork container runs the script named in pm_exec_path.
  const execPath = env.get('pm_exec_path');
  const entry = samePath(runs, id.container) && execPath !== undefined ? realpathOrUndefined(execPath) : runs;
  const state = statePathOf(env, id.state);
  return entry !== undefined && pathKey(entry) === pathKey(id.entry) && state !== undefined && samePath(state, id.state.path);
}

/** Whether `proc` is the process this PM2 daemon launched, and still runs, as the app `id.name`. */
export function isPm2Instance(proc: ProcessInfo, env: Map<string, string> | undefined, id: AppIdentity, pm2: Pm2Facts, startedAtMs: number | undefined): boolean {
  if (!env || !isInstanceOf(proc, env, id)) return false;
  const home = env.get('PM2_HOME') ?? join(homedir(), '.pm2');
  return (
    proc.pid === pm2.pid &&
    proc.ppid === pm2.daemonPid &&
    env.get('name') === id.name &&
    env.get('pm_id') === String(pm2.pmId) &&
    samePath(home, pm2.home) &&
    isThatLaunch(env, pm2.launchedAt, startedAtMs)
  );
}

/** The clock as the scripts (chaos, bench, status) name it: its entry, its state directory, its user. */
export interface ClockIdentity {
  /** Real path of the clock's compiled entry point. */
  entry: string;
  /** The state directory the probe guards. */
  stateDir: string;
  /** The user the clock must run as (ProcessInfo.user's form). */
  user: string;
}

export interface Pm2Facts {
  /** PM2's pid for the app, its id, and when PM2 launched it (ms). */
  pid: number;
  pmId: number;
  launchedAt: number;
  /** The daemon: its PM2_HOME and pid. */
  home: string;
  daemonPid: number | undefined;
}

// Node options whose value is the next argument, so that it is not taken for the script.
const OPTIONS_WITH_VALUE = new Set([
  '-r', '--require', '--import', '--loader', '--experimental-loader', '--title', '--inspect-port',
  '--env-file', '--input-type', '-C', '--conditions', '--redirect-warnings', '--max-http-header-size',
  '--unhandled-rejections', '--disable-warning', '--watch-path', '--experimental-default-type',
  '--heapsnapshot-signal', '--diagnostic-dir', '--report-dir', '--dns-result-order', '--secure-heap',
  '--openssl-config', '--icu-data-dir', '--stack-trace-limit', '--max-old-space-size',
]);
const EVAL_OPTIONS = new Set(['-e', '--eval', '-p', '--print', '-i', '--interactive']);
// How far PM2's launch time and the kernel's start time of the same process may differ.
const LAUNCH_SKEW_MS = 2_000;

// node, nodejs, node20, node.exe (Windows; pathKey folds its case there), by any path.
const NODE_BINARY = /(^|[\\/])node(js)?(\d+(\.\d+)*)?(\.exe)?$/;

/**
 * The script a node command line runs, or undefined (eval, REPL, not node). On Linux PM2 replaces a
 * fork-mode app's command line with the title "node <script>"; that one entry is read with
 * pm_exec_path. On Windows there is no title: PM2 7 runs node.exe <script> itself (its
 * ProcessContainerFork.js only when the interpreter's name ends in "node", not "node.exe").
 */
export function scriptOf(argv: string[], env: Map<string, string>): string | undefined {
  const execPath = env.get('pm_exec_path');
  if (argv.length === 1 && execPath && argv[0]?.trimEnd() === `node ${execPath}`) return execPath;
  const [binary, ...args] = argv;
  if (!binary || !NODE_BINARY.test(pathKey(binary))) return undefined;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    // --eval=CODE runs CODE, like -e CODE: what follows is an argument to it, not a script.
    if (EVAL_OPTIONS.has(arg.split('=', 1)[0] ?? '')) return undefined;
    if (arg === '--') return args[index + 1];
    if (arg.startsWith('-') && arg.includes('=')) continue;
    if (OPTIONS_WITH_VALUE.has(arg)) index++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** The project root of the clock whose entry is `entry` (…/dist/clock/main.js). */
function projectRootOf(entry: string): string {
  return resolve(dirname(entry), '..', '..');
}

/** The clock's identity as an app's: STATE_DIR names its state, relative to the project root, `state` by default. */
export function clockAppIdentity(id: ClockIdentity): AppIdentity {
  const root = projectRootOf(id.entry);
  return { name: 'clock', entry: id.entry, user: id.user, state: { env: 'STATE_DIR', path: id.stateDir, base: root, fallback: join(root, 'state') }, container: pm2ContainerIn(root) };
}

/** The state directory a clock with environment `env` uses, resolved as the clock itself does. */
export function stateDirOf(env: Map<string, string>, entry: string): string {
  return statePathOf(env, clockAppIdentity({ entry, stateDir: '', user: '' }).state) as string;
}

/** Whether `proc` is a live clock of this project working on this state directory. */
export function isClockOfOurState(proc: ProcessInfo, env: Map<string, string> | undefined, id: ClockIdentity): boolean {
  return isInstanceOf(proc, env, clockAppIdentity(id));
}

/** Whether `proc` is the process this PM2 daemon launched, and still runs, as its app `clock`. */
export function isPm2Clock(proc: ProcessInfo, env: Map<string, string> | undefined, id: ClockIdentity, pm2: Pm2Facts, startedAtMs: number | undefined): boolean {
  return isPm2Instance(proc, env, clockAppIdentity(id), pm2, startedAtMs);
}

/** PM2's fork-mode container in the project at `root` (its own node_modules/pm2). */
export function pm2ContainerIn(root: string): string {
  return join(root, 'node_modules', 'pm2', 'lib', 'ProcessContainerFork.js');
}

/**
 * Whether the process is PM2's launch at `launchedAt`, not an earlier or later one. PM2 takes one
 * Date.now() per launch (pm_uptime) and gives it both to its view and to the process's environment:
 * equal there, it is that launch, whatever any wall clock did since. Only where the environment lacks
 * it is the kernel's start time compared with it, and a step of the wall clock between the launch and
 * this look can then fail a live clock.
 */
function isThatLaunch(env: Map<string, string>, launchedAt: number, startedAtMs: number | undefined): boolean {
  const launch = env.get('pm_uptime');
  if (launch !== undefined) return launch === String(launchedAt);
  return startedAtMs === undefined || Math.abs(startedAtMs - launchedAt) < LAUNCH_SKEW_MS;
}

export function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Whether two paths name one file, compared as the OS does (real paths; Windows folds case). */
function samePath(a: string, b: string): boolean {
  return pathKey(realpathOrUndefined(a) ?? resolve(a)) === pathKey(realpathOrUndefined(b) ?? resolve(b));
}
