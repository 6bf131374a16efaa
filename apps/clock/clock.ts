import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Guard } from '../guard/guard.ts';
import { LatestWriter, removeLeftoverTempFiles, writeFileDurably } from '../shared/atomic-write.ts';
import type { ClockConfig } from '../shared/config.ts';
import { HEARTBEAT_PERIOD_MS, type Heartbeat } from '../shared/heartbeat.ts';
import { publishMetrics, registerAction, type Metric } from '../shared/pm2-ipc.ts';
import { readProcStat } from '../shared/proc-stat.ts';
import { statePaths, waitForStateDir } from '../shared/state-dir.ts';
import { formatTickLine } from '../shared/tick-line.ts';
import { damageLine, loadCheckpoint, peekCheckpoint, serializeCheckpoint, type LoadedCheckpoint } from './checkpoint.ts';
import { Holds } from './holds.ts';
import { log, warn } from './log.ts';
import { LogWatch, sinceMs, type Printed } from './log-watch.ts';
import type { FromWorker, ToWorker, WorkerFault } from './messages.ts';
import { Progress } from './progress.ts';
import { backoffDelayMs, failuresSoFar, HEALTHY_AFTER_MS, peekStartRecord, readStartRecord, writeStartRecord } from './start-backoff.ts';
import { acquireStateLock, type StateLock } from './state-lock.ts';
import type { Supervisor } from './supervisor.ts';
import { ClusterMode } from './cluster-mode.ts';
import { Exclusive, Standby, type WaitingMode } from './waiting-modes.ts';
import type { Checkpoint } from './checkpoint.ts';

/**
 * The clock proper, on the main thread: it owns the state (lock, checkpoint) and does all the I/O,
 * while the supervised worker threads only keep time. Its heartbeat is the guard contract's, written
 * by apps/guard's Guard like any guarded app's: the clock tells it when it is ready, when it made
 * progress and by when it owes the next (from its threads' schedule), and what holds it back; the
 * rest of the heartbeat (threads, run, phase) is the clock's own description, for people and status.
 */
// Ticks printed this recently before stdout broke may never have been read from the pipe by PM2.
const OUTPUT_LOSS_WINDOW_MS = 1_000;
// PM2 writes a line to its log within milliseconds: one it has not written after this long, while the
// log has not grown at all meanwhile, is not coming (its log stream died) or is held up (its daemon is
// stopped). A log that grows, however slowly, is a daemon behind on a loaded machine, and is waited for.
const LOG_GRACE_MS = 3_000;
// While held, a checkpoint that could not be saved is tried this often: the ticks go on within this
// of the disk coming back.
const STATE_RETRY_MS = 500;
// While the log takes nothing, one line is tried this often unless someone says the log was reopened
// (the probe does, through `pm2 trigger clock log reopened`, right after it asks PM2 to reopen it).
const LOG_RETRY_MS = 5_000;

export class Clock {
  private readonly names: string[];
  private readonly paths: ReturnType<typeof statePaths>;
  private readonly checkpoint: LatestWriter;
  /** Writes the heartbeat from the moment this clock owns the state (a standby waiting writes none). */
  private guard: Guard | undefined;
  private progress: Progress | undefined;
  private lock: StateLock | undefined;
  private beating: NodeJS.Timeout | undefined;
  private readyAt: number | null = null;
  /** How late each thread's last tick fired (the worker measures it on the monotonic clock). */
  private readonly lateMs: number[] = [];
  private healthy: Promise<void> | undefined;
  /** The "not healthy yet" start record, in flight: a stop's own record must land after it. */
  private recorded: Promise<void> | undefined;
  private stopping = false;
  private outputGone = false;
  /**
   * Per thread, when (monotonic ms) it last showed progress: its last tick, or the moment it began to
   * owe one (ticking started, a run began). The heartbeat carries how long ago that was, so that a
   * watchdog judges ticks, not only the pulse: a clock can beat on and tick no more.
   */
  private readonly progressedAt: number[] = [];
  /** Faults of the machine that hold the ticks back: a checkpoint that cannot be saved, a log that takes nothing. */
  private readonly holds = new Holds({
    held: (on, why) => {
      this.guard?.hold(on, why);
      warn(on === 'state' ? this.stateHeldLine(why) : this.logHeldLine(why));
    },
    released: (on, _why, forMs, detail) => {
      this.guard?.release(on);
      warn(`${on === 'state' ? 'the checkpoint can be saved again' : `the log ${this.logWatch?.path ?? ''} takes lines again`} after ${(forMs / 1000).toFixed(1)} s; ticking on${detail}`);
    },
  });
  private stateTriedAt = -Infinity;
  /** PM2's out log, read back: a tick counts as printed once the log holds it (log-watch.ts). */
  private logWatch: LogWatch | undefined;
  private lookingAtLog = false;
  /** Ticks printed that the log never took, taken back to be printed again; they may still land, late. */
  private takenBack: Printed[] = [];
  private logTriedAt = -Infinity;
  private logRetryWanted = false;
  private logRetried = false;
  /** The progress as of the last line printed: the state before the next one. */
  private lastPrinted: Checkpoint | undefined;
  /** `pm2 trigger clock fault stall` (CLOCK_FAULTS=1): the main thread drops every tick, heartbeat and all else going on. */
  private droppingTicks = false;
  /** Cluster mode (CLOCK_ETCD): the election, and the fenced checkpoint in etcd. */
  private readonly cluster: ClusterMode | undefined;
  /** How it waits while another clock owns the state: hot standby (CLOCK_STANDBY) or not. */
  private readonly waitingMode: WaitingMode;

  constructor(
    private readonly config: ClockConfig,
    private readonly supervisor: Supervisor,
    private readonly startedAt: number,
    /** Ends the process with `code` (main.ts): this clock cannot go on, but a new one can. */
    private readonly leave: (code: 'deposed') => void = () => {},
  ) {
    this.names = config.intervalsMs.map((_, index) => `thread-${index + 1}`);
    this.paths = statePaths(config.stateDir);
    this.cluster = config.cluster && this.clusterMode(config.cluster);
    this.waitingMode = config.standby
      ? new Standby({ startWorkers: () => this.supervisor.ready(), rehearse: () => this.rehearseTakeover(), warm: () => void this.cluster?.warm() })
      : new Exclusive(config.stateDir);
    this.checkpoint = new LatestWriter(
      async (data) => {
        await writeFileDurably(this.paths.checkpoint, data);
        if (this.holds.isHeld('state') && this.holds.release('state')) this.tickOn();
      },
      // A tick printed is a tick saved: until this one is, no more are printed.
      (error) => this.holds.hold('state', faultOf(error)),
    );
  }

  /** Takes the state, resumes the progress, sets the workers ticking, and tells PM2 it is ready. */
  async start(): Promise<void> {
    const { config, paths } = this;
    // A read-only or full disk is waited out here, not reported as a bad setting (exit 78 is for good).
    if (!(await waitForStateDir(config.stateDir, warn, () => this.stopping))) return;
    await this.waitingMode.prepare();
    let waitingSince: number | undefined;
    this.lock = await acquireStateLock(config.stateDir, { pid: process.pid, startedAt: this.startedAt }, (owner) => {
      this.waitingMode.waiting(owner ? `clock pid ${owner.pid}` : 'a clock that does not answer (stopped?)', waitingSince === undefined);
      waitingSince ??= performance.now();
    }, this.waitingMode.bell);
    if (this.stopping) return;
    const takeover = this.lock.tookOverFrom;
    this.waitingMode.locked(takeover);
    // From here to ticking, everything is synchronous unless a file is damaged, and nothing is done
    // that can wait until after: a standby taking over counts every millisecond (and every system
    // call: a few each cost ~0.1 ms on this project's virtual machines).
    const loaded = await loadCheckpoint(paths.checkpoint);
    this.beating = setInterval(() => this.beat(), HEARTBEAT_PERIOD_MS);

    // A standby that has waited, healthy, for a second is not the one crash-looping: it takes over at
    // once, and reads the start record (for what it writes back) once ticking.
    const provenStandby = waitingSince !== undefined && performance.now() - waitingSince > HEALTHY_AFTER_MS;
    let failures = provenStandby ? undefined : failuresSoFar(await readStartRecord(paths.starts));
    const delayMs = failures === undefined ? 0 : backoffDelayMs(failures);
    if (failures !== undefined && delayMs > 0) {
      this.startBeating();
      this.recorded = writeStartRecord(paths.starts, { healthy: false, failures, at: Date.now() });
      warn(`the last ${failures} start(s) died before becoming healthy; waiting ${delayMs / 1000} s before starting (crash-loop back-off)`);
      await sleep(delayMs);
    }
    // A follower beats; a stop while following closes the campaign: that is no failure to start.
    if (this.cluster) this.startBeating();
    const fromCluster = await this.cluster?.lead().catch((error: unknown) => (this.stopping ? undefined : Promise.reject(error)));
    if (this.stopping || this.cluster?.left) return;
    const resumed = this.resume(fromCluster ? { kind: 'loaded', checkpoint: fromCluster } : loaded);
    this.progress = resumed.progress;
    if (this.cluster && !(await this.cluster.confirmStart(this.progress.toCheckpoint(), fromCluster))) return;

    await this.supervisor.ready();
    if (this.stopping) return;
    this.names.forEach((_, index) => this.supervisor.assign(index));
    this.readyAt = Date.now();
    const tickingAt = performance.now();
    this.names.forEach((_, index) => (this.progressedAt[index] = tickingAt));
    // Written and logged once the threads have their segments, not before: the first tick is a whole
    // interval away, and a standby taking over is judged on the time to this point. A clock killed
    // before these land is taken for one that died starting (start-backoff.ts), and resumes as it would.
    // Holding the lock, this clock is the only writer: what a killed writer left half-done can go.
    removeLeftoverTempFiles(config.stateDir);
    failures ??= failuresSoFar(await readStartRecord(paths.starts));
    this.recorded ??= writeStartRecord(paths.starts, { healthy: false, failures, at: Date.now() });
    this.lastPrinted = this.progress.toCheckpoint();
    this.checkpoint.set(serializeCheckpoint(this.lastPrinted));
    resumed.report();
    this.waitingMode.ticking(takeover, tickingAt, this.lock);
    this.lock.removeDeadBells();
    this.startBeating();
    if (config.faults) this.registerFaultAction();
    this.registerLogAction();
    this.oweTicks(false);
    // The ticking beat is written before PM2 hears ready (Guard.ready()), so that a clock PM2 counts
    // online shows the probe it ticks; in cluster mode ready was said already, when it began to follow.
    await this.guard?.ready();
    // Off the way to ticking: one stat of the log. Cluster mode leaves it out: its checkpoint is
    // fenced in etcd, where ticks cannot be taken back.
    if (!this.cluster) void LogWatch.forPm2Log(process.env, this.names).then((watch) => (this.logWatch = watch), () => {});
    // The "not healthy yet" record lands a moment after ready, rather than holding ready back.
    this.healthy = Promise.all([this.recorded, sleep(HEALTHY_AFTER_MS)]).then(() =>
      this.stopping ? undefined : writeStartRecord(paths.starts, { healthy: true, failures: 0, at: Date.now() }),
    );
  }

  /** The segment thread `index` ticks now; undefined before the progress is known or once the thread is done. */
  segmentFor(index: number): Extract<ToWorker, { type: 'run' }> | undefined {
    return this.progress && this.segmentOf(this.progress, index);
  }

  private segmentOf(progress: Progress, index: number): Extract<ToWorker, { type: 'run' }> | undefined {
    if (progress.isThreadDone(index)) return undefined;
    const intervalMs = this.config.intervalsMs[index] ?? 0;
    const firstTick = (progress.threads[index]?.tick ?? 0) + 1;
    const firstDueAt = progress.nextDueAt(index, intervalMs, Date.now());
    return { type: 'run', run: progress.run, firstTick, lastTick: this.config.ticksPerRun, firstDueAt, intervalMs };
  }

  /**
   * The heartbeat begins: 'starting' through a crash-loop back-off or a campaign (a silent clock is
   * a hung one), otherwise once ticking. Never on the way from the lock to ticking: a standby's
   * takeover is timed in milliseconds, and the guard's first beat (its code run for the first time, a
   * write begun, PM2 told) cost it ~2 ms there (the clock's own takeover time, median of 10: 4.2 ms
   * with it on the way, 2.1 ms without).
   */
  private startBeating(): void {
    this.guard ??= new Guard(this.paths.heartbeat, { periodMs: HEARTBEAT_PERIOD_MS, say: warn, describe: () => this.describe() });
  }

  /** The cluster part, told what following and losing the leadership mean for this clock. */
  private clusterMode(config: NonNullable<ClockConfig['cluster']>): ClusterMode {
    return new ClusterMode(config, this.paths.clusterLease, {
      following: () => {
        // A follower owes no tick: it is ready as a follower can be, and never stalled. Its guard
        // beats already (start() begins beating before the campaign), and says ready to PM2 too.
        this.oweTicks(false);
        void this.guard?.ready();
        publishMetrics({ role: { value: 'follower' } });
      },
      deposed: (line) => {
        this.droppingTicks = true;
        warn(line);
        this.leave('deposed');
      },
      retry: (index) => setTimeout(() => this.supervisor.assign(index), 100).unref(),
      stopping: () => this.stopping,
    });
  }

  /**
   * A standby runs its takeover's code once while it waits, reading and computing but writing,
   * moving and logging nothing: V8 compiles each function the first time it runs, and compiling
   * them in the takeover cost ~0.4 ms of it (its close-to-ticking median: 2.0 ms without, 1.6 with).
   */
  private rehearseTakeover(): void {
    const { paths, config, names } = this;
    try {
      backoffDelayMs(failuresSoFar(peekStartRecord(paths.starts)));
      const progress = Progress.resume(peekCheckpoint(paths.checkpoint), names, config.ticksPerRun);
      progress.rollOverIfComplete(Date.now());
      names.forEach((_, index) => this.segmentOf(progress, index));
      serializeCheckpoint(progress.toCheckpoint());
      formatTickLine(names[0] ?? '', progress.run, 1, config.ticksPerRun, Date.now());
    } catch {
      // Nothing to rehearse with yet (no checkpoint, or a damaged one): the takeover copes as it is.
    }
  }

  /**
   * Prints a tick, then checkpoints it once the line is out: a crash in between repeats that tick
   * once, never skips it. The checkpoint is the state as of this line, so a later line that fails
   * is never saved as printed.
   */
  onTick(index: number, { run, tick, at, lateMs }: Extract<FromWorker, { type: 'tick' }>): void {
    // A tick from a worker being replaced, or one already counted, is not printed twice; a held
    // clock prints none (its worker is handed the tick again once the hold ends).
    if (this.stopping || this.droppingTicks || !this.progress || this.holds.isHeld()) return;
    if (this.cluster && !this.cluster.mayPrint(index, run, tick, () => this.progress?.toCheckpoint())) return;
    this.print(index, run, tick, at, lateMs);
  }

  private print(index: number, run: number, tick: number, at: number, lateMs: number, prefix = ''): void {
    const { progress } = this;
    if (!progress?.record(index, run, tick, at)) return;
    this.lateMs[index] = Math.round(lateMs * 100) / 100;
    this.progressedAt[index] = performance.now();
    if (progress.isRunComplete()) {
      progress.startNextRun(Date.now());
      this.names.forEach((_, thread) => {
        this.progressedAt[thread] = performance.now();
        this.supervisor.assign(thread);
      });
    }
    this.oweTicks(true);
    const after = progress.toCheckpoint();
    const before = this.lastPrinted ?? after;
    this.lastPrinted = after;
    this.logWatch?.printed({ index, run, tick, before, after, printedAt: performance.now() });
    const snapshot = serializeCheckpoint(after);
    const line = formatTickLine(this.names[index] ?? '', run, tick, this.config.ticksPerRun, at);
    const completed = progress.run !== run ? `clock: run ${run} complete; starting run ${progress.run}\n` : '';
    process.stdout.write(`${prefix}${line}\n${completed}`, (error) => {
      if (error || this.outputGone) return;
      this.checkpoint.set(snapshot);
      this.cluster?.saved(snapshot);
    });
  }

  /** Every heartbeat period: the pulse, the metrics, and the faults of the machine that hold the ticks. */
  private beat(): void {
    this.publishMetrics();
    if (!this.progress || this.readyAt === null || this.stopping) return;
    const now = performance.now();
    if (this.holds.isHeld('state') && now - this.stateTriedAt >= STATE_RETRY_MS) {
      this.stateTriedAt = now;
      this.checkpoint.set(serializeCheckpoint(this.progress.toCheckpoint()));
    }
    // Only while a printed tick is still to be found there, or while held for it: an idle clock reads nothing.
    if (!this.lookingAtLog && this.logWatch && (this.logWatch.oldestMissing() || this.holds.isHeld('log'))) {
      this.lookingAtLog = true;
      void this.watchLog(this.logWatch).finally(() => (this.lookingAtLog = false));
    }
  }

  /** The ticks go on after a hold: every thread is handed its next tick, due at once if its moment has passed. */
  private tickOn(): void {
    if (this.stopping || this.holds.isHeld() || !this.progress) return;
    const now = performance.now();
    this.names.forEach((_, index) => {
      this.progressedAt[index] = now;
      this.supervisor.assign(index);
    });
    this.oweTicks(false);
  }

  private stateHeldLine(why: string): string {
    return `cannot save the checkpoint in ${this.config.stateDir} (${why}); holding the ticks until it can be saved, trying every ${STATE_RETRY_MS / 1000} s (a tick printed is a tick saved)`;
  }

  private logHeldLine(why: string): string {
    return `${why}: PM2's log stream dies on a full or read-only disk; holding the ticks, to print again what never reached the log once it takes lines (the probe asks PM2 to reopen its logs; by hand: pm2 reloadLogs)`;
  }

  /**
   * Reads back what PM2's log took (log-watch.ts). Ticks it has not taken after LOG_GRACE_MS are
   * taken back (the progress and checkpoint go back to before the first of them) and the clock holds:
   * they are printed again once the log takes lines. Ones that land late after all (PM2's daemon was
   * stopped, not its stream dead) are counted as printed again, so that nothing is printed twice.
   */
  private async watchLog(watch: LogWatch): Promise<void> {
    const late = await watch.look(this.takenBack).catch(() => undefined);
    const { progress } = this;
    if (!progress || this.stopping) return;
    if (late) {
      progress.rewindTo(late.after);
      this.lastPrinted = late.after;
      this.checkpoint.set(serializeCheckpoint(late.after));
    }
    const missing = watch.oldestMissing();
    if (!this.holds.isHeld('log')) {
      if (!missing || sinceMs(missing) <= LOG_GRACE_MS || performance.now() - watch.grewAt <= LOG_GRACE_MS) return;
      this.takenBack = watch.takeBack();
      const first = this.takenBack[0] as Printed;
      progress.rewindTo(first.before);
      this.lastPrinted = first.before;
      this.checkpoint.set(serializeCheckpoint(first.before));
      this.logRetried = false;
      this.logTriedAt = performance.now();
      this.holds.hold('log', `the log ${watch.path} has taken none of the last ${this.takenBack.length} tick(s) printed, the first ${(sinceMs(first) / 1000).toFixed(1)} s ago`);
      return;
    }
    // Everything printed is in the log: all that was taken back landed late, or a line tried since did.
    if (!missing && (this.takenBack.length === 0 || this.logRetried)) {
      const again = this.logRetried ? `, printing again the ${this.takenBack.length} tick(s) it never took` : ' (the ticks held up reached it late)';
      this.takenBack = [];
      if (this.holds.release('log', again)) this.tickOn();
      return;
    }
    if (missing && sinceMs(missing) <= LOG_GRACE_MS) return;
    if (this.holds.isHeld('state')) return;
    const now = performance.now();
    if (this.logRetryWanted || (now - this.logTriedAt >= LOG_RETRY_MS && !daemonStopped())) {
      this.logRetryWanted = false;
      this.logTriedAt = now;
      this.retryLog(watch);
    }
  }

  /**
   * One tick printed while the log takes nothing, to see whether it takes it: the first one it never
   * took. A tick that did not land is taken back again, so trying costs no tick; a line cut short by
   * the full disk is ended first, so that this one is not glued to it.
   */
  private retryLog(watch: LogWatch): void {
    const { progress } = this;
    if (!progress) return;
    const stale = watch.takeBack();
    if (stale[0]) {
      progress.rewindTo(stale[0].before);
      this.lastPrinted = stale[0].before;
    }
    const index = this.takenBack[0]?.index ?? progress.threads.findIndex((_, thread) => !progress.isThreadDone(thread));
    const thread = progress.threads[index];
    if (!thread) return;
    this.logRetried = true;
    this.print(index, progress.run, thread.tick + 1, Date.now(), 0, watch.endsMidLine ? '\n' : '');
  }

  /** `pm2 trigger clock log reopened`: the log was reopened (the probe says so right after asking PM2); a line is tried at once. */
  private registerLogAction(): void {
    registerAction('log', (param) => {
      if (param !== 'reopened') return { error: `expected "reopened", got "${param ?? ''}"` };
      this.logRetryWanted = this.holds.isHeld('log');
      return { held: this.logRetryWanted };
    });
  }

  /**
   * stdout is gone (the PM2 daemon that reads it died): the last ticks may sit unread in the dead
   * pipe, so they are taken back in the checkpoint, to be printed again by the next clock.
   */
  outputLost(): void {
    if (this.outputGone || !this.progress) return;
    this.outputGone = true;
    this.progress.rollBackSince(Date.now() - OUTPUT_LOSS_WINDOW_MS, this.config.intervalsMs);
    this.checkpoint.set(serializeCheckpoint(this.progress.toCheckpoint()));
  }

  /**
   * Saves what was printed and lets the next clock in. `noFault`: a stop on request, or for a cause
   * outside the clock (its PM2 daemon died), not a crash of its own.
   */
  async stop(noFault: boolean): Promise<void> {
    this.stopping = true;
    clearInterval(this.beating);
    await this.checkpoint.flush();
    await this.cluster?.close();
    // Not a crash: the next start is not held back (start-backoff.ts). Once stopping, the pending
    // "healthy" record is not written; the "not healthy yet" one may still be landing.
    if (noFault && this.progress) {
      await this.recorded;
      await writeStartRecord(this.paths.starts, { healthy: true, failures: 0, at: Date.now() });
    }
    await this.lock?.release();
    // Its last beat stays, for npm run status to show where a stopped clock was (PM2 says it is stopped).
    await this.guard?.stopping({ keep: true });
  }

  /** The progress to carry on from, and the line that tells where it came from (logged once ticking). */
  private resume(loaded: LoadedCheckpoint): { progress: Progress; report: () => void } {
    const { config, names } = this;
    if (loaded.kind === 'loaded') {
      const { checkpoint } = loaded;
      const progress = Progress.resume(checkpoint, names, config.ticksPerRun);
      // What the checkpoint said, before CLOCK_TICKS could clamp it: a lowered setting shows as such.
      const saved = names.map((name, index) => `${name} at tick ${checkpoint.threads[index]?.tick ?? 0}/${config.ticksPerRun}`).join(', ');
      // No tick number is skipped by this: every thread had printed the run's last one.
      if (progress.rollOverIfComplete(Date.now())) {
        return { progress, report: () => log(`resumed run ${checkpoint.run} from the checkpoint: ${saved}; that run is complete, starting run ${progress.run}`) };
      }
      return { progress, report: () => log(`resumed run ${progress.run} from the checkpoint: ${saved}`) };
    }
    const progress = Progress.fresh(names, config.ticksPerRun, Date.now());
    if (loaded.kind === 'damaged') {
      const why = damageLine(loaded);
      return { progress, report: () => warn(why) };
    }
    return { progress, report: () => log(`no checkpoint in ${config.stateDir}; starting run 1`) };
  }

  /**
   * Tells the guard by when the clock owes its next tick (owedInMs below), and, with `progressed`,
   * that it made progress now. Called whenever a thread's moment moves: a tick printed, ticking
   * begun or resumed after a hold; a clock not ticking (starting, following) owes nothing.
   */
  private oweTicks(progressed: boolean): void {
    const { guard, progress } = this;
    if (!guard) return;
    if (!progress || this.readyAt === null || this.cluster?.following) {
      guard.idle();
      return;
    }
    if (progressed) guard.progress();
    guard.owe(this.owedInMs(progress, performance.now()));
  }

  /** The clock's own part of its heartbeat (the guard writes the contract's fields over it). */
  private describe(): Omit<Heartbeat, 'guard' | 'seq' | 'ready' | 'owedInMs' | 'held'> {
    const { progress, readyAt } = this;
    const ticking = readyAt !== null && progress !== undefined;
    const now = performance.now();
    return {
      pid: process.pid,
      startTicks,
      phase: this.cluster?.following ? 'following' : ticking ? 'ticking' : 'starting',
      startedAt: this.startedAt,
      readyAt,
      writtenAt: Date.now(),
      monotonicMs: now,
      run: ticking ? progress.run : null,
      ticksPerRun: this.config.ticksPerRun,
      threads: ticking
        ? progress.threads.map((thread, index) => ({
            ...thread,
            lateMs: this.lateMs[index] ?? 0,
            intervalMs: this.config.intervalsMs[index] ?? 0,
            quietMs: Math.round(now - (this.progressedAt[index] ?? now)),
          }))
        : [],
      waiters: this.lock?.waiting() ?? 0,
      ...(this.cluster ? { cluster: this.cluster.pulse() } : {}),
    };
  }

  /**
   * The guard contract's owed moment, from the threads' own: a thread owes its next tick one interval
   * after it last progressed, and one tick late is lateness, not a stall, so the clock owes progress
   * within two intervals of its last; once every thread is done with the run, the next run is owed
   * within one. The probe's stall limit (GUARD_STALL_MS) comes on top.
   */
  private owedInMs(progress: Progress, now: number): number {
    const runDone = progress.isRunComplete();
    let owed = Infinity;
    this.config.intervalsMs.forEach((intervalMs, index) => {
      if (!runDone && progress.isThreadDone(index)) return;
      const quietMs = now - (this.progressedAt[index] ?? now);
      owed = Math.min(owed, (runDone ? intervalMs : 2 * intervalMs) - quietMs);
    });
    return Number.isFinite(owed) ? Math.round(owed) : 0;
  }

  private lastMetrics = '';
  /**
   * What `pm2 monit` shows of the clock, sent only when it changes. Where the pulse is and what holds
   * the ticks back (and the pulse itself, while the heartbeat file cannot be written) the guard sends.
   */
  private publishMetrics(): void {
    const { progress } = this;
    if (!progress || this.readyAt === null) return;
    const metrics: Record<string, Metric> = { run: { value: progress.run } };
    for (const thread of progress.threads) metrics[`${thread.name} tick`] = { value: thread.tick };
    metrics['worker restarts'] = { value: this.supervisor.restartCount };
    metrics['resumes from checkpoint'] = { value: progress.resumes };
    Object.assign(metrics, this.waitingMode.metrics());
    this.publishIfChanged(metrics);
  }

  private publishIfChanged(metrics: Record<string, Metric>): void {
    const text = JSON.stringify(metrics);
    if (text === this.lastMetrics) return;
    this.lastMetrics = text;
    publishMetrics(metrics);
  }

  /**
   * `pm2 trigger clock fault "crash thread-2"` (or "hang thread-N", "stall" or "freeze"): only with
   * CLOCK_FAULTS=1, for tests and `npm run chaos`.
   */
  private registerFaultAction(): void {
    registerAction('fault', (param) => {
      const [kind = 'crash', thread = 'thread-1'] = (param ?? '').split(/\s+/).filter(Boolean);
      if (kind === 'stall') {
        // The silent clock of a stalled state: alive, beating, PM2 online, and no tick ever printed.
        warn('injecting a stall (CLOCK_FAULTS=1): the main thread keeps its heartbeat and drops every tick');
        this.droppingTicks = true;
        return { injected: kind };
      }
      if (kind === 'freeze') {
        // A hung clock without SIGSTOP (which Windows has not): the main thread blocks for good, so
        // nothing is printed, checkpointed or beaten; the workers tick on into a queue nobody reads.
        warn('injecting a freeze (CLOCK_FAULTS=1): the main thread blocks for good, heartbeat and all');
        // It freezes once the reply to `pm2 trigger` is out (afterReply, below): a frozen clock sends nothing more.
        return { injected: kind };
      }
      const index = this.names.indexOf(thread);
      if ((kind !== 'crash' && kind !== 'hang') || index < 0) {
        return { error: `expected "crash|hang thread-N" with N from 1 to ${this.names.length}, "stall" or "freeze", got "${param ?? ''}"` };
      }
      warn(`injecting a ${kind} into ${thread} (CLOCK_FAULTS=1)`);
      this.supervisor.injectFault(index, kind as WorkerFault);
      return { injected: kind, thread };
    }, (reply) => {
      // Once the warning is written, and a turn of the loop after the reply: on Windows, a pipe write may still be in flight.
      if ((reply as { injected?: string }).injected === 'freeze') process.stderr.write('', () => setImmediate(freezeForGood));
    });
  }
}

/** A write's error in a few words: its code where it has one (ENOSPC, EROFS, EIO…). */
function faultOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/**
 * Whether this clock's PM2 daemon (its parent) is stopped (SIGSTOP): then its log takes nothing
 * for now, and a line tried would only land later beside the ones it holds. Linux only; elsewhere
 * no daemon is taken for stopped.
 */
function daemonStopped(): boolean {
  const state = readProcStat(process.ppid)?.state;
  return state === 'T' || state === 't';
}

/** Blocks the calling thread until the process dies: a wait on memory that nothing will ever change. */
function freezeForGood(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

// Linux's /proc start time; null elsewhere (no /proc), which the heartbeat's readers accept.
const startTicks = readProcStat(process.pid)?.startTicks ?? null;
