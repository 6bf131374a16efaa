import { parseArgs } from 'node:util';

/** `npm run bench`'s command line and its help. */

// Shorter windows are mostly noise at /proc's 1/100 s resolution.
const PROBE_MIN_WINDOW_S = 5;
const MAX_EXTRA = 20_000;
// /proc counts CPU time in 1/100 s: over 10 s one such tick is already the 0.1 % target.
const STANDBY_MIN_WINDOW_S = 10;
// The probe publishes its CPU time once a second: shorter windows are mostly rounding.
const GUARDED_MIN_WINDOW_S = 10;
// Each worker is a Node process of ~40 MB.
const MAX_GUARDED_APPS = 200;

export const HELP = `npm run bench -- [--kills N] [--hangs N] [--stalls N] [--probe-seconds N] [--extra N]
                 [--takeovers N] [--standby-seconds N] [--failovers N] [--quiet-seconds N]
                 [--windows-kills N] [--windows-probe-seconds N] [--guarded-apps N]
                 [--guarded-seconds N] [--worker-hangs N] [--worker-stalls N] [--json]

Measures, side by side in one run against a PM2 daemon of its own (a temporary PM2_HOME):
  tick accuracy            every tick of run 1 at the default 2 s / 4 s, its lateness against its
                           schedule as the worker measured it: p50, p99, max, and growth over the run
  probe cost               the probe's CPU time as a share of one core, over a window as the machine
                           is and over another with N extra idle processes in /proc, each with the
                           probe's own 'last scan' time (measured first, while run 1 ticks undisturbed)
  recovery after a hang    kill -STOP of the clock -> the restarted clock's first tick in PM2's log:
                           the probe finds the silent clock and SIGKILLs it, PM2 starts it again
  recovery after a stall   pm2 trigger clock fault stall (heartbeat on, ticks dropped) -> the same:
                           the probe finds a thread owing a tick too long and SIGKILLs the clock
  recovery after SIGKILL   kill -9 of the clock -> the clock ready again (lock, checkpoint, workers),
                           beside the same for a bare JavaScript app under the same PM2 (the floor)
  memory                   resident memory of the clock (main thread + workers), the probe and the
                           PM2 daemon, beside the bare JavaScript app's
Then, under a second PM2 daemon of its own with CLOCK_STANDBY=1 (two clocks, one active):
  takeover after SIGKILL   kill -9 of the active clock -> the standby ready to tick in its place (its
                           own readyAt), each kill once a standby is back and the active has been
                           ready for 1.2 s; beside the recovery after SIGKILL above (a restart)
  standby CPU              the idle standby's CPU time as a share of one core, beside the active's
                           over the same window, from 12 s after the standby started (its start-up
                           is not standing by)
Then, under a third PM2 daemon of its own: apps under guard that are not the clock (issue 18), each a
copy of examples/guarded-worker (plain Node written from the README's contract: a job a second, owing
the next within 2 s; hung after 2 s silent, stalled 2 s past what it owes), declared beside the clock:
  probe CPU, guarded apps  the probe's own CPU time (its 'cpu time' metric) as a share of one core with
                           the clock alone under guard, then with the clock and N - 1 workers, nothing
                           failing, at the default PROBE_PERIOD_MS (500): the total, and its cost per
                           guarded app (the total / N, and the growth over the clock alone / (N - 1))
  worker hung -> replaced  SIGUSR1 (its event loop blocked) or kill -STOP, in turn, of one worker ->
                           a new worker online and ready (its first beat's own write time), from the
                           fault; the target is its hang setting + 1 s
  worker stalled -> replaced  SIGUSR2 (it beats on, its job stuck) -> the same, beside the moment the
                           stalled worker owed progress (its first beat after the fault: written at
                           + owedInMs); the target is that moment + its stall setting + 1 s
                           (each fault strikes the next worker in turn: every app has a heal budget
                           of its own, so no round waits for the budget of another)
Then, where this machine can make test hosts (Linux, root, Debian's etcd-server: npm run cluster):
  quiet run                three hosts, one etcd cluster, nothing failing for N s: leader changes
                           counted (none is the target), the leader's CPU beside the single-host clock's
  clock killed             SIGKILL of the leader's clock alone, N times -> the clock PM2 starts in its
                           place ready, on the same host (it carries on with the noted lease)
  failover                 the leader cut off the network, and the leader powered off (SIGKILL of every
                           process on it), each N times -> the first tick on another host; beside the
                           restart and the takeover above
Then, where wine can be had (npm run windows), under PM2 on Windows Node in wine: wine, not Windows:
  recovery after a kill    TerminateProcess of the clock (Windows Node's process.kill, the kill
                           instant noted by the killer itself) -> the clock ready again, beside the
                           same for the bare JavaScript app under the same PM2
  probe CPU                the probe's own CPU time (its 'cpu time' metric) as a share of one core
Prints figures; asserts nothing. Progress goes to stderr.

  --kills N           SIGKILLs per app (default 20)
  --hangs N           hangs of the clock (default 5)
  --stalls N          stalls of the clock (default 5; hangs and stalls beyond 5 wait for the probe's
                      heal budget, 5 heals a minute)
  --probe-seconds N   length of each probe cost window in seconds (default 60, at least 5)
  --extra N           idle processes added for the second window (default 2000, at most 20000)
  --takeovers N       SIGKILLs of the active clock in standby mode (default 20)
  --standby-seconds N length of the standby CPU window in seconds (default 20, at least 10)
  --failovers N       failovers of each kind in cluster mode, and clock kills (default 10; 0 leaves the cluster out)
  --quiet-seconds N   length of the cluster's quiet run in seconds (default 300, at least 10)
  --windows-kills N   kills per app under wine (default 10; 0 leaves Windows out)
  --windows-probe-seconds N  length of the probe CPU window under wine (default 30, at least 5)
  --guarded-apps N    apps under guard for the guarded rows: the clock and N - 1 workers (default 20,
                      from 2; 0 leaves these rows out)
  --guarded-seconds N length of each guarded probe CPU window (default 60, at least 10: the probe
                      scans the whole process table for each guarded app once a minute, all of them
                      together, so a window of a whole number of minutes counts each app's once)
  --worker-hangs N    hangs of a worker (default 3; SIGUSR1 and kill -STOP in turn)
  --worker-stalls N   stalls of a worker (default 3)
  --json              machine-readable output
Exit codes: 0 measured, 1 failed to measure, 100 wrong usage, 130 interrupted (Ctrl-C; 143 SIGTERM; cleaned up).`;

export interface Options {
  kills: number;
  hangs: number;
  stalls: number;
  probeSeconds: number;
  extra: number;
  takeovers: number;
  standbySeconds: number;
  failovers: number;
  quietSeconds: number;
  windowsKills: number;
  windowsProbeSeconds: number;
  guardedApps: number;
  guardedSeconds: number;
  workerHangs: number;
  workerStalls: number;
  json: boolean;
}

/** The command line; throws (one line: the option, what it expects, what it got) on a bad one. */
export function parseOptions(args: string[] = process.argv.slice(2)): Options | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      kills: { type: 'string', default: '20' },
      hangs: { type: 'string', default: '5' },
      stalls: { type: 'string', default: '5' },
      'probe-seconds': { type: 'string', default: '60' },
      extra: { type: 'string', default: '2000' },
      takeovers: { type: 'string', default: '20' },
      'standby-seconds': { type: 'string', default: '20' },
      failovers: { type: 'string', default: '10' },
      'quiet-seconds': { type: 'string', default: '300' },
      'windows-kills': { type: 'string', default: '10' },
      'windows-probe-seconds': { type: 'string', default: '30' },
      'guarded-apps': { type: 'string', default: '20' },
      'guarded-seconds': { type: 'string', default: '60' },
      'worker-hangs': { type: 'string', default: '3' },
      'worker-stalls': { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  return {
    kills: wholeNumber('--kills', values.kills, 1),
    hangs: wholeNumber('--hangs', values.hangs, 1),
    stalls: wholeNumber('--stalls', values.stalls, 1),
    probeSeconds: wholeNumber('--probe-seconds', values['probe-seconds'], PROBE_MIN_WINDOW_S),
    extra: wholeNumber('--extra', values.extra, 1, MAX_EXTRA),
    takeovers: wholeNumber('--takeovers', values.takeovers, 1),
    standbySeconds: wholeNumber('--standby-seconds', values['standby-seconds'], STANDBY_MIN_WINDOW_S),
    failovers: wholeNumber('--failovers', values.failovers, 0),
    quietSeconds: wholeNumber('--quiet-seconds', values['quiet-seconds'], 10),
    windowsKills: wholeNumber('--windows-kills', values['windows-kills'], 0),
    windowsProbeSeconds: wholeNumber('--windows-probe-seconds', values['windows-probe-seconds'], PROBE_MIN_WINDOW_S),
    guardedApps: guardedApps(values['guarded-apps']),
    guardedSeconds: wholeNumber('--guarded-seconds', values['guarded-seconds'], GUARDED_MIN_WINDOW_S),
    workerHangs: wholeNumber('--worker-hangs', values['worker-hangs'], 1),
    workerStalls: wholeNumber('--worker-stalls', values['worker-stalls'], 1),
    json: values.json,
  };
}

/** 0 (none), or the clock and at least one worker, at most MAX_GUARDED_APPS. */
function guardedApps(text: string): number {
  if (text === '0') return 0;
  return wholeNumber('--guarded-apps', text, 2, MAX_GUARDED_APPS);
}

function wholeNumber(option: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `from ${min}` : `from ${min} to ${max}`;
    throw new Error(`${option} expects a whole number ${range}, got "${text}"`);
  }
  return value;
}
