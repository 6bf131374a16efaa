import { homedir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, readProbeConfig, type ProbeConfig } from '../shared/config.ts';
import { EXIT } from '../shared/exit-codes.ts';
import { pulseEveryMs } from '../shared/probe-pulse.ts';
import { statePaths } from '../shared/state-dir.ts';
import { OwnPulse } from './own-pulse.ts';
import { Pm2Client } from './pm2-client.ts';
import { Probe } from './probe.ts';
import { currentUser, procTableProblem, readStat } from './proc-table.ts';

/**
 * The probe's entry point: settings, signals, exit codes, and the loop that looks at every guarded
 * app once per period. Everything else is in probe.ts; nothing below it exits the process.
 */
const log = (line: string): void => void process.stdout.write(`probe: ${line}\n`);
const warn = (line: string): void => void process.stderr.write(`probe: ${line}\n`);

let config: ProbeConfig;
try {
  config = readProbeConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  warn(error.message);
  process.exit(EXIT.config);
}

if (procTableProblem !== undefined) {
  warn(`cannot read the process table: ${procTableProblem}; the clock runs without the probe, and PM2 still restarts it when it exits`);
  process.exit(EXIT.unsupported);
}

const pm2 = new Pm2Client(process.env.PM2_HOME ?? join(homedir(), '.pm2'));
const probe = new Probe({ periodMs: config.periodMs, pm2, user: currentUser(), log, warn });

// PM2's library is loaded before the pulse starts: loading it blocks the event loop for ~0.3 s, and
// for over a second on a loaded machine (measured under chaos at load 10), long enough for the clock
// to take a new probe's first silence for a hang. Until the pulse starts, the file holds the last
// probe's, whose pid is gone, and the clock ends nothing.
await import('pm2').catch(() => {});

// The clock watches this probe in turn (apps/clock/probe-watch.ts) through this pulse.
const pulse = new OwnPulse({
  path: statePaths(config.stateDir).probePulse,
  pid: process.pid,
  createTime: readStat(process.pid)?.createTime ?? null,
  pulseMs: pulseEveryMs(config.periodMs),
  hangMs: config.hangMs,
  warn,
});
pulse.start();

let running = true;
async function stop(reason: string): Promise<void> {
  if (!running) return;
  running = false;
  log(`${reason}; stopping`);
  await pulse.stop();
  await pm2.disconnect();
  process.exit(EXIT.ok);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(`${signal} received`));
// Our PM2 daemon is gone (its IPC channel closed): the daemon that replaces it starts its own probe.
process.once('disconnect', () => void stop('the PM2 daemon that runs this probe is gone'));

log(`watching every app under guard in PM2 (${pm2.home}) every ${config.periodMs} ms`);
while (running) {
  const started = performance.now();
  await probe.check();
  await sleep(probe.nextLookInMs(started, performance.now()));
}
