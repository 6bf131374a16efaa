import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { WINDOWS_EXIT, WindowsUnavailable } from './exit-codes.ts';

const APT_TIMEOUT_MS = 600_000;
/**
 * Debian's wine64 is the 64-bit wine itself; the `wine` command comes in the package `wine`, which
 * wine64 only recommends (an apt configured without recommends would leave no command).
 */
const APT_PACKAGES = ['wine64', 'wine'];

/** The path of `name` on the PATH, as `command -v` finds it, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir || '.', name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** wine, installed with apt-get first when it is missing and this user is root; else one line why not. */
export async function ensureWine(say: (line: string) => void): Promise<string> {
  const found = onPath('wine');
  if (found) return found;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new WindowsUnavailable(
      'windows: wine is not installed, and cannot be installed here (that takes root and apt-get): run `apt-get install wine64 wine` as root (Debian, Ubuntu), or install wine 8 or later from your distribution',
      WINDOWS_EXIT.noWine,
    );
  }
  say(`windows: wine is missing; installing ${APT_PACKAGES.join(' ')} with apt-get (once, a minute or two)`);
  await aptInstall();
  const installed = onPath('wine');
  if (!installed) throw new WindowsUnavailable(`windows: apt-get installed ${APT_PACKAGES.join(' ')}, yet no wine command is on the PATH (${process.env.PATH})`, WINDOWS_EXIT.noWine);
  return installed;
}

function aptInstall(): Promise<void> {
  const script = `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${APT_PACKAGES.join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', script], { timeout: APT_TIMEOUT_MS, maxBuffer: 64 << 20 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const last = stderr.trim().split('\n').pop() ?? error.message;
      reject(new WindowsUnavailable(`windows: \`${script}\` failed (${last}); install wine64 and wine by hand, then run again`, WINDOWS_EXIT.noWine));
    });
  });
}
