// The table of contents: which apps run, how PM2 treats them, and their environment.
// PM2 loads this file with require(); a named `apps` export is what it reads (Node 20 can require ESM).
// Settings come from the environment at `pm2 start` time; the clock validates them when it starts.
import { join, resolve } from 'node:path';
import { buildIfStale } from './scripts/build-if-stale.js';

const root = import.meta.dirname;
const env = process.env;
const logDir = resolve(env.LOG_DIR ?? join(root, 'logs'));

// PM2 runs compiled JavaScript (it starts ~4x faster and holds half the memory of the same code under
// tsx); compiling here, when a source is newer than its output, means `pm2 start` never runs stale code.
buildIfStale(root);

// The clock writes its state here and the probe reads it: both must be given the same directory.
const stateDir = resolve(env.STATE_DIR ?? join(root, 'state'));

/** @type {Record<string, string>} */
const clockEnv = {
  CLOCK_INTERVALS: env.CLOCK_INTERVALS ?? '2,4',
  CLOCK_TICKS: env.CLOCK_TICKS ?? '20',
  STATE_DIR: stateDir,
  CLOCK_FAULTS: env.CLOCK_FAULTS ?? '0',
  CLOCK_STANDBY: env.CLOCK_STANDBY ?? '0',
  NODE_ENV: 'production',
};
// Cluster mode: set CLOCK_ETCD (etcd's client URLs) and the clocks of several hosts elect one leader.
for (const name of ['CLOCK_ETCD', 'CLOCK_CLUSTER', 'CLOCK_HOST', 'CLOCK_LEASE_S', 'CLOCK_ETCD_CA', 'CLOCK_ETCD_CERT', 'CLOCK_ETCD_KEY']) {
  const value = env[name];
  if (value !== undefined) clockEnv[name] = value;
}
// Hot standby: a second clock, fully started, waits on the state lock and takes over the instant
// the active one dies (the kernel closes the lock's socket), without a process start.
const standby = clockEnv.CLOCK_STANDBY === '1' || clockEnv.CLOCK_STANDBY === 'true';

// The clock is guarded by the probe like any app (README, "Guard any app"): its heartbeat, its hang
// and stall limits, and what names its state (an instance on another STATE_DIR is not this clock).
// PROBE_HANG_MS stays the one setting a user changes for both.
const hangMs = env.PROBE_HANG_MS ?? '3000';
Object.assign(clockEnv, {
  GUARD_HEARTBEAT: join(stateDir, 'heartbeat.json'),
  GUARD_HANG_MS: hangMs,
  GUARD_STALL_MS: hangMs,
  GUARD_STATE_ENV: 'STATE_DIR',
  GUARD_STATE_DEFAULT: join(root, 'state'),
});

/** @type {Record<string, string>} */
const probeEnv = {
  PROBE_PERIOD_MS: env.PROBE_PERIOD_MS ?? '500',
  PROBE_HANG_MS: hangMs,
  STATE_DIR: stateDir,
  NODE_ENV: 'production',
};

export const apps = [
  {
    name: 'clock',
    script: join(root, 'dist/clock/main.js'),
    cwd: root,
    exec_mode: 'fork',
    instances: standby ? 2 : 1,
    env: clockEnv,
    // PM2 loads its own metrics module (pm2-io-bpm) into every app it forks unless told not to: for
    // the clock it is start time, memory and an idle standby's wake-ups, for metrics (heap, event-loop
    // latency) the clock does without. Its own metrics reach pm2 monit all the same (pm2-ipc.ts).
    pmx: false,
    // PM2 counts the clock online only once it says so: lock taken, checkpoint read, workers up.
    wait_ready: true,
    listen_timeout: 5000,
    // The clock stops its workers and flushes its checkpoint in well under a second; SIGKILL after 3 s.
    kill_timeout: 3000,
    // PM2 asks the clock to stop with a 'shutdown' message over IPC, not SIGINT: on Windows PM2 cannot
    // signal an app (its stop is taskkill /F, which would lose the last checkpoint), and one stop path
    // on every platform means the Linux suite tests the one Windows depends on. SIGINT and SIGTERM
    // from anyone else still stop the clock the same way (apps/clock/main.ts).
    shutdown_with_message: true,
    // Restart at once: the clock holds back by itself only when its last start died before it was
    // healthy (apps/clock/start-backoff.ts). PM2's exp_backoff_restart_delay would delay every
    // restart, however healthy the clock was before it.
    autorestart: true,
    restart_delay: 0,
    // PM2's own guard for a clock that cannot even load: 10 starts that each die within 1 s -> errored.
    min_uptime: 1000,
    max_restarts: 10,
    // Exit 78 is a bad setting (one line in the error log names it): restarting cannot fix it.
    stop_exit_codes: [78],
    out_file: join(logDir, 'clock.out.log'),
    error_file: join(logDir, 'clock.err.log'),
    // One log for the clock, however many instances: a standby's lines join the active's.
    merge_logs: true,
  },
  {
    // The watchdog: heals what PM2 cannot see (a hung clock, a ghost pid, an errored app, a clock
    // that PM2 does not own). It never changes PM2's settings or touches other apps.
    name: 'probe',
    script: join(root, 'dist/probe/main.js'),
    cwd: root,
    exec_mode: 'fork',
    instances: 1,
    env: probeEnv,
    // Without PM2's metrics module (pm2-io-bpm), as the clock: loaded into the probe it kept timers of
    // its own (event-loop histograms) for metrics nobody reads: the probe with the clock alone used
    // 0.47 % of a core with it, 0.37 % without. Its own metrics reach pm2 monit all the same (pm2-ipc.ts).
    pmx: false,
    kill_timeout: 3000,
    // Restart at once. A probe the clock ended as hung (apps/clock/probe-watch.ts) must be back within
    // PROBE_HANG_MS + 2 s however often it hangs: PM2's exp_backoff_restart_delay grows by half at
    // every restart (100 ms … 15 s) and is reset only after 30 s up, so the 8th hang in a row came
    // back 3.1 s after PROBE_HANG_MS=1000, the 9th 3.9 s (scripts/bench/probe-hang.ts).
    autorestart: true,
    restart_delay: 0,
    // PM2's own guard for a probe that cannot even load, as for the clock: 10 starts that each die
    // within 1 s -> errored (nothing restarts an errored probe; npm run status shows it).
    min_uptime: 1000,
    max_restarts: 10,
    // 78: a bad setting; 69: no way to read the process table here (exit-codes.ts). Restarting fixes neither.
    stop_exit_codes: [78, 69],
    out_file: join(logDir, 'probe.out.log'),
    error_file: join(logDir, 'probe.err.log'),
    merge_logs: true,
  },
];
