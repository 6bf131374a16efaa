import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bootTarget, detectInitSystem, leftovers, systemdIsRunning, startupCommand, type BootTarget } from './init-system.ts';
import { parseOptions, SCRIPT_EXIT } from '../lib/cli.ts';
import { pm2Cli } from '../lib/pm2-cli.ts';
import { DEFAULT_SERVICE_NAME } from './nssm.ts';
import { unstartupOnWindows } from './windows-unstartup.ts';

const HELP = `npm run unstartup -- [--dry-run] [--service-name NAME]

Removes what npm run startup registered with the init system (the unit and the link that enables
it), then checks that it is gone. The running apps and the saved list are left as they are.

  --dry-run            show what would be removed, change nothing
  --service-name NAME  the name it was registered under (default estatus-<user>; Windows: estatus)

On Windows it stops and removes the NSSM service that npm run startup registered (default name
estatus): nssm stop NAME, nssm remove NAME confirm; the apps stop with it. Then both nssm status NAME
and sc query NAME must say it does not exist. Needs nssm.exe on the PATH and an administrator.

Exit codes: 0 removed (Linux, macOS: or nothing was registered); 1 something is still there
(listed); 3 removing it needs root (Windows: an administrator): the exact command is printed;
7 Windows: nssm.exe is not on the PATH; 8 Windows: nothing removed, no service of that name was
registered; 100 wrong usage.`;

const run = promisify(execFile);

async function main(): Promise<number> {
  const options = parseOptions('unstartup', HELP, { 'dry-run': { type: 'boolean' }, 'service-name': { type: 'string' } });
  if (!options) return process.exitCode as number;
  if (process.platform === 'win32') {
    const name = typeof options['service-name'] === 'string' ? options['service-name'] : DEFAULT_SERVICE_NAME;
    return unstartupOnWindows(name, options['dry-run'] === true);
  }
  const { username: user, homedir: home } = userInfo();
  const init = process.platform === 'darwin' ? 'launchd' : detectInitSystem();
  if (!init) {
    console.log('unstartup: no init system that pm2 startup supports is here: nothing to remove');
    return SCRIPT_EXIT.ok;
  }
  const serviceName = typeof options['service-name'] === 'string' ? options['service-name'] : `estatus-${user}`;
  const target = bootTarget(init, user, home, process.env.PM2_HOME ?? join(homedir(), '.pm2'), serviceName);
  const present = leftovers(target);
  if (present.length === 0) {
    console.log(`unstartup: nothing registered as ${serviceName} (${target.unitPath} does not exist)`);
    return SCRIPT_EXIT.ok;
  }
  if (options['dry-run']) {
    console.log(`unstartup --dry-run: nothing is changed. It would remove:\n${present.map((path) => `  ${path}`).join('\n')}`);
    return SCRIPT_EXIT.ok;
  }
  if (target.needsRoot && process.getuid?.() !== 0) {
    console.log(`unstartup: removing ${present.join(' and ')} needs root; run:\n  sudo env PM2_HOME=${target.pm2Home} npm run unstartup -- --service-name ${serviceName}`);
    return SCRIPT_EXIT.needsRoot;
  }
  await unregister(target);
  const remaining = leftovers(target);
  if (remaining.length > 0) {
    console.error(`unstartup: still there after removal: ${remaining.join(', ')}`);
    return SCRIPT_EXIT.failed;
  }
  console.log(`unstartup: removed ${present.join(' and ')}`);
  return SCRIPT_EXIT.ok;
}

/**
 * systemd is handled here, not by pm2 unstartup: that stops the service first (ending the apps), and
 * where systemd is not PID 1 that step fails, pm2 stops there, exits 0 and leaves the unit installed.
 * `systemctl disable` works without a running systemd; the apps keep running.
 */
async function unregister(target: BootTarget): Promise<void> {
  if (target.init === 'systemd') {
    await run('systemctl', ['disable', target.serviceName]).catch(() => undefined);
    await rm(target.unitPath, { force: true });
    if (target.enableLink) await rm(target.enableLink, { force: true });
    if (systemdIsRunning()) await run('systemctl', ['daemon-reload']).catch(() => undefined);
    return;
  }
  if (target.init === 'launchd') {
    await run('launchctl', ['unload', '-w', target.unitPath]).catch(() => undefined);
    await rm(target.unitPath, { force: true });
    return;
  }
  const { env } = startupCommand(target);
  await pm2Cli({ ...process.env, ...env }, ['unstartup', target.init, '--service-name', target.serviceName]);
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(`unstartup: ${error instanceof Error ? error.message : String(error)}`);
  return SCRIPT_EXIT.failed;
});
