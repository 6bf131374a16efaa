import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { commandLine, findNssm, statusCommands, type Command } from './nssm.ts';
import { serviceState, type Output, type ServiceState } from './service-state.ts';
import { quoteWindowsArg } from './windows-command-line.ts';

/** Exit code of npm run startup / unstartup on Windows when nssm.exe is not on the PATH. */
export const EXIT_NSSM_MISSING = 7;
/** Exit code of npm run unstartup on Windows when no service of that name was there to remove. */
export const EXIT_NOTHING_REGISTERED = 8;

// High (elevated administrator) and System mandatory levels: the integrity levels that may
// install and remove services without a UAC prompt.
const ELEVATED_LEVELS = ['S-1-16-12288', 'S-1-16-16384'];

/** Whether `whoami /groups` describes an elevated token. */
export function isElevated(whoamiGroups: string): boolean {
  return ELEVATED_LEVELS.some((sid) => whoamiGroups.includes(sid));
}

/**
 * Runs `command` with exactly the command line --dry-run prints (verbatim: no second quoting by
 * Node), and keeps its output as bytes (NSSM 2.24 writes UTF-16).
 */
export function run(command: Command, timeoutMs = 60_000): Promise<Output> {
  return new Promise((resolve) => {
    const child = spawn(command.file, command.args.map(quoteWindowsArg), {
      argv0: quoteWindowsArg(command.file),
      windowsVerbatimArguments: true,
      windowsHide: true,
      timeout: timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => resolve({ code: -1, stdout: '', stderr: `${commandLine(command)}: ${error.message}` }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  });
}

export function nssmOnPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findNssm(env.Path ?? env.PATH ?? '', existsSync);
}

export async function elevated(): Promise<boolean> {
  const { code, stdout } = await run({ file: 'whoami.exe', args: ['/groups'] });
  return code === 0 && isElevated(Buffer.from(stdout).toString('utf8'));
}

export async function lookUp(nssmPath: string, serviceName: string): Promise<ServiceState> {
  const { nssm, sc } = statusCommands(nssmPath, serviceName);
  return serviceState(await run(nssm), await run(sc));
}
