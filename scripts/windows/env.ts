import { toWindowsPath } from './windows-path.ts';

/** Settings that always hold a path (when they hold an absolute Linux path, it becomes a Z:\ path). */
const PATH_SETTINGS = new Set(['PM2_HOME', 'STATE_DIR', 'LOG_DIR', 'CLOCK_ETCD_CA', 'CLOCK_ETCD_CERT', 'CLOCK_ETCD_KEY']);
/** The apps' own settings: any of them whose value is an existing absolute path is translated too. */
const APP_SETTING = /^(CLOCK|PROBE)_/;

/**
 * The environment for a Windows program under wine. wine hands its whole environment on to the
 * program (wine itself needs HOME, PATH and the like on the Linux side), so everything passes
 * through; only the project's path settings are turned into Windows paths, because Windows Node's
 * path functions treat `/tmp/x` as relative to the current drive, and PM2's daemon does not run
 * where the CLI ran. `isExistingPath` is asked about CLOCK_* / PROBE_* values only: a value such as
 * `0.2,0.4` is never a path, while `/` alone could be both.
 */
export function windowsEnv(env: NodeJS.ProcessEnv, isExistingPath: (path: string) => boolean): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const isPath = PATH_SETTINGS.has(name) || (APP_SETTING.test(name) && value.startsWith('/') && isExistingPath(value));
    result[name] = isPath ? toWindowsPath(value) : value;
  }
  return result;
}

/**
 * What every wine run needs: the prefix; wine's debug channels off unless the user chose some
 * (they print to stderr, which is the command's own); Node's refusal of wine's Windows version off.
 */
export function wineSettings(prefix: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { WINEPREFIX: prefix, WINEDEBUG: env.WINEDEBUG ?? '-all', NODE_SKIP_PLATFORM_CHECK: '1' };
}
