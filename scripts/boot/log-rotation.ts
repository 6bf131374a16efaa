import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pm2OrFail } from '../lib/pm2-cli.ts';
import { launchProblems } from '../lib/launch-check.js';

/**
 * Log rotation by pm2-logrotate, PM2's own module: it checks the apps' log files every
 * workerInterval seconds, copies one past max_size to <name>__<time>.log, empties it, and keeps
 * `retain` copies; it also rotates every day at midnight (rotateInterval).
 */
export const LOGROTATE = 'pm2-logrotate';

export interface RotationSettings {
  max_size: string;
  retain: string;
  compress: string;
  workerInterval: string;
  rotateInterval: string;
}

/** The settings, from the environment: LOG_MAX_SIZE, LOG_RETAIN, LOG_CHECK_SECONDS. */
export function rotationSettings(env: NodeJS.ProcessEnv = process.env): RotationSettings {
  return {
    max_size: env.LOG_MAX_SIZE ?? '10M',
    retain: env.LOG_RETAIN ?? '14',
    // pm2-logrotate 3.0.0 only honours the string 'true', and PM2 hands it a boolean: it never
    // compresses. Said as it is, rather than configured as if it did.
    compress: 'false',
    workerInterval: env.LOG_CHECK_SECONDS ?? '30',
    rotateInterval: '0 0 * * *',
  };
}

/** Installs pm2-logrotate into PM2_HOME (once; from the npm registry) and applies `settings`. */
export async function setUpLogRotation(env: NodeJS.ProcessEnv, pm2Home: string, settings: RotationSettings, say: (line: string) => void): Promise<void> {
  if (!existsSync(join(pm2Home, 'modules', LOGROTATE))) {
    say(`installing ${LOGROTATE} into ${pm2Home} (from the npm registry)`);
    await pm2OrFail(env, ['install', LOGROTATE], 180_000);
  }
  for (const [key, value] of Object.entries(settings)) await pm2OrFail(env, ['set', `${LOGROTATE}:${key}`, value]);
  say(`logs rotate past ${settings.max_size} (checked every ${settings.workerInterval} s) and daily; ${settings.retain} kept per log`);
}

/**
 * Whether PM2 launched pm2-logrotate: pm2 install and pm2 set exit 0 when it could not (its logs, in
 * PM2_HOME/logs, cannot be opened). One line per problem; none when it is online and stays up.
 */
export function rotationProblems(env: NodeJS.ProcessEnv, pm2Home: string): Promise<string[]> {
  const logs = join(pm2Home, 'logs');
  const errorFile = join(logs, `${LOGROTATE}-error.log`);
  const module = { name: LOGROTATE, instances: 1, readyMs: 0, settleMs: 1000, logFiles: [join(logs, `${LOGROTATE}-out.log`), errorFile], logDirVar: 'PM2_HOME', errorFile, script: undefined };
  return launchProblems(env, [module], '');
}
