import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import dayjs from 'dayjs';
import { parseTickLine } from '../../apps/shared/tick-line.ts';
import { SCRIPT_EXIT } from '../lib/cli.ts';
import { watchInterrupts } from '../lib/interrupt.ts';
import type { Sandbox } from '../lib/pm2-sandbox.ts';
import { median } from '../lib/stats.ts';
import { isAlive, waitFor } from '../lib/wait.ts';
import { withEcosystem } from './ecosystem-sandbox.ts';

/**
 * Issue 17's seventh case, measured: the clock killed (SIGKILL) again and again, each time as soon
 * as PM2 has it back (PM2's pid file names a new live process; --delay-ms later), then left alone:
 * how long until it ticks again, and where that time went (the clock's own crash-loop back-off,
 * PM2 marking it errored, the probe's heal budget). Clock and probe under a PM2 daemon of its own,
 * at test speed (0.2 s / 0.4 s, 5 ticks a run, PROBE_HANG_MS=1000), a fresh one for each round.
 * The pid file, not `pm2 jlist`: a pm2 CLI per look costs ~0.3 s of CPU, and on a loaded machine
 * the kills' pace was the CLI's; how soon after its start each clock dies is --delay-ms's.
 */

const HELP = `npx tsx scripts/bench/quick-kills.ts [--kills N] [--delay-ms N] [--rounds N] [--json]

Per round, under a PM2 daemon of its own (clock + probe, CLOCK_INTERVALS=0.2,0.4 CLOCK_TICKS=5
PROBE_HANG_MS=1000): waits for the clock to tick healthy, kills it N times, each as soon as PM2's
pid file names a new live clock (and --delay-ms later), then measures from the last kill to the
first tick printed after it (that tick's own timestamp in PM2's log). Prints each round and the
median; asserts nothing.

  --kills N     kills per round (default 60)
  --delay-ms N  how long each new clock lives before it is killed, in ms (default 0: at once,
                before it has read its start record; 500: while it waits out its back-off)
  --rounds N    rounds, each with a fresh daemon (default 1)
  --json        machine-readable output
Exit codes: 0 measured, 1 failed to measure, 100 wrong usage, 130 interrupted (Ctrl-C; 143 SIGTERM; cleaned up).`;

// However long the clock and the probe back off, the bench waits this long for it to be back.
const BACK_LIMIT_MS = 300_000;

interface QuickKillRound {
  kills: number;
  delayMs: number;
  /** ms the kills took, all of them. */
  killingMs: number;
  /** ms from the last kill to the first tick after it. */
  recoveryMs: number;
  /** The clock's back-off lines ("waiting N s …") in the whole round, and the seconds of the one after the last kill. */
  clockBackoffs: number;
  lastClockBackoffS: number | undefined;
  /** PM2 gave up on the clock (errored), and the probe restarted it, this many times. */
  erroredHeals: number;
  /** The probe's own back-off lines, and the seconds of the last one. */
  probeBackoffs: number;
  lastProbeBackoffS: number | undefined;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        kills: { type: 'string', default: '60' },
        'delay-ms': { type: 'string', default: '0' },
        rounds: { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (values.help) {
    console.log(HELP);
    return SCRIPT_EXIT.ok;
  }
  const kills = wholeNumber(values.kills, 1);
  const delayMs = wholeNumber(values['delay-ms'], 0);
  const rounds = wholeNumber(values.rounds, 1);
  if (kills === undefined) return usage(`--kills expects a whole number from 1, got "${values.kills}"`);
  if (delayMs === undefined) return usage(`--delay-ms expects a whole number from 0, got "${values['delay-ms']}"`);
  if (rounds === undefined) return usage(`--rounds expects a whole number from 1, got "${values.rounds}"`);
  watchInterrupts('quick-kills', 'exit');
  const progress = (line: string) => process.stderr.write(`quick-kills: ${line}\n`);
  const results: QuickKillRound[] = [];
  for (let round = 1; round <= rounds; round++) {
    await withEcosystem({ PROBE_HANG_MS: '1000', CLOCK_STANDBY: '0' }, async (sandbox) => {
      const result = await measureQuickKills(sandbox, kills, delayMs, (line) => progress(`round ${round}/${rounds}: ${line}`));
      results.push(result);
      progress(`round ${round}/${rounds}: ${describe(result)}`);
    });
  }
  const recovery = median(results.map((r) => r.recoveryMs));
  if (values.json) console.log(JSON.stringify({ kills, delayMs, rounds: results, medianRecoveryMs: recovery }, null, 2));
  else {
    results.forEach((result, index) => console.log(`round ${index + 1}: ${describe(result)}`));
    console.log(`median recovery after ${kills} quick kills (each ${delayMs} ms after its start): ${(recovery / 1000).toFixed(1)} s over ${results.length} round(s)`);
  }
  return SCRIPT_EXIT.ok;
}

/** With clock and probe started in `sandbox`, kills the clock `kills` times as it comes back, and times the recovery. */
async function measureQuickKills(sandbox: Sandbox, kills: number, delayMs: number, progress: (line: string) => void): Promise<QuickKillRound> {
  // A clock ready for over a second: the first kill is of a healthy clock, as in the issue.
  await waitFor('the clock to tick for a while', async () => ticksAfter(await sandbox.outLog(), 0).length >= 10, 30_000);
  let last: number | undefined;
  let lastKillAt = 0;
  const started = performance.now();
  for (let kill = 1; kill <= kills; ) {
    const pid = await waitFor(`the clock back after kill ${kill - 1}`, () => clockPid(sandbox, last), BACK_LIMIT_MS, 10);
    last = pid;
    if (delayMs > 0) await sleep(delayMs);
    // Gone already (it died by itself meanwhile): the next one is killed instead.
    if (!isAlive(pid)) continue;
    process.kill(pid, 'SIGKILL');
    lastKillAt = Date.now();
    if (kill % 10 === 0) progress(`${kill}/${kills} kills, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    kill += 1;
  }
  const killingMs = performance.now() - started;
  const tickedAt = await waitFor('the first tick after the last kill', async () => ticksAfter(await sandbox.outLog(), lastKillAt)[0], BACK_LIMIT_MS, 50);
  const clockErr = await sandbox.errLog('clock');
  const probeLog = (await sandbox.outLog('probe')) + (await sandbox.errLog('probe'));
  const clockBackoffs = [...clockErr.matchAll(/waiting ([\d.]+) s before starting \(crash-loop back-off\)/g)];
  const probeBackoffs = [...probeLog.matchAll(/backing off for (\d+) s before healing/g)];
  return {
    kills,
    delayMs,
    killingMs: Math.round(killingMs),
    recoveryMs: tickedAt - lastKillAt,
    clockBackoffs: clockBackoffs.length,
    lastClockBackoffS: lastNumber(clockBackoffs),
    erroredHeals: (probeLog.match(/restarting clock through PM2 \(errored\)/g) ?? []).length,
    probeBackoffs: probeBackoffs.length,
    lastProbeBackoffS: lastNumber(probeBackoffs),
  };
}

/** The clock's pid in PM2's pid file (written as PM2 spawns it), once it is a live process other than `other`. */
function clockPid(sandbox: Sandbox, other: number | undefined): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(sandbox.home, 'pids', 'clock-0.pid'), 'utf8'));
  } catch {
    return undefined;
  }
  return Number.isSafeInteger(pid) && pid > 0 && pid !== other && isAlive(pid) ? pid : undefined;
}

/** The wall-clock times (ms) of the ticks in `log` stamped after `afterMs`, in order. */
function ticksAfter(log: string, afterMs: number): number[] {
  return log.split('\n').flatMap((line) => {
    const tick = parseTickLine(line);
    // Tick lines carry local time, as dayjs formatted it; dayjs reads it back the same way.
    const at = tick ? dayjs(tick.timestamp).valueOf() : undefined;
    return at !== undefined && at > afterMs ? [at] : [];
  });
}

function lastNumber(matches: RegExpMatchArray[]): number | undefined {
  const last = matches.at(-1)?.[1];
  return last === undefined ? undefined : Number(last);
}

function describe(r: QuickKillRound): string {
  const clock = r.lastClockBackoffS === undefined ? 'none' : `${r.clockBackoffs} (last ${r.lastClockBackoffS} s)`;
  const probe = r.lastProbeBackoffS === undefined ? 'none' : `${r.probeBackoffs} (last ${r.lastProbeBackoffS} s)`;
  return `${r.kills} kills (${r.delayMs} ms after each start) in ${(r.killingMs / 1000).toFixed(1)} s; ticking again ${(r.recoveryMs / 1000).toFixed(1)} s after the last; ` +
    `clock back-offs ${clock}; errored, restarted by the probe: ${r.erroredHeals}; probe back-offs ${probe}`;
}

function wholeNumber(text: string, min: number): number | undefined {
  return /^\d+$/.test(text) && Number(text) >= min ? Number(text) : undefined;
}

function usage(problem: string): number {
  console.error(`quick-kills: ${problem}; see npx tsx scripts/bench/quick-kills.ts --help`);
  return SCRIPT_EXIT.usage;
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(`quick-kills: ${error instanceof Error ? error.message : String(error)}`);
  return SCRIPT_EXIT.failed;
});
