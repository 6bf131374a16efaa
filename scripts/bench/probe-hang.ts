import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { lookAtProbePulse } from '../../apps/shared/probe-pulse.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { parseTickLine } from '../../apps/shared/tick-line.ts';
import { SCRIPT_EXIT } from '../lib/cli.ts';
import { watchInterrupts } from '../lib/interrupt.ts';
import type { Sandbox } from '../lib/pm2-sandbox.ts';
import { median } from '../lib/stats.ts';
import { isAlive, waitFor } from '../lib/wait.ts';
import { withEcosystem } from './ecosystem-sandbox.ts';

/**
 * Issue 17's fifth case, measured: the probe stopped (kill -STOP), and the time until PM2 runs a new
 * one, which the clock's watch on the probe (apps/clock/probe-watch.ts) brings about by ending the
 * hung one. The hangs come one after another in one PM2 daemon, so that whatever PM2 adds to a
 * restart that follows restarts shows. Printed, not asserted: the target is PROBE_HANG_MS + 2 s.
 */

const HELP = `npx tsx scripts/bench/probe-hang.ts [--rounds N] [--hang-ms MS] [--json]

Under a PM2 daemon of its own (clock + probe, CLOCK_INTERVALS=0.2,0.4 CLOCK_TICKS=5 PROBE_PERIOD_MS=200):
per round, waits for the probe's pulse, sends the probe SIGSTOP, and times (monotonic clock) until
PM2's pid file for the probe names a new live process and the old one is gone. Prints each round,
PM2's restart delay for it (pm2.log), and the median; asserts nothing.

  --rounds N    hangs, one after another (default 5)
  --hang-ms MS  PROBE_HANG_MS (default 1000)
  --json        machine-readable output
Exit codes: 0 measured, 1 failed to measure, 100 wrong usage, 130 interrupted (Ctrl-C; 143 SIGTERM; cleaned up).`;

const POLL_MS = 10;

interface Round {
  /** ms from SIGSTOP to a new live probe in PM2's pid file. */
  replacedMs: number;
  oldPid: number;
  newPid: number;
  /** PM2's "will restart in N ms" for this restart (said only with exp_backoff_restart_delay). */
  pm2DelayMs: number | undefined;
}

async function main(): Promise<number> {
  let rounds: number;
  let hangMs: number;
  let json: boolean;
  try {
    const { values } = parseArgs({ options: { rounds: { type: 'string' }, 'hang-ms': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } } });
    if (values.help) {
      console.log(HELP);
      return SCRIPT_EXIT.ok;
    }
    rounds = wholeNumber('--rounds', values.rounds ?? '5', 1, 100);
    hangMs = wholeNumber('--hang-ms', values['hang-ms'] ?? '1000', 500, 60_000);
    json = values.json ?? false;
  } catch (error) {
    console.error(`probe-hang: ${(error as Error).message}; see --help`);
    return SCRIPT_EXIT.usage;
  }
  watchInterrupts('probe-hang', 'exit');
  const stopped = new Set<number>();
  const results: Round[] = [];
  // A stopped probe the clock did not end would hold pm2 kill up for its kill_timeout.
  const killStopped = () => {
    for (const pid of stopped) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  };
  await withEcosystem({ PROBE_PERIOD_MS: '200', PROBE_HANG_MS: String(hangMs) }, async (sandbox) => {
    const probeId = (await sandbox.list()).find((p) => p.name === 'probe')?.pmId;
    if (probeId === undefined) throw new Error('PM2 lists no probe');
    let pid = await sandbox.onlinePid('probe');
    for (let round = 1; round <= rounds; round++) {
      await beating(sandbox, pid);
      const delaysBefore = await restartDelays(sandbox);
      const stoppedAt = performance.now();
      process.kill(pid, 'SIGSTOP');
      stopped.add(pid);
      const next = await waitFor(`a new probe after pid ${pid} was stopped`, async () => {
        const named = Number((await readFile(join(sandbox.home, 'pids', `probe-${probeId}.pid`), 'utf8').catch(() => '')).trim());
        return named > 0 && named !== pid && isAlive(named) && !isAlive(pid) ? named : undefined;
      }, hangMs + 30_000, POLL_MS);
      const replacedMs = performance.now() - stoppedAt;
      const delays = await restartDelays(sandbox);
      results.push({ replacedMs, oldPid: pid, newPid: next, pm2DelayMs: delays.length > delaysBefore.length ? delays.at(-1) : undefined });
      const delay = results.at(-1)?.pm2DelayMs;
      if (!json) console.log(`round ${round}: probe pid ${pid} stopped, pid ${next} running ${Math.round(replacedMs)} ms later${delay === undefined ? '' : ` (PM2's restart delay ${delay} ms)`}`);
      stopped.delete(pid);
      pid = next;
    }
  }, { beforeCleanup: killStopped });
  const figures = results.map((r) => r.replacedMs);
  if (json) console.log(JSON.stringify({ hangMs, rounds: results, medianMs: median(figures) }));
  else console.log(`median ${Math.round(median(figures))} ms over ${results.length} hang(s), max ${Math.round(Math.max(...figures))} ms; target PROBE_HANG_MS + 2 s = ${hangMs + 2000} ms`);
  return SCRIPT_EXIT.ok;
}

/** Waits until probe `pid` writes its pulse and the clock, watching, has seen it for a while. */
async function beating(sandbox: Sandbox, pid: number): Promise<void> {
  const path = statePaths(sandbox.stateDir).probePulse;
  let first: string | undefined;
  await waitFor(`probe pid ${pid} to beat`, async () => {
    const look = await lookAtProbePulse(path);
    if (look.kind !== 'present' || look.pulse?.pid !== pid) return false;
    first ??= look.key;
    return look.key !== first;
  });
  // The clock starts watching a second after it is ready: 8 ticks at 0.2 s / 0.4 s are past that.
  await waitFor('the clock to tick for over a second', async () => (await sandbox.outLog()).split('\n').filter((line) => parseTickLine(line)).length >= 8, 15_000);
}

/** PM2's restart delays so far ("App [probe:1] will restart in 100ms"). */
async function restartDelays(sandbox: Sandbox): Promise<number[]> {
  const log = await readFile(join(sandbox.home, 'pm2.log'), 'utf8').catch(() => '');
  return [...log.matchAll(/App \[probe:\d+\] will restart in (\d+)ms/g)].map((m) => Number(m[1]));
}

function wholeNumber(option: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new Error(`${option} expects a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`probe-hang: ${(error as Error).message}`);
  process.exitCode = SCRIPT_EXIT.failed;
}
