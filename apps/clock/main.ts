import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LatestWriter, writeFileDurably, writeFileWhole } from '../shared/atomic-write.ts';
import { ConfigError, readClockConfig, type ClockConfig } from '../shared/config.ts';
import { EXIT, type ExitCode } from '../shared/exit-codes.ts';
import { HEARTBEAT_PERIOD_MS, serializeHeartbeat, type Heartbeat } from '../shared/heartbeat.ts';
import { registerAction, signalReady } from '../shared/pm2-ipc.ts';
import { readProcStat } from '../shared/proc-stat.ts';
import { prepareStateDir, statePaths } from '../shared/state-dir.ts';
import { formatTickLine } from '../shared/tick-line.ts';
import { loadCheckpoint, serializeCheckpoint } from './checkpoint.ts';
import type { WorkerFault } from './messages.ts';
import { Progress } from './progress.ts';
import { acquireStateLock, type StateLock } from './state-lock.ts';
import {
  backoffDelayMs,
  failuresSoFar,
  HEALTHY_AFTER_MS,
  readStartRecord,
  writeStartRecord,
} from './start-backoff.ts';
import { Supervisor } from './supervisor.ts';

/**
 * The clock's main thread: it takes the state lock, resumes from the checkpoint, runs one worker
 * thread per interval under a supervisor, and does all the I/O: a line per tick on stdout, the
 * checkpoint after each tick, the heartbeat for the probe.
 */

// Well inside PM2's kill_timeout (3 s in ecosystem.config.js): past it, the stop gives up waiting.
const STOP_DEADLINE_MS = 2_000;
const startedAt = Math.round(performance.timeOrigin);

const log = (line: string): void => void process.stdout.write(`clock: ${line}\n`);
const warn = (line: string): void => void process.stderr.write(`clock: ${line}\n`);

/** What is running so far: a stop mid-start ends only what has been started. */
const running: {
  supervisor?: Supervisor;
  lock?: StateLock;
  checkpoint?: LatestWriter;
  heartbeat?: NodeJS.Timeout;
  healthy?: Promise<void>;
  startsPath?: string;
} = {};
let stopping = false;

async function start(config: ClockConfig): Promise<void> {
  const names = config.intervalsMs.map((_, index) => `thread-${index + 1}`);
  const paths = statePaths(config.stateDir);
  let progress: Progress | undefined;

  // The workers boot while this thread takes the lock and reads the checkpoint.
  const supervisor = new Supervisor({
    names,
    intervalsMs: config.intervalsMs,
    segmentFor(index) {
      if (!progress || progress.isThreadDone(index)) return undefined;
      const intervalMs = config.intervalsMs[index] ?? 0;
      const firstTick = (progress.threads[index]?.tick ?? 0) + 1;
      const firstDueAt = progress.nextDueAt(index, intervalMs, Date.now());
      return { type: 'run', run: progress.run, firstTick, lastTick: config.ticksPerRun, firstDueAt, intervalMs };
    },
    onTick(index, { run, tick, at }) {
      // A tick from a worker being replaced, or one already counted, is not printed twice.
      if (!progress?.record(index, run, tick, at)) return;
      process.stdout.write(`${formatTickLine(names[index] ?? '', run, tick, config.ticksPerRun, at)}\n`);
      if (progress.isRunComplete()) {
        log(`run ${progress.run} complete; starting run ${progress.run + 1}`);
        progress.startNextRun(Date.now());
        names.forEach((_, thread) => supervisor.assign(thread));
      }
      checkpoint.set(serializeCheckpoint(progress.toCheckpoint()));
    },
    onEscalate(reason) {
      warn(`${reason}; exiting with code ${EXIT.escalated} so that PM2 restarts the clock`);
      void stop(EXIT.escalated);
    },
    log: warn,
  });
  running.supervisor = supervisor;

  await prepareStateDir(config.stateDir);
  let waited = false;
  running.lock = await acquireStateLock(paths.lock, { pid: process.pid, startedAt }, (owner) => {
    waited = true;
    const who = owner ? `clock pid ${owner.pid}` : 'a clock that does not answer (stopped?)';
    warn(`the state in ${config.stateDir} is owned by ${who}; waiting for it to stop before taking over`);
  });
  if (waited) log(`took over the state in ${config.stateDir}`);
  if (stopping) return;

  running.startsPath = paths.starts;
  const failures = failuresSoFar(await readStartRecord(paths.starts));
  await writeStartRecord(paths.starts, { healthy: false, failures, at: Date.now() });
  const delayMs = backoffDelayMs(failures);
  if (delayMs > 0) {
    warn(`the last ${failures} start(s) died before becoming healthy; waiting ${delayMs / 1000} s before starting (crash-loop back-off)`);
    await sleep(delayMs);
  }

  const loaded = await loadCheckpoint(paths.checkpoint);
  if (loaded.kind === 'loaded') {
    progress = Progress.resume(loaded.checkpoint, names, config.ticksPerRun);
    const at = progress.threads.map((thread) => `${thread.name} at tick ${thread.tick}/${config.ticksPerRun}`);
    log(`resumed run ${progress.run} from the checkpoint: ${at.join(', ')}`);
  } else {
    progress = Progress.fresh(names, config.ticksPerRun, Date.now());
    if (loaded.kind === 'damaged') {
      warn(`the checkpoint was damaged (${loaded.reason}); moved it aside to ${loaded.movedTo}; starting a fresh run 1`);
    } else {
      log(`no checkpoint in ${config.stateDir}; starting run 1`);
    }
  }
  const checkpoint = new LatestWriter(
    (data) => writeFileDurably(paths.checkpoint, data),
    (error) => warn(`could not write the checkpoint ${paths.checkpoint}: ${String(error)}; retrying at the next tick`),
  );
  running.checkpoint = checkpoint;
  checkpoint.set(serializeCheckpoint(progress.toCheckpoint()));

  await supervisor.ready();
  if (stopping) return;
  names.forEach((_, index) => supervisor.assign(index));

  const readyAt = Date.now();
  const beat = (): string => serializeHeartbeat(heartbeatOf(progress as Progress, readyAt));
  const heartbeat = new LatestWriter(
    (data) => writeFileWhole(paths.heartbeat, data),
    (error) => warn(`could not write the heartbeat ${paths.heartbeat}: ${String(error)}`),
  );
  await writeFileWhole(paths.heartbeat, beat());
  running.heartbeat = setInterval(() => heartbeat.set(beat()), HEARTBEAT_PERIOD_MS);
  if (config.faults) registerFaultAction(supervisor, names);
  signalReady();

  running.healthy = sleep(HEALTHY_AFTER_MS).then(() =>
    stopping ? undefined : writeStartRecord(paths.starts, { healthy: true, failures: 0, at: Date.now() }),
  );
}

const startTicks = readProcStat(process.pid)?.startTicks ?? null;

function heartbeatOf(progress: Progress, readyAt: number): Heartbeat {
  return {
    pid: process.pid,
    startTicks,
    startedAt,
    readyAt,
    writtenAt: Date.now(),
    run: progress.run,
    threads: progress.threads.map((thread) => ({ ...thread })),
  };
}

/** `pm2 trigger clock fault "crash thread-2"`: only with CLOCK_FAULTS=1, for tests and `npm run chaos`. */
function registerFaultAction(supervisor: Supervisor, names: string[]): void {
  registerAction('fault', (param) => {
    const [kind = 'crash', thread = 'thread-1'] = (param ?? '').split(/\s+/).filter(Boolean);
    const index = names.indexOf(thread);
    if ((kind !== 'crash' && kind !== 'hang') || index < 0) {
      return { error: `expected "crash|hang thread-N" with N from 1 to ${names.length}, got "${param ?? ''}"` };
    }
    warn(`injecting a ${kind} into ${thread} (CLOCK_FAULTS=1)`);
    supervisor.injectFault(index, kind as WorkerFault);
    return { injected: kind, thread };
  });
}

/** Stops the workers, saves the checkpoint, lets the next clock in, and exits with `code`. */
async function stop(code: ExitCode): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => {
    warn(`could not stop within ${STOP_DEADLINE_MS} ms; exiting anyway (the checkpoint on disk is at most one tick old)`);
    process.exit(EXIT.internal);
  }, STOP_DEADLINE_MS).unref();
  clearInterval(running.heartbeat);
  await running.supervisor?.stop();
  await running.checkpoint?.flush();
  // A stop on request is no crash: the next start is not held back.
  if (code === EXIT.ok && running.startsPath) {
    await running.healthy;
    await writeStartRecord(running.startsPath, { healthy: true, failures: 0, at: Date.now() });
  }
  await running.lock?.release();
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal} received; stopping`);
    void stop(EXIT.ok);
  });
}

try {
  await start(readClockConfig());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  warn(error.message);
  process.exit(EXIT.config);
}
