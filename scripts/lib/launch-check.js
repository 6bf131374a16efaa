// Whether PM2 launched what it was asked to: `pm2 start` exits 0 when it could not launch an app at
// all (a read-only LOG_DIR: it cannot open the app's log files), and an app that dies at once shows
// online for a moment. Shared by npm start (scripts/start.js), npm run startup and npm run logrotate.
// Plain JavaScript: npm start runs it with node alone, whose start-up costs ~0.1 s against tsx's 0.6-1.0 s here.
import { execFile } from 'node:child_process';
import { accessSync, closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = join(import.meta.dirname, '..', '..');
export const ECOSYSTEM = join(ROOT, 'ecosystem.config.js');
const PM2_BIN = join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');

/** Exit code of npm start and npm run startup when PM2 could not launch an app asked for (scripts/lib/cli.ts). */
export const EXIT_NOT_LAUNCHED = 9;

// PM2's own line between a start that held and one that died at once (its default min_uptime).
const SETTLE_MS = 1000;
// Beyond the longest wait an app may take to be ready: PM2's list lags, and pm2 jlist takes ~0.3 s.
const MARGIN_MS = 2000;
const POLL_MS = 250;
const ERROR_LINE_MAX = 300;
const TAIL_BYTES = 8192;

/**
 * @typedef {object} WantedApp  an app of ecosystem.config.js that was asked for
 * @property {string} name
 * @property {number} instances
 * @property {number} readyMs  how long PM2 waits for it to say it is ready (wait_ready), else 0
 * @property {number} settleMs  how long it must stay up to count as launched
 * @property {string[]} logFiles  its out and error logs, as declared
 * @property {string} logDirVar  the setting that chooses where those logs are (LOG_DIR; a PM2 module's: PM2_HOME)
 * @property {string | undefined} errorFile
 * @property {string | undefined} script
 */

/**
 * @typedef {object} Pm2Entry  one instance in `pm2 jlist`
 * @property {string} name
 * @property {number} pid
 * @property {{ status: string, restart_time: number, exit_code?: number, pm_err_log_path?: string }} pm2_env
 */

/**
 * The apps of ecosystem.config.js that `pm2 start` is asked for by `args` (its --only option), or a
 * one-line usage problem. Loading the file is what PM2 itself did, with the same environment.
 * @param {string[]} args pm2 start's options
 * @returns {Promise<WantedApp[] | string>}
 */
export async function appsAsked(args) {
  const all = await ecosystemApps();
  const only = onlyOf(args);
  if (only === undefined) return all;
  const unknown = only.filter((name) => !all.some((app) => app.name === name));
  if (unknown.length > 0) return `--only ${only.join(',')}: no app named ${unknown.join(', ')} in ecosystem.config.js (it has ${all.map((app) => app.name).join(', ')})`;
  return all.filter((app) => only.includes(app.name));
}

/** Every app of ecosystem.config.js. @returns {Promise<WantedApp[]>} */
export async function ecosystemApps() {
  /** @type {{ apps: Record<string, unknown>[] }} */
  const ecosystem = await import(pathToFileURL(ECOSYSTEM).href);
  return ecosystem.apps.map(wantedOf);
}

/** @param {Record<string, unknown>} app @returns {WantedApp} */
function wantedOf(app) {
  const errorFile = typeof app.error_file === 'string' ? app.error_file : undefined;
  const outFile = typeof app.out_file === 'string' ? app.out_file : undefined;
  return {
    name: String(app.name),
    instances: typeof app.instances === 'number' && app.instances > 0 ? app.instances : 1,
    readyMs: app.wait_ready === true ? (typeof app.listen_timeout === 'number' ? app.listen_timeout : 3000) : 0,
    settleMs: typeof app.min_uptime === 'number' ? app.min_uptime : SETTLE_MS,
    logFiles: /** @type {string[]} */ ([outFile, errorFile].filter((file) => file !== undefined)),
    logDirVar: 'LOG_DIR',
    errorFile,
    script: typeof app.script === 'string' ? app.script : undefined,
  };
}

/** pm2 start's --only, as PM2 reads it ("a,b" or "a b"); undefined when absent. @param {string[]} args */
function onlyOf(args) {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const value = arg === '--only' ? args[i + 1] : arg.startsWith('--only=') ? arg.slice('--only='.length) : undefined;
    if (value !== undefined) return value.split(/[, ]+/).filter((name) => name !== '');
  }
  return undefined;
}

/**
 * Looks in PM2's list until every wanted app is online and has stayed up (same pids, no restart) for
 * its settle time, or is beyond hope (missing, errored, stopped), or the deadline passes. Returns one
 * line per app that PM2 did not launch, saying what is wrong and where to look; none when all are up.
 * Throws when PM2's list cannot be read.
 * @param {NodeJS.ProcessEnv} env the environment `pm2 start` ran with (PM2_HOME, LOG_DIR)
 * @param {WantedApp[]} wanted
 * @param {string} pm2Said what pm2 start printed on stderr: PM2 names there why it could not launch an app
 * @returns {Promise<string[]>}
 */
export async function launchProblems(env, wanted, pm2Said) {
  const started = performance.now();
  const deadline = started + Math.max(0, ...wanted.map((app) => app.readyMs + app.settleMs)) + MARGIN_MS;
  /** @type {Map<string, { key: string, since: number }>} */
  const seen = new Map();
  /** @type {Map<string, string>} */
  const problems = new Map();
  let pending = wanted;
  for (;;) {
    const lookedAt = performance.now();
    const list = await pm2List(env);
    const answeredAt = performance.now();
    const late = lookedAt > deadline;
    /** @type {WantedApp[]} */
    const still = [];
    for (const app of pending) {
      const instances = list.filter((entry) => entry.name === app.name);
      const down = instances.find((entry) => entry.pm2_env.status === 'errored' || entry.pm2_env.status === 'stopped');
      const online = instances.filter((entry) => entry.pm2_env.status === 'online');
      if (instances.length === 0) problems.set(app.name, whyMissing(env, app, pm2Said));
      else if (down) problems.set(app.name, whyDown(app, instances, down));
      else if (online.length >= app.instances) {
        const key = online.map((entry) => `${entry.pid}/${entry.pm2_env.restart_time}`).sort().join(' ');
        const before = seen.get(app.name);
        if (before?.key === key && lookedAt - before.since >= app.settleMs) continue;
        if (before?.key !== key) seen.set(app.name, { key, since: answeredAt });
        if (late) problems.set(app.name, whyUnsettled(app, instances, started));
        else still.push(app);
      } else if (late) problems.set(app.name, whyUnsettled(app, instances, started));
      else still.push(app);
    }
    pending = still;
    if (pending.length === 0) break;
    const nextSettle = Math.min(...pending.map((app) => (seen.get(app.name)?.since ?? Infinity) + app.settleMs));
    await sleep(Math.max(POLL_MS, Math.min(nextSettle, deadline) - performance.now()));
  }
  return wanted.flatMap((app) => problems.get(app.name) ?? []);
}

/** @param {NodeJS.ProcessEnv} env @returns {Promise<Pm2Entry[]>} */
function pm2List(env) {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [PM2_BIN, 'jlist'], { env, cwd: ROOT, timeout: 15_000 }, (error, stdout, stderr) => {
      const line = stdout.split('\n').find((text) => text.startsWith('[{') || text.trim() === '[]');
      if (error || line === undefined) {
        const said = `${stderr}${stdout}`.trim().split('\n').pop() ?? '';
        reject(new Error(`could not read PM2's list (pm2 jlist ${error ? `exited with code ${error.code}` : 'printed no list'}${said ? `: ${said.slice(0, ERROR_LINE_MAX)}` : ''})`));
        return;
      }
      resolvePromise(JSON.parse(line));
    });
  });
}

/** Why an app is not in PM2's list at all: its log place, else what PM2 said, else where to look. */
function whyMissing(/** @type {NodeJS.ProcessEnv} */ env, /** @type {WantedApp} */ app, /** @type {string} */ pm2Said) {
  const logFault = logPlaceFault(env, app);
  if (logFault) return logFault;
  const paths = [...app.logFiles, app.script].filter((path) => path !== undefined);
  const said = pm2Said
    .split('\n')
    .map((line) => line.replace(/\x1b\[[0-9;]*m/g, '').trim())
    .find((line) => /failed to launch|not found|error/i.test(line) && paths.some((path) => line.includes(path)));
  const pm2Log = join(resolve(env.PM2_HOME || join(homedir(), '.pm2')), 'pm2.log');
  if (said) return `PM2 could not launch ${app.name}: ${said.replace(/^\[PM2\]\[ERROR\]\s*/, '').slice(0, ERROR_LINE_MAX)}; see ${pm2Log}`;
  return `${app.name} is not in PM2's list after pm2 start, and PM2 did not say why: see ${pm2Log}`;
}

/**
 * PM2 opens an app's log files before it forks the app, and leaves the app out of its list when it
 * cannot: the directory (read-only, not a directory, not creatable) or the file itself is named.
 * @param {NodeJS.ProcessEnv} env @param {WantedApp} app @returns {string | undefined}
 */
function logPlaceFault(env, app) {
  for (const file of app.logFiles) {
    const dir = dirname(file);
    const value = env[app.logDirVar];
    const setting = value !== undefined && resolve(value) === dir ? `${app.logDirVar}=${dir}` : `the log directory ${dir}`;
    const fix = app.logDirVar === 'LOG_DIR' ? 'or set LOG_DIR to one' : `or choose another with ${app.logDirVar}`;
    const dirFault = dirFaultOf(dir);
    if (dirFault) return `PM2 could not open ${setting} for ${app.name}'s logs (${dirFault}): make it a writable directory, ${fix}`;
    const fileFault = errnoOf(() => {
      const stats = statSync(file, { throwIfNoEntry: false });
      if (stats?.isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EISDIR' });
      if (stats) accessSync(file, constants.W_OK);
    });
    if (fileFault) return `PM2 could not open ${app.name}'s log ${file} (${fileFault}): make it a writable file, or remove it`;
  }
  return undefined;
}

/**
 * Why files cannot be made in `dir`: its error code; for a directory still to be made, that of the
 * nearest existing ancestor PM2 would make it in (ENOENT alone is no fault: PM2 makes the folder).
 * @param {string} dir @returns {string | undefined}
 */
function dirFaultOf(dir) {
  const fault = errnoOf(() => {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
  });
  if (fault !== 'ENOENT') return fault;
  const parent = dirname(dir);
  return parent === dir ? fault : dirFaultOf(parent);
}

/** The error code `run` throws (ENOENT, EROFS, ...), or undefined when it does not. @param {() => void} run */
function errnoOf(run) {
  try {
    run();
    return undefined;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code ?? String(error);
  }
}

/** @param {WantedApp} app @param {Pm2Entry[]} instances @param {Pm2Entry} down */
function whyDown(app, instances, down) {
  const exitCode = down.pm2_env.exit_code;
  const which = instances.length > 1 ? `${instances.filter((entry) => entry.pm2_env.status === 'online').length} of ${instances.length} ${app.name} instances are online; one` : app.name;
  return `${which} is ${down.pm2_env.status} in PM2${exitCode === undefined ? '' : ` (exit code ${exitCode})`}: ${errorLogSays(app, down)}`;
}

/** @param {WantedApp} app @param {Pm2Entry[]} instances @param {number} started */
function whyUnsettled(app, instances, started) {
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const statuses = [...new Set(instances.map((entry) => entry.pm2_env.status))].join(', ') || 'absent';
  const worst = instances.find((entry) => entry.pm2_env.status !== 'online') ?? instances[0];
  const restarts = Math.max(0, ...instances.map((entry) => entry.pm2_env.restart_time));
  const exitCode = worst?.pm2_env.exit_code;
  return `${app.name} did not stay online in PM2 within ${seconds} s (now ${statuses}, ${restarts} restarts${exitCode === undefined ? '' : `, last exit code ${exitCode}`}): ${worst ? errorLogSays(app, worst) : 'see npx pm2 logs'}`;
}

/** The last line of the app's error log, read from its end (the log can be large). @param {WantedApp} app @param {Pm2Entry} entry */
function errorLogSays(app, entry) {
  const file = entry.pm2_env.pm_err_log_path ?? app.errorFile;
  if (file === undefined) return `see npx pm2 logs ${app.name} --err`;
  let fd;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.min(size, TAIL_BYTES));
    readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    const last = buffer.toString('utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '').pop();
    return last === undefined ? `its error log ${file} is empty; see npx pm2 logs ${app.name}` : `its error log says: ${last.slice(0, ERROR_LINE_MAX)}`;
  } catch (error) {
    return `its error log ${file} cannot be read (${/** @type {NodeJS.ErrnoException} */ (error).code ?? error})`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
