import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WindowsSetup } from './setup.ts';
import { exitCodeOf, spawnWindows } from './spawn.ts';

export interface WindowsResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  prefix?: string;
  /** Ended with SIGKILL after this long; the result then says so. */
  timeoutMs?: number;
}

// wine's own launcher, not the program, failed: "ShellExecuteEx failed: Internal error" with exit 1,
// seen once in a CI run for `wine taskkill` in a fresh prefix. Nothing ran, so running it again is safe.
const LAUNCH_FAILED = /^ShellExecuteEx failed: (?!File not found)/m;
const LAUNCH_TRIES = 3;

/** Runs `words` under wine to the end and returns what it printed and its exit code, whatever that is. */
export async function runWindows(setup: WindowsSetup, words: readonly string[], options: RunOptions = {}): Promise<WindowsResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await runOnce(setup, words, options);
    if (attempt >= LAUNCH_TRIES || result.code !== 1 || !LAUNCH_FAILED.test(result.stdout + result.stderr)) return result;
  }
}

async function runOnce(setup: WindowsSetup, words: readonly string[], options: RunOptions): Promise<WindowsResult> {
  const dir = await mkdtemp(join(tmpdir(), 'estatus-windows-run-'));
  try {
    const outFile = join(dir, 'out');
    const errFile = join(dir, 'err');
    const child = spawnWindows(setup, words, { env: options.env, prefix: options.prefix, outFile, errFile });
    let timedOut = false;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : undefined;
    const code = await exitCodeOf(child).finally(() => clearTimeout(timer));
    const [stdout, stderr] = await Promise.all([readFile(outFile, 'utf8'), readFile(errFile, 'utf8')]);
    const late = timedOut ? `\nwindows: ${words.join(' ')} was killed after ${options.timeoutMs} ms` : '';
    return { code, stdout, stderr: stderr + late };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
