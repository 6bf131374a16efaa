import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { PM2_BIN } from '../lib/pm2-cli.ts';

/**
 * Registration with the init system, the way `pm2 startup` does it, plus what pm2 does not do:
 * predict the unit (for --dry-run), check what was written, and tell exactly what is left behind.
 */
export type InitSystem = 'systemd' | 'upstart' | 'systemv' | 'openrc' | 'launchd' | 'rcd' | 'rcd-openbsd' | 'smf';

export interface BootTarget {
  init: InitSystem;
  /** The user the daemon runs as at boot, and its PM2_HOME. */
  user: string;
  pm2Home: string;
  serviceName: string;
  /** Where the unit (or init script, or plist) is written, and the link that enables it, if any. */
  unitPath: string;
  enableLink: string | undefined;
  /** Whether writing it needs root (everything but launchd's per-user agents). */
  needsRoot: boolean;
  template: string;
}

// pm2's own order (lib/API/Startup.js, detectInitSystem): the first of these commands found wins.
const INIT_COMMANDS: [string, InitSystem][] = [
  ['systemctl', 'systemd'],
  ['update-rc.d', 'upstart'],
  ['chkconfig', 'systemv'],
  ['rc-update', 'openrc'],
  ['launchctl', 'launchd'],
  ['sysrc', 'rcd'],
  ['rcctl', 'rcd-openbsd'],
  ['svcadm', 'smf'],
];

/** The PATH the unit runs pm2 with: node's own directory first, then the system's. */
export const UNIT_PATH_ENV = [...new Set([dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])].join(':');

export function detectInitSystem(path = process.env.PATH ?? ''): InitSystem | undefined {
  for (const [command, init] of INIT_COMMANDS) {
    if (path.split(delimiter).some((dir) => isExecutable(join(dir, command)))) return init;
  }
  return undefined;
}

export function bootTarget(init: InitSystem, user: string, home: string, pm2Home: string, serviceName: string): BootTarget {
  const at = (unitPath: string, template: string, enableLink?: string): BootTarget => ({
    init, user, pm2Home, serviceName, unitPath, enableLink, needsRoot: init !== 'launchd', template,
  });
  switch (init) {
    case 'systemd':
      return at(`/etc/systemd/system/${serviceName}.service`, 'systemd', `/etc/systemd/system/multi-user.target.wants/${serviceName}.service`);
    case 'launchd':
      return at(join(home, 'Library', 'LaunchAgents', `${serviceName}.plist`), 'launchd');
    case 'upstart':
    case 'systemv':
      return at(`/etc/init.d/${serviceName}`, 'upstart');
    case 'openrc':
      // pm2 names the OpenRC script "pm2" whatever the service name.
      return at('/etc/init.d/pm2', 'openrc');
    case 'rcd':
      return at(`/usr/local/etc/rc.d/${serviceName}`, 'rcd');
    case 'rcd-openbsd':
      return at(`/etc/rc.d/${serviceName}`, 'rcd-openbsd');
    case 'smf':
      return at(`/tmp/${serviceName}.xml`, 'smf');
  }
}

/** The unit pm2 startup would write, rendered with pm2's own template and substitutions. */
export function renderUnit(target: BootTarget): string {
  const template = readFileSync(join(PROJECT_ROOT, 'node_modules', 'pm2', 'lib', 'templates', 'init-scripts', `${target.template}.tpl`), 'utf8');
  return template
    .replace(/%PM2_PATH%/g, PM2_BIN)
    .replace(/%NODE_PATH%/g, UNIT_PATH_ENV)
    .replace(/%USER%/g, target.user)
    .replace(/%HOME_PATH%/g, target.pm2Home)
    .replace(/%SERVICE_NAME%/g, target.serviceName);
}

/** The command that registers `target`, with the user and PM2_HOME spelled out (never "undefined"). */
export function startupCommand(target: BootTarget): { env: Record<string, string>; args: string[] } {
  return {
    env: { PATH: UNIT_PATH_ENV, PM2_HOME: target.pm2Home, USER: target.user, LOGNAME: target.user },
    args: ['startup', target.init, '-u', target.user, '--service-name', target.serviceName],
  };
}

/** What is wrong with a written unit, as sentences; empty when it is right. */
export function checkUnit(target: BootTarget, text: string | undefined): string[] {
  if (text === undefined) return [`${target.unitPath} was not written`];
  const problems: string[] = [];
  if (/undefined/.test(text)) problems.push(`${target.unitPath} says "undefined" (pm2 startup without a user)`);
  if (!text.includes(target.pm2Home)) problems.push(`${target.unitPath} does not use PM2_HOME ${target.pm2Home}`);
  if (!text.includes('resurrect')) problems.push(`${target.unitPath} does not run pm2 resurrect`);
  if (target.init === 'systemd' && !new RegExp(`^User=${escape(target.user)}$`, 'm').test(text)) {
    problems.push(`${target.unitPath} does not run as User=${target.user}`);
  }
  if (target.enableLink && !existsSync(target.enableLink)) problems.push(`${target.enableLink} is missing: the unit is not enabled`);
  return problems;
}

/** What of a registration is still on disk. */
export function leftovers(target: BootTarget): string[] {
  return [target.unitPath, target.enableLink].filter((path): path is string => path !== undefined && existsSync(path));
}

/** Whether systemd runs this machine (PID 1), so that systemctl can talk to it. */
export function systemdIsRunning(): boolean {
  return existsSync('/run/systemd/system');
}

export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
