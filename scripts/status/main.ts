import { setTimeout as sleep } from 'node:timers/promises';
import { parseOptions, SCRIPT_EXIT } from '../lib/cli.ts';
import { buildStatus } from './judge.ts';
import { describeAbsence, painter, renderStatus, statusJson } from './render.ts';
import type { Absence, Gathered } from './types.ts';
import { gather } from './sources.ts';

const HELP = `npm run status -- [--watch] [--json]

One screen for the PM2 daemon of this PM2_HOME: clock and probe as PM2 sees them (status, pid, uptime,
restarts, memory); the clock's run and each thread's last tick with its age (from the heartbeat, else the
checkpoint); the heartbeat's age; the probe's heals by kind since it started; the checkpoint's path and
age. It only looks: it never starts a PM2 daemon and never changes a file.

Hot standby (CLOCK_STANDBY=1, two clock instances): one row per instance, "clock (active)" and
"clock (standby)". The active one is the instance whose pid wrote the heartbeat (only the owner of
the state lock writes it); failing that, each instance's own role metric in PM2 says. A "takeover"
line gives how fast the active took over from the one before it. In the JSON, apps.clock is the
active one, as it was the only one before; "clocks" lists every instance with its pmId and role.

Every app under guard (GUARD_HEARTBEAT in its env as PM2 launched it; the clock is one): one row with
its PM2 status and pid, its beat file's age, whether it says it is ready, what it owes from now ("in
1.2 s", "0.4 s late", or "nothing (idle)": an idle app is never stalled), what holds it back, what the
probe last said of it (its "<app> is" metric: healthy, hung, stalled, held, starting, ...) and its heals,
and its hang and stall settings. Below the rows, one line each: a bad guard setting (the probe's own
line: the app, the setting, what was expected, what was given; that app is not guarded), a beat file
that is not the contract (garbage, too large, a symlink: never followed, nothing in it shown), a beat
written by a pid that is no online instance of the app, two apps declaring one beat file (PM2 gives
every app it starts the environment of the shell that ran pm2 start: a GUARD_HEARTBEAT exported there
reaches them all), a stalled app. In the JSON: "guarded".

  --watch  redraw every second until Ctrl-C: in place on a terminal, else a new screen each second
  --json   one JSON object instead of the screen (with --watch, one line per second)

Environment: PM2_HOME (default ~/.pm2). The state directory is the clock's STATE_DIR as PM2 launched
it; with no clock in PM2's list, STATE_DIR here, else state/ in the project.

Exit codes: 0 shown; 1 the PM2 daemon did not answer, or status failed (the line before says why);
5 no PM2 daemon runs for this PM2_HOME; 6 clock or probe is not in PM2's list (neither: one line; one:
the screen, the other marked "not started"); 100 wrong usage. With --watch: 0 when stopped by Ctrl-C.`;

const REFRESH_MS = 1_000;
// Cursor home, erase to the end of the line / of the screen, hide and show the cursor.
const HOME = '\x1b[H';
const ERASE_LINE = '\x1b[K';
const ERASE_DOWN = '\x1b[J';
const CLEAR = '\x1b[2J\x1b[H';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

interface Screen {
  lines: string[];
  code: number;
  /** Whether the lines report a failure of status itself (stderr, unless JSON) rather than what it found. */
  failed: boolean;
}

async function main(): Promise<number> {
  const options = parseOptions('status', HELP, { watch: { type: 'boolean' }, json: { type: 'boolean' } });
  if (!options) return process.exitCode as number;
  const json = options.json === true;
  const color = !json && process.stdout.isTTY === true && process.stdout.hasColors();
  if (options.watch) return watch(json, color);
  const screen = await look(json, color);
  await write(screen.failed ? process.stderr : process.stdout, `${screen.lines.join('\n')}\n`);
  return screen.code;
}

async function look(json: boolean, color: boolean): Promise<Screen> {
  let found: Gathered | Absence;
  try {
    found = await gather();
  } catch (error) {
    const message = `status: ${error instanceof Error ? error.message : String(error)}`;
    return { lines: [json ? JSON.stringify({ problem: 'failed', message }) : message], code: SCRIPT_EXIT.failed, failed: !json };
  }
  if ('problem' in found) {
    const code = found.problem === 'no-daemon' ? SCRIPT_EXIT.noDaemon : SCRIPT_EXIT.notStarted;
    return { lines: [json ? statusJson(found) : describeAbsence(found)], code, failed: false };
  }
  const status = buildStatus(found);
  const code = status.apps.clock.status !== null && status.apps.probe.status !== null ? SCRIPT_EXIT.ok : SCRIPT_EXIT.notStarted;
  return { lines: json ? [statusJson(status)] : renderStatus(status, { color }), code, failed: false };
}

/** Refreshes until Ctrl-C; whatever it finds, no daemon included, is the screen: one can watch PM2 come back. */
async function watch(json: boolean, color: boolean): Promise<number> {
  const inPlace = !json && process.stdout.isTTY === true;
  const stop = new AbortController();
  const stopped = new Promise<undefined>((resolve) => stop.signal.addEventListener('abort', () => resolve(undefined)));
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (inPlace) await write(process.stdout, HIDE_CURSOR + CLEAR);
  try {
    for (let first = true; !stop.signal.aborted; first = false) {
      const startedAt = Date.now();
      // Ctrl-C must not wait out a daemon that does not answer (up to 5 s).
      const screen = await Promise.race([look(json, color), stopped]);
      if (!screen) break;
      if (json) await write(process.stdout, `${screen.lines[0]}\n`);
      else if (inPlace) {
        const lines = [...screen.lines, '', painter(color)('dim', 'every second; Ctrl-C to stop')];
        await write(process.stdout, `${HOME}${lines.map((line) => line + ERASE_LINE).join('\n')}\n${ERASE_DOWN}`);
      } else await write(process.stdout, `${first ? '' : '\n'}${screen.lines.join('\n')}\n`);
      await sleep(Math.max(0, startedAt + REFRESH_MS - Date.now()), undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    if (inPlace) await write(process.stdout, SHOW_CURSOR);
  }
  return SCRIPT_EXIT.ok;
}

/** Resolves once the text is handed to the OS: on macOS a pipe is asynchronous, and exit would cut it. */
function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

const code = await main().catch((error: unknown) => {
  console.error(`status: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return SCRIPT_EXIT.failed;
});
// An RPC socket to a daemon that stopped answering keeps reconnecting, and would keep status alive.
process.exit(code);
