import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { wineSettings } from './env.ts';
import { WINDOWS_EXIT, WindowsUnavailable } from './exit-codes.ts';

const WINEBOOT_TIMEOUT_MS = 180_000;

/** Whether wine has made `prefix` (its registry is the last thing wineboot writes). */
export function prefixReady(prefix: string): boolean {
  return existsSync(join(prefix, 'system.reg'));
}

/**
 * Creates the wine prefix when it does not exist yet (~6-10 s and ~700 MB, once). Without Mono and
 * Gecko: Node needs neither, and wine would otherwise try to fetch and install them on first use.
 */
export async function ensurePrefix(prefix: string, env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<void> {
  if (prefixReady(prefix)) return;
  say(`windows: creating the wine prefix ${prefix} (first run only: ~10 s, ~700 MB)`);
  await mkdir(dirname(prefix), { recursive: true });
  const settings = { ...env, ...wineSettings(prefix, env), WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  const failure = await new Promise<string | undefined>((resolve) =>
    execFile('wineboot', ['-i'], { env: settings, timeout: WINEBOOT_TIMEOUT_MS }, (error, _stdout, stderr) =>
      resolve(error ? stderr.trim().split('\n').pop() || error.message : undefined),
    ),
  );
  if (!prefixReady(prefix)) {
    throw new WindowsUnavailable(`windows: wineboot could not create the wine prefix ${prefix} (${failure ?? 'no registry written'}); remove it and run again, or set WINEPREFIX to a working prefix`, WINDOWS_EXIT.noPrefix);
  }
}
