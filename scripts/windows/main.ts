/**
 * npm run windows -- ARGS…: ARGS under Windows Node in wine, from the project's root.
 *   pm2 … / pm2-runtime …   the project's own pm2, run by Windows Node
 *   node …                  Windows Node
 *   taskkill … / PROGRAM …  a Windows program, through wine
 * It first makes sure of wine (apt-get as root), Windows Node of this Node's major version and the
 * Windows builds of native dependencies (npm registry, cached in .windows/ and node_modules), and
 * the prefix (WINEPREFIX, else .windows/prefix). PM2_HOME, STATE_DIR, LOG_DIR and the CLOCK_* /
 * PROBE_* settings pass through with their Linux paths made Z:\ paths. The command's output is
 * relayed as it comes (through files: see spawn.ts); Ctrl-C and SIGTERM are passed on to it.
 *
 * Measured here (wine 8.0, Node 20.20.2, 2 busy cores): the very first run ~14 s (Windows Node
 * fetched, ~29 MB; the prefix made: wineboot ~6 s idle, ~10 s loaded); then `npm run windows --
 * node -e "0"` ~1.2 s (~1.8 s when wineserver has to start again: it stays 3 s after its last
 * program), of which node.exe under wine ~0.45 s; `npm run windows -- pm2 jlist` ~2.2 s with the
 * daemon up (~1 s of it the pm2 CLI under wine, mostly loading PM2's modules; 2-3 s when the
 * machine is busy). PM2's daemon keeps its prefix's wineserver alive after the CLI exits.
 *
 * Exit codes: the command's own (128 + n when it was ended by signal n, or we were); 100 usage;
 * 101 no wine, and it cannot be installed; 102 no Windows Node from the npm registry; 103 no
 * Windows build of a native dependency; 104 the prefix cannot be created.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WINDOWS_EXIT, WindowsUnavailable } from './exit-codes.ts';
import { relayFile } from './relay.ts';
import { prepareWindows } from './setup.ts';
import { exitCodeOf, spawnWindows } from './spawn.ts';

const HELP = `npm run windows -- ARGS…   runs ARGS under Windows Node in wine, from the project's root

  npm run windows -- pm2 start ecosystem.config.js
  npm run windows -- pm2 jlist
  npm run windows -- node FILE
  npm run windows -- taskkill /F /PID N        (any other first word: a Windows program)

Exit codes: the command's own; 100 usage; 101 wine missing and not installable; 102 no Windows Node
from the npm registry; 103 no Windows build of a native dependency; 104 the wine prefix cannot be made.`;

/** After passing a signal on, how long the command has to end before it is killed. */
const SIGNAL_GRACE_MS = 5_000;

async function main(words: string[]): Promise<number> {
  if (words[0] === '--help' || words[0] === '-h') {
    console.log(HELP);
    return 0;
  }
  if (words.length === 0) {
    console.error('windows: no command given; see npm run windows -- --help');
    return WINDOWS_EXIT.usage;
  }
  const setup = await prepareWindows((line) => process.stderr.write(`${line}\n`));
  const dir = await mkdtemp(join(tmpdir(), 'estatus-windows-'));
  try {
    const outFile = join(dir, 'out');
    const errFile = join(dir, 'err');
    await Promise.all([writeFile(outFile, ''), writeFile(errFile, '')]);
    const relays = [relayFile(outFile, process.stdout), relayFile(errFile, process.stderr)];
    try {
      const child = spawnWindows(setup, words, { outFile, errFile });
      let caught: NodeJS.Signals | undefined;
      const passOn = (signal: NodeJS.Signals) => {
        caught ??= signal;
        child.kill(signal);
        setTimeout(() => child.kill('SIGKILL'), SIGNAL_GRACE_MS).unref();
      };
      process.on('SIGINT', passOn);
      process.on('SIGTERM', passOn);
      const code = await exitCodeOf(child);
      return caught ? 128 + constants.signals[caught] : code;
    } finally {
      await Promise.all(relays.map((relay) => relay.finish()));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof WindowsUnavailable) {
    console.error(error.message);
    process.exitCode = error.exitCode;
  } else {
    console.error(`windows: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
