import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isLiving } from '../shared/proc-stat.ts';
import { pathKey, type ProcessInfo } from './proc-table.ts';

/**
 * Who counts as the clock. A name or a command line can be faked or reused; the probe acts only on
 * a process it has proven to be this project's clock: this user's, alive, running this project's
 * clock entry point on this state directory, and (for PM2's clock) launched by this PM2 as `clock`.
 */
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

/** The state directory a clock with environment `env` uses, resolved as the clock itself does. */
export function stateDirOf(env: Map<string, string>, entry: string): string {
  const projectRoot = resolve(dirname(entry), '..', '..');
  const configured = env.get('STATE_DIR');
  if (configured === undefined) return join(projectRoot, 'state');
  return isAbsolute(configured) ? configured : resolve(projectRoot, configured);
}

/** Whether `proc` is a live clock of this project working on this state directory. */
export function isClockOfOurState(proc: ProcessInfo, env: Map<string, string> | undefined, id: ClockIdentity): boolean {
  if (!env || proc.user !== id.user || !isLiving(proc)) return false;
  const script = scriptOf(proc.argv, env);
  if (!script || !proc.cwd) return false;
  const runs = realpathOrUndefined(resolve(proc.cwd, script));
  if (runs === undefined) return false;
  // PM2's own fork container (this project's PM2, by real path) runs the script named in pm_exec_path.
  const execPath = env.get('pm_exec_path');
  const entry = samePath(runs, pm2ContainerOf(id.entry)) && execPath !== undefined ? realpathOrUndefined(execPath) : runs;
  return entry !== undefined && pathKey(entry) === pathKey(id.entry) && samePath(stateDirOf(env, id.entry), id.stateDir);
}

/** PM2's fork-mode container in the project whose clock entry is `entry`. */
function pm2ContainerOf(entry: string): string {
  return join(dirname(entry), '..', '..', 'node_modules', 'pm2', 'lib', 'ProcessContainerFork.js');
}

/** Whether `proc` is the process this PM2 daemon launched, and still runs, as its app `clock`. */
export function isPm2Clock(
  proc: ProcessInfo,
  env: Map<string, string> | undefined,
  id: ClockIdentity,
  pm2: Pm2Facts,
  startedAtMs: number | undefined,
): boolean {
  if (!env || !isClockOfOurState(proc, env, id)) return false;
  const home = env.get('PM2_HOME') ?? join(homedir(), '.pm2');
  return (
    proc.pid === pm2.pid &&
    proc.ppid === pm2.daemonPid &&
    env.get('name') === 'clock' &&
    env.get('pm_id') === String(pm2.pmId) &&
    samePath(home, pm2.home) &&
    isThatLaunch(env, pm2.launchedAt, startedAtMs)
  );
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
