// `npm start`: pm2 start ecosystem.config.js, then a look in PM2's list, because pm2 start exits 0
// when it could not launch an app (a read-only LOG_DIR) and an app that dies at once shows online for
// a moment. Plain JavaScript run by node: tsx would add 0.6-1.0 s to every start here.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { appsAsked, ECOSYSTEM, EXIT_NOT_LAUNCHED, launchProblems } from './lib/launch-check.js';

const HELP = `npm start [-- <pm2 start options>]

Starts the apps of ecosystem.config.js under PM2 (pm2 start ecosystem.config.js, with the options
given passed on: npm start -- --only clock), prints what PM2 prints, then looks in PM2's list until
every app asked for is online and has stayed up for a second (the clock: once it said it is ready,
within its listen_timeout). PM2 can exit 0 without having launched an app (it could not open its
logs, in a read-only LOG_DIR) or with one that died at once: then one line per app says what is
wrong and where to look, e.g.
  start: PM2 could not open LOG_DIR=/x for clock's logs (EROFS): make it a writable directory, or set LOG_DIR to one
  start: clock is stopped in PM2 (exit code 78): its error log says: clock: CLOCK_TICKS="abc" is not valid: ...

Environment: PM2_HOME (default ~/.pm2), and the apps' settings (LOG_DIR, STATE_DIR, CLOCK_*, PROBE_*:
see the README), read by ecosystem.config.js.

Exit codes (the operator scripts' table, scripts/lib/cli.ts): 0 every app asked for is online; 1 pm2
start failed, or PM2's list could not be read (the lines before say why); 9 PM2 could not launch an
app asked for (one line per app); 100 wrong usage (--only names no app of ecosystem.config.js);
128 + n when ended by signal n.`;

// The operator scripts' codes (scripts/lib/cli.ts: SCRIPT_EXIT), which is TypeScript, out of node's reach.
const EXIT_FAILED = 1;
const EXIT_USAGE = 100;
const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** @returns {Promise<number>} */
async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const wanted = await appsAsked(args);
  if (typeof wanted === 'string') {
    console.error(`start: ${wanted}; see npm start -- --help`);
    return EXIT_USAGE;
  }
  const pm2 = await runPm2Start(args);
  if (pm2.signal) return 128 + (SIGNAL_NUMBERS[/** @type {keyof typeof SIGNAL_NUMBERS} */ (pm2.signal)] ?? 9);
  const problems = await launchProblems(process.env, wanted, pm2.stderr);
  for (const problem of problems) console.error(`start: ${problem}`);
  if (problems.length > 0) return EXIT_NOT_LAUNCHED;
  if (pm2.code !== 0) {
    console.error(`start: pm2 start exited with code ${pm2.code} (its lines above say why), though ${wanted.map((app) => app.name).join(' and ')} are online`);
    return EXIT_FAILED;
  }
  console.log(`start: ${wanted.map((app) => app.name).join(' and ')} online in PM2; npx pm2 logs ${wanted[0]?.name ?? ''} shows the output`);
  return 0;
}

/**
 * pm2 start, its stdout straight to ours (PM2 draws its table for our terminal), its stderr passed
 * on as it comes and kept: PM2 says there why it could not launch an app.
 * @param {string[]} args
 * @returns {Promise<{ code: number, signal: NodeJS.Signals | null, stderr: string }>}
 */
function runPm2Start(args) {
  const pm2Bin = join(import.meta.dirname, '..', 'node_modules', 'pm2', 'bin', 'pm2');
  const child = spawn(process.execPath, [pm2Bin, 'start', ECOSYSTEM, ...args], { stdio: ['inherit', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (/** @type {Buffer} */ chunk) => {
    stderr += chunk.toString();
    process.stderr.write(chunk);
  });
  // While pm2 runs, a signal is its to act on (Ctrl-C reaches it anyway, as the same process group); we report how it ended.
  /** @param {NodeJS.Signals} signal */
  const relay = (signal) => child.kill(signal);
  const signals = /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']);
  for (const signal of signals) process.on(signal, relay);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      for (const name of signals) process.off(name, relay);
      resolve({ code: code ?? 1, signal, stderr });
    });
  });
}

process.exitCode = await main().catch((/** @type {unknown} */ error) => {
  console.error(`start: ${error instanceof Error ? error.message : String(error)}`);
  return EXIT_FAILED;
});
