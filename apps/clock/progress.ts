import { CHECKPOINT_VERSION, type Checkpoint, type ThreadProgress } from './checkpoint.ts';
import { resumeDueAt } from './schedule.ts';

/** The clock's progress in memory: what the checkpoint saves and what a restart resumes from. */
export class Progress {
  /** The run just completed, kept so that its last ticks can be taken back (rollBackSince). */
  private finishedRun: { run: number; runStartedAt: number; threads: ThreadProgress[] } | undefined;

  private constructor(
    public run: number,
    public runStartedAt: number,
    readonly threads: ThreadProgress[],
    readonly ticksPerRun: number,
    /** Resumes from a checkpoint so far, this one included. */
    readonly resumes = 0,
  ) {}

  static fresh(names: string[], ticksPerRun: number, nowMs: number): Progress {
    return new Progress(1, nowMs, names.map((name) => ({ name, tick: 0, at: null })), ticksPerRun);
  }

  /**
   * Resumes from a checkpoint, thread by thread in order. A thread the checkpoint lacks (CLOCK_INTERVALS
   * grew) starts the run at tick 0; one past CLOCK_TICKS (it shrank) counts as done with this run.
   */
  static resume(checkpoint: Checkpoint, names: string[], ticksPerRun: number): Progress {
    const threads = names.map((name, index) => {
      const saved = checkpoint.threads[index];
      return saved ? { name, tick: Math.min(saved.tick, ticksPerRun), at: saved.at } : { name, tick: 0, at: null };
    });
    return new Progress(checkpoint.run, checkpoint.runStartedAt, threads, ticksPerRun, (checkpoint.resumes ?? 0) + 1);
  }

  /** Records thread `index`'s tick; false (and nothing changes) unless it is the one that comes next. */
  record(index: number, run: number, tick: number, atMs: number): boolean {
    const thread = this.threads[index];
    if (!thread || run !== this.run || tick !== thread.tick + 1 || tick > this.ticksPerRun) return false;
    thread.tick = tick;
    thread.at = atMs;
    return true;
  }

  isThreadDone(index: number): boolean {
    return (this.threads[index]?.tick ?? 0) >= this.ticksPerRun;
  }

  isRunComplete(): boolean {
    return this.threads.every((_, index) => this.isThreadDone(index));
  }

  /**
   * Starts the next run if every thread has finished this one; true if it did. A resumed checkpoint
   * can say so (CLOCK_TICKS lowered, or a kill between a run's last tick and its rollover), and then
   * no worker owes a tick: without this the clock would beat on forever and never tick again.
   */
  rollOverIfComplete(nowMs: number): boolean {
    if (!this.isRunComplete()) return false;
    this.startNextRun(nowMs);
    return true;
  }

  startNextRun(nowMs: number): void {
    this.finishedRun = { run: this.run, runStartedAt: this.runStartedAt, threads: this.threads.map((t) => ({ ...t })) };
    this.run += 1;
    this.runStartedAt = nowMs;
    for (const thread of this.threads) {
      thread.tick = 0;
      thread.at = null;
    }
  }

  /**
   * Takes back every tick recorded at or after `sinceMs`: ticks that were printed but may never have
   * reached the log. Saved that way, they are printed again (a repeat) rather than lost.
   */
  rollBackSince(sinceMs: number, intervalsMs: number[]): void {
    if (this.runStartedAt >= sinceMs && this.finishedRun) {
      this.run = this.finishedRun.run;
      this.runStartedAt = this.finishedRun.runStartedAt;
      this.finishedRun.threads.forEach((thread, index) => Object.assign(this.threads[index] ?? {}, thread));
      this.finishedRun = undefined;
    }
    this.threads.forEach((thread, index) => {
      if (thread.at === null || thread.at < sinceMs) return;
      // Only the last tick's time is kept; the ones before it were one interval apart.
      const intervalMs = Math.max(1, intervalsMs[index] ?? 1);
      const taken = Math.min(thread.tick, Math.floor((thread.at - sinceMs) / intervalMs) + 1);
      thread.tick -= taken;
      thread.at = thread.tick === 0 ? null : thread.at - taken * intervalMs;
    });
  }

  /**
   * Goes back (or forward) to `checkpoint`, a state this very progress was in: ticks printed after it
   * that never reached the log are printed again. The count of resumes stays: nothing restarted.
   */
  rewindTo(checkpoint: Checkpoint): void {
    this.run = checkpoint.run;
    this.runStartedAt = checkpoint.runStartedAt;
    checkpoint.threads.forEach((thread, index) => Object.assign(this.threads[index] ?? {}, thread));
    this.finishedRun = undefined;
  }

  /** Wall-clock ms when thread `index`'s next tick is due: one interval after its last one, or the run's start. */
  nextDueAt(index: number, intervalMs: number, nowMs: number): number {
    const thread = this.threads[index];
    return resumeDueAt(thread?.at ?? this.runStartedAt, intervalMs, nowMs);
  }

  toCheckpoint(): Checkpoint {
    return {
      version: CHECKPOINT_VERSION,
      run: this.run,
      runStartedAt: this.runStartedAt,
      threads: this.threads.map((thread) => ({ ...thread })),
      resumes: this.resumes,
    };
  }
}
