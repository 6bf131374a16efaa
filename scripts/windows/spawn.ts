import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { planCommand } from './command.ts';
import { windowsEnv, wineSettings } from './env.ts';
import { WINDOWS_EXIT, WindowsUnavailable } from './exit-codes.ts';
import type { WindowsSetup } from './setup.ts';

export interface SpawnOptions {
  /** The Linux-side settings (Linux paths): translated here. Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Another prefix than the setup's (a test's own, so that its PM2 daemon has the pipes to itself). */
  prefix?: string;
  /** Where the command's stdout and stderr go (appended). */
  outFile: string;
  errFile: string;
}

/**
 * Starts `words` (see planCommand) under wine from the project's root, its stdout and stderr
 * appended to files: Windows Node's stdout on a Unix pipe fails with EBADF under wine, and a pty
 * mixes the two streams and adds console escapes (measured: `ESC[?25l` around every line, CR CR LF).
 * Its stdin is /dev/null: wine on a terminal's stdin would change the terminal's modes. The child's
 * pid is the Linux pid of the Windows program itself (wine execs it), so a signal sent to it
 * reaches it: SIGINT as Ctrl-C, SIGTERM ending it.
 */
export function spawnWindows(setup: WindowsSetup, words: readonly string[], options: SpawnOptions): ChildProcess {
  const plan = planCommand(words, { nodeExe: setup.nodeExe, root: PROJECT_ROOT });
  if (!plan) throw new WindowsUnavailable('windows: no command given; usage: npm run windows -- pm2|pm2-runtime|node|taskkill|PROGRAM ARGS…', WINDOWS_EXIT.usage);
  const env = options.env ?? process.env;
  const out = openSync(options.outFile, 'a');
  const err = openSync(options.errFile, 'a');
  try {
    return spawn(plan.file, plan.args, {
      cwd: PROJECT_ROOT,
      env: { ...windowsEnv(env, existsSync), ...wineSettings(options.prefix ?? setup.prefix, env) },
      stdio: ['ignore', out, err],
    });
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

/** The child's exit code, or 128 + the number of the signal that ended it (a shell's way). */
export function exitCodeOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    if (child.signalCode !== null) return resolve(128 + constants.signals[child.signalCode]);
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
