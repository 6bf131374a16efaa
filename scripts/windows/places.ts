import { join } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';

/** Everything the runner fetches or creates lives here, ignored by git: Windows Node, the prefix. */
export const WINDOWS_DIR = join(PROJECT_ROOT, '.windows');

/** The wine prefix used when WINEPREFIX is not set: the project's own, not the user's ~/.wine. */
export const DEFAULT_PREFIX = join(WINDOWS_DIR, 'prefix');

export function choosePrefix(env: NodeJS.ProcessEnv): string {
  return env.WINEPREFIX || DEFAULT_PREFIX;
}
