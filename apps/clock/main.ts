import { performance } from 'node:perf_hooks';
import { ConfigError, readClockConfig, type ClockConfig } from '../shared/config.ts';
import { EXIT, type ExitCode } from '../shared/exit-codes.ts';
import { sendPendingReplies } from '../shared/pm2-ipc.ts';
import type { Clock } from './clock.ts';
import { log, warn } from './log.ts';
import { Supervisor } from './supervisor.ts';

/**
 * The clock's entry point: settings, signals, exit codes. A worker thread takes longer to boot than
 * the rest of the clock takes to load, so the workers are started first and the clock proper
 * (clock.ts) is loaded while they boot: that overlap is part of how fast a killed clock is back.
 */

// Well inside PM2's kill_timeout (3 s in ecosystem.config.js): past it, the stop gives up waiting.
const STOP_DEADLINE_MS = 2_000;
// How long after ready the clock starts to watch the probe.
const PROBE_WATCH_AFTER_MS = 1_000;

let clock: Clock | undefined;
let supervisor: Supervisor | undefined;
let stopping = false;

/** Stops the workers, saves the checkpoint, lets the next clock in, and exits with `code`. */
async function stop(code: ExitCode): Promise<void> {
  if (stopping) return;
  stopping = true;
  sendPendingReplies();
  setTimeout(() => {
    warn(`could not stop within ${STOP_DEADLINE_MS} ms; exiting anyway (the checkpoint on disk is at most one tick old)`);
    process.exit(EXIT.internal);
  }, STOP_DEADLINE_MS).unref();
  await supervisor?.stop();
  // Output lost is the daemon's death, not this clock's fault: the next clock is not held back for it.
  await clock?.stop(code === EXIT.ok || code === EXIT.outputLost || code === EXIT.deposed);
  process.exit(code);
}

function exitOnConfigError(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  warn(error.message);
  process.exit(EXIT.config);
}

// EPIPE and the like: stdout and stderr are pipes to the PM2 daemon, and it can die.
function outputLost(): void {
  clock?.outputLost();
  void stop(EXIT.outputLost);
}
for (const stream of [process.stdout, process.stderr]) stream.on('error', outputLost);
// The daemon's IPC channel closes the instant it dies: no need to wait for the next write to fail.
// A standby leaves at once rather than take over a state whose ticks nobody would read.
process.once('disconnect', outputLost);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal} received; stopping`);
    void stop(EXIT.ok);
  });
}
// PM2 on Windows cannot signal an app (its stop is taskkill /F): with the app's shutdown_with_message
// it sends this message instead, and kills only after kill_timeout. The same stop as SIGINT's.
process.on('message', (message: unknown) => {
  if (message !== 'shutdown') return;
  log('shutdown message received; stopping');
  void stop(EXIT.ok);
});

let config: ClockConfig;
try {
  config = readClockConfig();
} catch (error) {
  exitOnConfigError(error);
}

supervisor = new Supervisor({
  names: config.intervalsMs.map((_, index) => `thread-${index + 1}`),
  intervalsMs: config.intervalsMs,
  segmentFor: (index) => clock?.segmentFor(index),
  onTick: (index, tick) => clock?.onTick(index, tick),
  onEscalate(reason) {
    warn(`${reason}; exiting with code ${EXIT.escalated} so that PM2 restarts the clock`);
    void stop(EXIT.escalated);
  },
  log: warn,
});

const { Clock: ClockProper } = await import('./clock.ts');
clock = new ClockProper(config, supervisor, Math.round(performance.timeOrigin), () => void stop(EXIT.deposed));
await clock.start().catch(exitOnConfigError);
// The clock that owns the state watches the probe in turn (probe-watch.ts), loaded a moment after
// it is ready: no part of a start, whose time is what a restart is judged on. Built, it is a bundle
// of its own (scripts/build.js), named so that the clock's bundle does not take it in.
const PROBE_WATCH = import.meta.url.endsWith('.ts') ? './probe-watch.ts' : './probe-watch.js';
setTimeout(() => {
  if (stopping) return;
  void (import(PROBE_WATCH) as Promise<typeof import('./probe-watch.ts')>).then(({ watchProbe }) => watchProbe(config.stateDir, warn));
}, PROBE_WATCH_AFTER_MS).unref();
