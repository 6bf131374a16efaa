import { chmod, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { bootTarget, checkUnit, detectInitSystem, readIfExists, renderUnit, startupCommand, type BootTarget } from './init-system.ts';
import { parseOptions, SCRIPT_EXIT, type Options } from '../lib/cli.ts';
import { DEFAULT_SERVICE_NAME } from './nssm.ts';
import { startupOnWindows } from './windows-startup.ts';
import { LOGROTATE, rotationProblems, rotationSettings, setUpLogRotation, type RotationSettings } from './log-rotation.ts';
import { PM2_BIN, pm2Cli, pm2OrFail } from '../lib/pm2-cli.ts';
import { ECOSYSTEM, ecosystemApps, launchProblems } from '../lib/launch-check.js';

const HELP = `npm run startup -- [--dry-run] [--service-name NAME]

Makes the clock and the probe come back at boot, and after a power cut:
  1. starts the ecosystem (pm2 start ecosystem.config.js) unless clock and probe are online;
  2. registers PM2 with the init system it finds (systemd, launchd, OpenRC, ...) through pm2 startup,
     as this user, with this PM2_HOME, as service estatus-<user>; then checks the unit it wrote;
  3. installs and configures pm2-logrotate, so that logs/ cannot fill the disk;
  4. pm2 save, then reads the saved list back to check that clock and probe are in it, and makes it
     owner-only (it holds the apps' whole environment).
Undo with npm run unstartup.

  --dry-run            show the unit and the commands, change nothing
  --service-name NAME  the init system's name for it (default estatus-<user>; Windows: estatus)

Environment: PM2_HOME (default ~/.pm2); LOG_MAX_SIZE (default 10M: rotate a log past this size),
LOG_RETAIN (default 14: rotated files kept per log), LOG_CHECK_SECONDS (default 30: how often sizes are checked).

On Windows (pm2 startup does not support it) it registers a Windows service with NSSM instead:
service estatus (--service-name to change) runs node.exe node_modules\\pm2\\bin\\pm2-runtime
ecosystem.config.js in the project, as LocalSystem, from boot, with this PM2_HOME (default
%USERPROFILE%\\.pm2), STATE_DIR, LOG_DIR and every CLOCK_* / PROBE_* setting; its output goes to
LOG_DIR\\service.out.log and service.err.log; NSSM starts it again when it exits, and stops it with
Ctrl-C (pm2-runtime then stops the apps) before anything harder. Needs nssm.exe on the PATH and an
administrator's terminal; --dry-run prints every nssm command line as Windows receives it.

Exit codes: 0 registered and saved (Windows: registered and running); 1 a step failed or could not
be confirmed (the lines before say which); 3 registering needs root (Windows: an administrator): the
exact command is printed, nothing was changed; 7 Windows: nssm.exe is not on the PATH (one line says
how to get it); 9 PM2 could not launch clock or probe (one line each says what is wrong and where to
look; nothing was registered), or ${LOGROTATE} (after registering); 100 wrong usage.`;

async function main(): Promise<number> {
  const options = parseOptions('startup', HELP, { 'dry-run': { type: 'boolean' }, 'service-name': { type: 'string' } });
  if (!options) return process.exitCode as number;
  if (process.platform === 'win32') {
    const name = serviceNameOf(options);
    return name === undefined ? SCRIPT_EXIT.usage : startupOnWindows(name, options['dry-run'] === true);
  }
  const { username: user, homedir: home } = userInfo();
  const pm2Home = process.env.PM2_HOME ?? join(homedir(), '.pm2');
  const init = process.platform === 'darwin' ? 'launchd' : detectInitSystem();
  if (!init) {
    console.error('startup: found no init system that pm2 startup supports (systemctl, update-rc.d, chkconfig, rc-update, launchctl, sysrc, rcctl, svcadm)');
    return SCRIPT_EXIT.failed;
  }
  const serviceName = serviceNameOf(options, `estatus-${user}`);
  if (serviceName === undefined) return SCRIPT_EXIT.usage;
  const target = bootTarget(init, user, home, pm2Home, serviceName);
  const env = { ...process.env, PM2_HOME: pm2Home };
  const logrotate = rotationSettings();
  if (options['dry-run']) {
    printPlan(target, logrotate);
    return SCRIPT_EXIT.ok;
  }

  // The one step that needs root is asked for before anything changes, so nothing is left half done.
  if (checkUnit(target, readIfExists(target.unitPath)).length > 0 && target.needsRoot && process.getuid?.() !== 0) {
    const { env: unitEnv, args } = startupCommand(target);
    const vars = Object.entries(unitEnv).map(([name, value]) => `${name}=${value}`).join(' ');
    console.log(`startup: registering at boot needs root, and nothing has been changed; run:\n  sudo env ${vars} ${process.execPath} ${PM2_BIN} ${args.join(' ')}\nthen npm run startup again: it finds the unit, checks it, and does the rest.`);
    return SCRIPT_EXIT.needsRoot;
  }
  if (!(await ensureRunning(env))) return SCRIPT_EXIT.notLaunched;
  if (!(await register(target))) return SCRIPT_EXIT.failed;
  await setUpLogRotation(env, pm2Home, logrotate, (line) => console.log(`startup: ${line}`));
  const rotation = await rotationProblems(env, pm2Home);
  for (const problem of rotation) console.error(`startup: ${problem}`);
  if (rotation.length > 0) return SCRIPT_EXIT.notLaunched;
  if (!(await saveAndCheck(env, pm2Home))) return SCRIPT_EXIT.failed;
  console.log(`startup: done: ${target.unitPath} starts PM2 (${pm2Home}) as ${user} at boot and resurrects clock and probe`);
  return SCRIPT_EXIT.ok;
}

function printPlan(target: BootTarget, logrotate: RotationSettings): void {
  const { env: unitEnv, args } = startupCommand(target);
  const vars = Object.entries(unitEnv).map(([name, value]) => `${name}=${value}`).join(' ');
  console.log(`startup --dry-run: nothing is changed. It would:
  1. run pm2 start ${join(PROJECT_ROOT, 'ecosystem.config.js')} (unless clock and probe are online in ${target.pm2Home})
  2. run ${target.needsRoot && process.getuid?.() !== 0 ? '(as root) ' : ''}env ${vars} ${process.execPath} ${PM2_BIN} ${args.join(' ')}
     which writes ${target.unitPath}${target.enableLink ? ` and enables it (${target.enableLink})` : ''}:
${renderUnit(target).trimEnd().split('\n').map((line) => `       ${line}`).join('\n')}
  3. run pm2 install ${LOGROTATE} (unless installed), then ${Object.entries(logrotate).map(([key, value]) => `pm2 set ${LOGROTATE}:${key} "${value}"`).join('; ')}
  4. run pm2 save, check that clock and probe are in ${join(target.pm2Home, 'dump.pm2')}, and make it owner-only (0600)`);
}

/** --service-name, checked; undefined (said in one line) when it is not a valid name. */
function serviceNameOf(options: Options, fallback = DEFAULT_SERVICE_NAME): string | undefined {
  const serviceName = typeof options['service-name'] === 'string' ? options['service-name'] : fallback;
  if (/^[A-Za-z0-9_.@-]+$/.test(serviceName)) return serviceName;
  console.error(`startup: --service-name "${serviceName}" is not valid: expected letters, digits, and . _ @ - only`);
  return undefined;
}

/** Starts the ecosystem unless it runs; false (said, one line per app) when PM2 could not launch it. */
async function ensureRunning(env: NodeJS.ProcessEnv): Promise<boolean> {
  const list = await pm2Cli(env, ['jlist']);
  const online = list.code === 0 ? parseList(list.stdout).filter((app) => app.status === 'online').map((app) => app.name) : [];
  if (online.includes('clock') && online.includes('probe')) {
    console.log('startup: clock and probe are online');
    return true;
  }
  console.log('startup: starting the ecosystem (pm2 start ecosystem.config.js)');
  const started = await pm2Cli(env, ['start', ECOSYSTEM]);
  // pm2 start exits 0 having launched nothing (a read-only LOG_DIR), or with a clock that stopped at
  // once: registering that at boot would bring back the same failure at every boot.
  const problems = await launchProblems(env, await ecosystemApps(), started.stderr);
  for (const problem of problems) console.error(`startup: ${problem}`);
  if (problems.length > 0) return false;
  if (started.code !== 0) throw new Error(`pm2 start ${ECOSYSTEM} exited with code ${started.code}\n${started.stdout}\n${started.stderr}`);
  return true;
}

/** Registers with the init system, unless it already is, exactly as wanted. */
async function register(target: BootTarget): Promise<boolean> {
  if (checkUnit(target, readIfExists(target.unitPath)).length === 0) {
    console.log(`startup: already registered: ${target.unitPath}`);
    return true;
  }
  const { env, args } = startupCommand(target);
  console.log(`startup: registering with ${target.init}: pm2 ${args.join(' ')}`);
  const result = await pm2Cli({ ...process.env, ...env }, args);
  // pm2 startup can exit 0 having done nothing useful (or fail after writing): what is on disk decides.
  const problems = checkUnit(target, readIfExists(target.unitPath));
  if (problems.length > 0) {
    console.error(`startup: registration not confirmed (pm2 startup exited ${result.code}):`);
    for (const problem of problems) console.error(`  ${problem}`);
    console.error(result.stdout.trim().split('\n').slice(-5).map((line) => `  pm2: ${line}`).join('\n'));
    return false;
  }
  console.log(`startup: registered: ${target.unitPath}${target.enableLink ? `, enabled by ${target.enableLink}` : ''}`);
  return true;
}

/** pm2 save, then the saved list read back: clock and probe must be in it, readable by this user only. */
async function saveAndCheck(env: NodeJS.ProcessEnv, pm2Home: string): Promise<boolean> {
  await pm2OrFail(env, ['save', '--force']);
  const dump = join(pm2Home, 'dump.pm2');
  const saved = (JSON.parse(await readFile(dump, 'utf8')) as { name: string }[]).map((app) => app.name);
  const missing = ['clock', 'probe'].filter((name) => !saved.includes(name));
  // The saved list holds each app's whole environment.
  await chmod(pm2Home, 0o700);
  for (const file of [dump, `${dump}.bak`]) if (existsSync(file)) await chmod(file, 0o600);
  if (missing.length > 0) {
    console.error(`startup: ${dump} lacks ${missing.join(' and ')} (it holds: ${saved.join(', ') || 'nothing'})`);
    return false;
  }
  console.log(`startup: saved ${saved.join(', ')} in ${dump} (owner-only)`);
  return true;
}

function parseList(stdout: string): { name: string; status: string }[] {
  try {
    return (JSON.parse(stdout.slice(stdout.indexOf('['))) as { name: string; pm2_env: { status: string } }[]).map((app) => ({
      name: app.name,
      status: app.pm2_env.status,
    }));
  } catch {
    return [];
  }
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(`startup: ${error instanceof Error ? error.message : String(error)}`);
  return SCRIPT_EXIT.failed;
});
