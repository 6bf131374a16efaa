import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseOptions, SCRIPT_EXIT } from '../lib/cli.ts';
import { LOGROTATE, rotationProblems, rotationSettings, setUpLogRotation } from './log-rotation.ts';

const HELP = `npm run logrotate

Installs ${LOGROTATE} into the PM2 daemon of PM2_HOME (default ~/.pm2) and configures it, so that the
apps' logs cannot fill the disk. npm run startup does this too.

Environment: LOG_MAX_SIZE (default 10M: rotate a log past this size; K, M, G), LOG_RETAIN (default
14: rotated files kept per log), LOG_CHECK_SECONDS (default 30: how often sizes are checked).
Rotated files sit beside the log as <name>__<date>.log; npx pm2 logs clock reads the current one.

Exit codes: 0 configured, and ${LOGROTATE} online in PM2; 1 failed (the line before says why); 9 PM2
could not launch ${LOGROTATE} (the line before says what is wrong and where to look); 100 wrong usage.`;

const options = parseOptions('logrotate', HELP, {});
if (options) {
  const pm2Home = process.env.PM2_HOME ?? join(homedir(), '.pm2');
  const env = { ...process.env, PM2_HOME: pm2Home };
  process.exitCode = await setUpLogRotation(env, pm2Home, rotationSettings(), (line) => console.log(`logrotate: ${line}`))
    .then(() => rotationProblems(env, pm2Home))
    .then((problems) => {
      for (const problem of problems) console.error(`logrotate: ${problem}`);
      return problems.length > 0 ? SCRIPT_EXIT.notLaunched : SCRIPT_EXIT.ok;
    })
    .catch((error: unknown) => {
      console.error(`logrotate: ${error instanceof Error ? error.message : String(error)}`);
      return SCRIPT_EXIT.failed;
    });
}
