import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT_NOT_LAUNCHED } from './launch-check.js';

/** Exit codes shared by the operator scripts (npm start, startup, unstartup, status, chaos, bench). */
export const SCRIPT_EXIT = {
  ok: 0,
  /** It could not do, or could not confirm, what it was asked to (the lines before say what). */
  failed: 1,
  /** It needs root for the next step: the exact command to run is printed. */
  needsRoot: 3,
  /** Not supported on this platform (Windows): the supported way is printed. */
  unsupported: 4,
  /** status: no PM2 daemon runs for this PM2_HOME. */
  noDaemon: 5,
  /** status: the PM2 daemon runs, but clock or probe is not in its list. */
  notStarted: 6,
  /**
   * npm start, startup: PM2 could not launch an app asked for (not in its list, errored, stopped, or not
   * up for a second); one line per app says what is wrong and where to look. Windows' 7 and 8 are in
   * scripts/boot/windows-run.ts. Defined in launch-check.js, for npm start runs that without tsx.
   */
  notLaunched: EXIT_NOT_LAUNCHED,
  /** Wrong usage: an unknown option or a bad value. */
  usage: 100,
} as const;

export type Options = Record<string, string | boolean | undefined>;

/**
 * Parses the command line, or says in one line what is wrong and returns undefined (exit 100).
 * `--help` prints `help` and also returns undefined, with exit code 0.
 */
export function parseOptions(name: string, help: string, options: NonNullable<ParseArgsConfig['options']>): Options | undefined {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean' } }, allowPositionals: false });
    const parsed = values as Options;
    if (parsed.help) {
      console.log(help);
      process.exitCode = SCRIPT_EXIT.ok;
      return undefined;
    }
    return parsed;
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}; see npm run ${name} -- --help`);
    process.exitCode = SCRIPT_EXIT.usage;
    return undefined;
  }
}
