import { win32 } from 'node:path';
import { windowsCommandLine } from './windows-command-line.ts';

/**
 * The Windows service, as the list of NSSM commands that makes it: a pure function of the project's
 * root, node.exe, nssm.exe and the environment, so the plan can be printed (--dry-run) and tested
 * anywhere. NSSM (https://nssm.cc) runs `pm2-runtime ecosystem.config.js` in the foreground and
 * starts it again when it exits; pm2-runtime runs PM2's daemon inside itself (PM2 on Windows keeps
 * its sockets at fixed pipe names, \\.\pipe\rpc.sock, so one PM2 daemon per machine anyway).
 */
export interface WindowsBootFacts {
  serviceName: string;
  /** The project's root, a Windows path. */
  root: string;
  /** node.exe that runs pm2-runtime (the one running this script). */
  nodePath: string;
  nssmPath: string;
  /** The user's home, for PM2_HOME's default (%USERPROFILE%\.pm2, as PM2 itself). */
  home: string;
  env: Readonly<Record<string, string | undefined>>;
}

export interface Command {
  file: string;
  args: string[];
}

export const DEFAULT_SERVICE_NAME = 'estatus';

/** How to get NSSM, in one line: printed when nssm.exe is not on the PATH. */
export const NSSM_MISSING_LINE =
  'nssm.exe is not on the PATH: install NSSM (winget install NSSM.NSSM, or choco install nssm, or download it from https://nssm.cc/download and put nssm.exe on the PATH), then run this again';

// Milliseconds. pm2-runtime answers Ctrl-C by stopping every app (the clock gets PM2's shutdown
// message and up to its kill_timeout of 3 s, then the probe the same) before it exits: 15 s covers
// both with room; only after it does NSSM try WM_CLOSE, WM_QUIT and finally TerminateProcess.
export const STOP_CONSOLE_MS = 15_000;
// A pm2-runtime that dies sooner than this after its start counts as failing to start: NSSM then
// waits longer before each new attempt (up to 4 minutes), so a broken setup is no tight loop. A
// healthy one that dies later is started again at once (AppRestartDelay 0).
export const THROTTLE_MS = 5_000;
// NSSM rotates the service's own stdout/stderr (pm2-runtime echoes every app's lines there) past this.
export const ROTATE_BYTES = 10 * 1024 * 1024;

/** PM2_HOME, absolute: the service runs as LocalSystem, whose own home is not the user's. */
export function pm2HomeOf(facts: Pick<WindowsBootFacts, 'root' | 'home' | 'env'>): string {
  return win32.resolve(facts.root, facts.env.PM2_HOME ?? win32.join(facts.home, '.pm2'));
}

/** Where the service's stdout and stderr go: the apps' log directory (LOG_DIR, default logs\). */
export function logDirOf(facts: Pick<WindowsBootFacts, 'root' | 'env'>): string {
  return win32.resolve(facts.root, facts.env.LOG_DIR ?? 'logs');
}

/**
 * The service's extra environment: PM2_HOME always, the directories made absolute (the service's
 * environment is LocalSystem's, not this shell's), and every CLOCK_* / PROBE_* setting given here.
 */
export function serviceEnvironment(facts: Pick<WindowsBootFacts, 'root' | 'home' | 'env'>): string[] {
  const pairs: [string, string][] = [['PM2_HOME', pm2HomeOf(facts)]];
  if (facts.env.STATE_DIR !== undefined) pairs.push(['STATE_DIR', win32.resolve(facts.root, facts.env.STATE_DIR)]);
  if (facts.env.LOG_DIR !== undefined) pairs.push(['LOG_DIR', logDirOf(facts)]);
  const settings = Object.keys(facts.env).filter((name) => /^(CLOCK|PROBE)_/.test(name)).sort();
  for (const name of settings) {
    const value = facts.env[name];
    if (value !== undefined) pairs.push([name, value]);
  }
  return pairs.map(([name, value]) => `${name}=${value}`);
}

/** What NSSM hands node.exe: NSSM joins its arguments with spaces and adds no quotes of its own. */
export function appParameters(root: string): string {
  return windowsCommandLine([win32.join(root, 'node_modules', 'pm2', 'bin', 'pm2-runtime'), win32.join(root, 'ecosystem.config.js')]);
}

/**
 * Registers (or, when `exists`, re-configures) the service, then starts it. The service runs as
 * LocalSystem: it needs no password and runs from boot, before anyone logs on.
 */
export function installPlan(facts: WindowsBootFacts, exists: boolean): Command[] {
  const { serviceName: name, nssmPath, nodePath, root } = facts;
  const logDir = logDirOf(facts);
  const nssm = (...args: string[]): Command => ({ file: nssmPath, args });
  const set = (parameter: string, ...values: string[]): Command => nssm('set', name, parameter, ...values);
  return [
    ...(exists
      ? [set('Application', nodePath), set('AppParameters', appParameters(root))]
      : [nssm('install', name, nodePath, appParameters(root))]),
    set('AppDirectory', root),
    set('DisplayName', `estatus (${name})`),
    set('Description', 'PM2 (pm2-runtime ecosystem.config.js) keeping the clock and the probe running; npm run unstartup removes it'),
    set('ObjectName', 'LocalSystem'),
    set('Start', 'SERVICE_AUTO_START'),
    set('AppEnvironmentExtra', ...serviceEnvironment(facts)),
    set('AppStdout', win32.join(logDir, 'service.out.log')),
    set('AppStderr', win32.join(logDir, 'service.err.log')),
    set('AppRotateFiles', '1'),
    set('AppRotateOnline', '1'),
    set('AppRotateBytes', String(ROTATE_BYTES)),
    set('AppExit', 'Default', 'Restart'),
    set('AppThrottle', String(THROTTLE_MS)),
    set('AppRestartDelay', '0'),
    // The console is what NSSM's Ctrl-C goes to; without one pm2-runtime could only be terminated.
    set('AppNoConsole', '0'),
    set('AppStopMethodSkip', '0'),
    set('AppStopMethodConsole', String(STOP_CONSOLE_MS)),
    set('AppStopMethodWindow', '1500'),
    set('AppStopMethodThreads', '1500'),
  ];
}

/** Stops the service (pm2-runtime stops the apps), then removes it. */
export function removePlan(nssmPath: string, serviceName: string): Command[] {
  return [
    { file: nssmPath, args: ['stop', serviceName] },
    { file: nssmPath, args: ['remove', serviceName, 'confirm'] },
  ];
}

/** The two looks that say whether the service is registered (see service-state.ts). */
export function statusCommands(nssmPath: string, serviceName: string): { nssm: Command; sc: Command } {
  return { nssm: { file: nssmPath, args: ['status', serviceName] }, sc: { file: 'sc.exe', args: ['query', serviceName] } };
}

/** nssm.exe in the first PATH directory (Windows' `;` list) that has it; undefined if none. */
export function findNssm(path: string, exists: (file: string) => boolean): string | undefined {
  for (const dir of path.split(';')) {
    if (dir.trim() === '') continue;
    const file = win32.join(dir.trim().replace(/^"(.*)"$/, '$1'), 'nssm.exe');
    if (exists(file)) return file;
  }
  return undefined;
}

/** A command as Windows receives it (CreateProcess's command line), for --dry-run and the logs. */
export function commandLine(command: Command): string {
  return windowsCommandLine([command.file, ...command.args]);
}
