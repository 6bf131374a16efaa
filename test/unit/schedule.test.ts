import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CHECKPOINT_VERSION,
  parseCheckpoint,
  serializeCheckpoint,
  type Checkpoint,
} from '../../apps/clock/checkpoint.ts';
import { Progress } from '../../apps/clock/progress.ts';
import { TickSchedule, resumeDueAt } from '../../apps/clock/schedule.ts';

const Schedule = suite('TickSchedule');

Schedule('dueAt(k) is anchor + (k - first) × interval', () => {
  const schedule = new TickSchedule(10_000, 3, 20, 250);
  assert.is(schedule.dueAt(3), 10_000);
  assert.is(schedule.dueAt(4), 10_250);
  assert.is(schedule.dueAt(20), 10_000 + 17 * 250);
  assert.is(schedule.lastTick, 20);
  assert.is(schedule.intervalMs, 250);
});

Schedule('next() gives k + 1 up to lastTick, then undefined', () => {
  const schedule = new TickSchedule(0, 1, 5, 100);
  const fired: number[] = [];
  let tick: number | undefined = 1;
  while (tick !== undefined) {
    fired.push(tick);
    tick = schedule.next(tick, schedule.dueAt(tick));
  }
  assert.equal(fired, [1, 2, 3, 4, 5]);
  assert.is(schedule.next(5, 10_000), undefined);
  assert.is(schedule.next(9, 0), undefined);
});

Schedule('firing every tick 7 ms late never pushes the grid: lateness does not add up', () => {
  const anchor = 50_000;
  const interval = 100;
  const schedule = new TickSchedule(anchor, 1, 20, interval);
  let tick: number | undefined = 1;
  let count = 0;
  while (tick !== undefined) {
    assert.is(schedule.dueAt(tick), anchor + (tick - 1) * interval, `tick ${tick} on the anchored grid`);
    const firedAt = schedule.dueAt(tick) + 7;
    tick = schedule.next(tick, firedAt);
    count += 1;
  }
  assert.is(count, 20);
  assert.is(schedule.dueAt(20), anchor + 19 * interval, 'tick 20 is not 19 × 7 ms late');
});

Schedule('a tick fired late, but not past the next one\'s moment, keeps the grid', () => {
  const schedule = new TickSchedule(0, 1, 10, 100);
  assert.is(schedule.next(1, 100), 2, 'fired a whole interval late, exactly when tick 2 is due');
  assert.is(schedule.dueAt(2), 100);
  assert.is(schedule.dueAt(3), 200);
});

Schedule('after a stall longer than an interval it re-anchors: the next tick is due at now + interval', () => {
  const interval = 100;
  const schedule = new TickSchedule(0, 1, 20, interval);
  assert.is(schedule.next(1, 3), 2);
  assert.is(schedule.next(2, 104), 3);
  // Tick 3 was due at 200 but fires at 650, after tick 4's moment (300) went by.
  const now = 650;
  assert.is(schedule.next(3, now), 4);
  assert.is(schedule.dueAt(4), now + interval);
  assert.is(schedule.dueAt(5), now + 2 * interval, 'the ticks after it follow the new grid');
  // Once re-anchored, a little lateness again leaves the grid alone.
  assert.is(schedule.next(4, schedule.dueAt(4) + 7), 5);
  assert.is(schedule.dueAt(5), now + 2 * interval);
});

Schedule.run();

// ---

const Resume = suite('resumeDueAt');

Resume('one interval after the last tick when that is still to come', () => {
  assert.is(resumeDueAt(1_000, 2_000, 1_500), 3_000);
});

Resume('now when that moment passed while the clock was down', () => {
  assert.is(resumeDueAt(1_000, 2_000, 9_000), 9_000);
  assert.is(resumeDueAt(1_000, 2_000, 3_000), 3_000);
});

Resume('never more than one interval away: a last tick in the future (the system clock went back) waits no longer', () => {
  assert.is(resumeDueAt(3_600_000, 2_000, 1_000), 3_000);
  assert.is(resumeDueAt(1_500, 2_000, 1_000), 3_000);
});

Resume.run();

// ---

const Record = suite('Progress.record');

Record('fresh() starts run 1 with every thread at tick 0 and no time', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 3, 1_000);
  assert.is(progress.run, 1);
  assert.is(progress.runStartedAt, 1_000);
  assert.is(progress.ticksPerRun, 3);
  assert.equal(progress.threads, [
    { name: 'thread-1', tick: 0, at: null },
    { name: 'thread-2', tick: 0, at: null },
  ]);
});

Record('accepts the next tick of the current run', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 3, 1_000);
  assert.ok(progress.record(0, 1, 1, 2_000));
  assert.ok(progress.record(0, 1, 2, 4_000));
  assert.ok(progress.record(1, 1, 1, 5_000));
  assert.equal(progress.threads, [
    { name: 'thread-1', tick: 2, at: 4_000 },
    { name: 'thread-2', tick: 1, at: 5_000 },
  ]);
});

Record('rejects a repeat, a skip, another run, a tick past the run and an unknown thread', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 2, 1_000);
  assert.ok(progress.record(0, 1, 1, 2_000));
  const before = structuredClone(progress.threads);
  assert.not.ok(progress.record(0, 1, 1, 3_000), 'repeat');
  assert.not.ok(progress.record(0, 1, 3, 3_000), 'skip');
  assert.not.ok(progress.record(0, 2, 2, 3_000), 'next run');
  assert.not.ok(progress.record(0, 0, 2, 3_000), 'previous run');
  assert.not.ok(progress.record(1, 1, 0, 3_000), 'tick 0');
  assert.not.ok(progress.record(2, 1, 1, 3_000), 'no thread 3');
  assert.not.ok(progress.record(-1, 1, 1, 3_000), 'no thread -1');
  assert.equal(progress.threads, before, 'a rejected tick changes nothing');
  assert.ok(progress.record(0, 1, 2, 3_000));
  assert.not.ok(progress.record(0, 1, 3, 4_000), 'beyond ticksPerRun');
  assert.is(progress.threads[0]?.tick, 2);
  assert.is(progress.threads[0]?.at, 3_000);
});

Record('a thread is done at ticksPerRun; the run when every thread is', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 2, 0);
  assert.not.ok(progress.isThreadDone(0));
  assert.not.ok(progress.isRunComplete());
  progress.record(0, 1, 1, 10);
  progress.record(0, 1, 2, 20);
  assert.ok(progress.isThreadDone(0));
  assert.not.ok(progress.isThreadDone(1));
  assert.not.ok(progress.isRunComplete());
  progress.record(1, 1, 1, 30);
  progress.record(1, 1, 2, 40);
  assert.ok(progress.isThreadDone(1));
  assert.ok(progress.isRunComplete());
});

Record('startNextRun() increments the run and resets every thread', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 1, 0);
  progress.record(0, 1, 1, 10);
  progress.record(1, 1, 1, 20);
  progress.startNextRun(500);
  assert.is(progress.run, 2);
  assert.is(progress.runStartedAt, 500);
  assert.equal(progress.threads, [
    { name: 'thread-1', tick: 0, at: null },
    { name: 'thread-2', tick: 0, at: null },
  ]);
  assert.not.ok(progress.isRunComplete());
  assert.not.ok(progress.record(0, 1, 1, 600), 'the old run is over');
  assert.ok(progress.record(0, 2, 1, 600));
});

Record.run();

// ---

const Resuming = suite('Progress.resume');

function checkpoint(run: number, threads: Checkpoint['threads']): Checkpoint {
  return { version: CHECKPOINT_VERSION, run, runStartedAt: 1_000, threads };
}

Resuming('takes the run and each thread\'s last tick, under the configured names', () => {
  const saved = checkpoint(4, [
    { name: 'thread-1', tick: 5, at: 6_000 },
    { name: 'old-name', tick: 2, at: 7_000 },
  ]);
  const progress = Progress.resume(saved, ['thread-1', 'thread-2'], 20);
  assert.is(progress.run, 4);
  assert.is(progress.runStartedAt, 1_000);
  assert.equal(progress.threads, [
    { name: 'thread-1', tick: 5, at: 6_000 },
    { name: 'thread-2', tick: 2, at: 7_000 },
  ]);
  assert.ok(progress.record(0, 4, 6, 8_000), 'thread-1 resumes at its last tick + 1');
  assert.not.ok(progress.record(1, 4, 2, 8_000), 'thread-2 does not repeat tick 2');
});

Resuming('a thread the checkpoint lacks starts the run at tick 0', () => {
  const saved = checkpoint(2, [{ name: 'thread-1', tick: 3, at: 5_000 }]);
  const progress = Progress.resume(saved, ['thread-1', 'thread-2', 'thread-3'], 20);
  assert.equal(progress.threads, [
    { name: 'thread-1', tick: 3, at: 5_000 },
    { name: 'thread-2', tick: 0, at: null },
    { name: 'thread-3', tick: 0, at: null },
  ]);
});

Resuming('threads the configuration dropped are left out', () => {
  const saved = checkpoint(2, [
    { name: 'thread-1', tick: 3, at: 5_000 },
    { name: 'thread-2', tick: 1, at: 4_000 },
    { name: 'thread-3', tick: 9, at: 9_000 },
  ]);
  const progress = Progress.resume(saved, ['thread-1'], 20);
  assert.equal(progress.threads, [{ name: 'thread-1', tick: 3, at: 5_000 }]);
  assert.is(progress.toCheckpoint().threads.length, 1);
});

Resuming('a tick above ticksPerRun (CLOCK_TICKS shrank) is clamped and counts as done', () => {
  const saved = checkpoint(3, [
    { name: 'thread-1', tick: 15, at: 5_000 },
    { name: 'thread-2', tick: 4, at: 6_000 },
  ]);
  const progress = Progress.resume(saved, ['thread-1', 'thread-2'], 10);
  assert.is(progress.threads[0]?.tick, 10);
  assert.is(progress.threads[1]?.tick, 4);
  assert.ok(progress.isThreadDone(0));
  assert.not.ok(progress.isThreadDone(1));
  assert.not.ok(progress.record(0, 3, 11, 7_000));
});

Resuming('a checkpoint of a complete run (every thread past CLOCK_TICKS) rolls over to the next run at once', () => {
  const saved = checkpoint(1, [
    { name: 'thread-1', tick: 12, at: 5_000 },
    { name: 'thread-2', tick: 6, at: 6_000 },
  ]);
  const progress = Progress.resume(saved, ['thread-1', 'thread-2'], 5);
  assert.ok(progress.isRunComplete());
  assert.ok(progress.rollOverIfComplete(9_000));
  assert.is(progress.run, 2);
  assert.is(progress.runStartedAt, 9_000);
  assert.equal(progress.threads, [
    { name: 'thread-1', tick: 0, at: null },
    { name: 'thread-2', tick: 0, at: null },
  ]);
  assert.ok(progress.record(0, 2, 1, 9_100), 'thread-1 owes run 2 tick 1');
  assert.ok(progress.record(1, 2, 1, 9_100), 'thread-2 owes run 2 tick 1');
  assert.is(progress.nextDueAt(0, 2_000, 9_000), 11_000);
});

Resuming('a run exactly complete by the checkpoint (a kill before the rollover) rolls over too', () => {
  const saved = checkpoint(7, [
    { name: 'thread-1', tick: 5, at: 5_000 },
    { name: 'thread-2', tick: 5, at: 6_000 },
  ]);
  const progress = Progress.resume(saved, ['thread-1', 'thread-2'], 5);
  assert.ok(progress.rollOverIfComplete(7_000));
  assert.is(progress.run, 8);
});

Resuming('a run still in progress is not rolled over, whichever threads are done', () => {
  const saved = checkpoint(2, [
    { name: 'thread-1', tick: 5, at: 5_000 },
    { name: 'thread-2', tick: 3, at: 6_000 },
  ]);
  const progress = Progress.resume(saved, ['thread-1', 'thread-2'], 5);
  assert.not.ok(progress.rollOverIfComplete(7_000));
  assert.is(progress.run, 2);
  assert.is(progress.threads[1]?.tick, 3);
});

Resuming('resuming does not share thread objects with the checkpoint', () => {
  const saved = checkpoint(1, [{ name: 'thread-1', tick: 1, at: 2_000 }]);
  const progress = Progress.resume(saved, ['thread-1'], 5);
  progress.record(0, 1, 2, 3_000);
  assert.equal(saved.threads[0], { name: 'thread-1', tick: 1, at: 2_000 });
});

Resuming.run();

// ---

const DueAndSave = suite('Progress.nextDueAt and toCheckpoint');

DueAndSave('nextDueAt is one interval after the last tick, or after the run start before the first', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 5, 1_000);
  assert.is(progress.nextDueAt(0, 2_000, 1_500), 3_000, 'from the run start');
  progress.record(0, 1, 1, 3_000);
  assert.is(progress.nextDueAt(0, 2_000, 3_100), 5_000, 'from the last tick');
  assert.is(progress.nextDueAt(0, 2_000, 8_000), 8_000, 'now, when that has gone by');
  assert.is(progress.nextDueAt(1, 4_000, 1_200), 5_000);
});

DueAndSave('toCheckpoint round-trips through serializeCheckpoint and parseCheckpoint', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 3, 1_000);
  progress.record(0, 1, 1, 3_000);
  progress.record(0, 1, 2, 5_000);
  progress.record(1, 1, 1, 5_001);
  const saved = progress.toCheckpoint();
  assert.equal(saved, {
    version: CHECKPOINT_VERSION,
    run: 1,
    runStartedAt: 1_000,
    resumes: 0,
    threads: [
      { name: 'thread-1', tick: 2, at: 5_000 },
      { name: 'thread-2', tick: 1, at: 5_001 },
    ],
  });
  const loaded = parseCheckpoint(serializeCheckpoint(saved));
  assert.equal(loaded, saved);
  const resumed = Progress.resume(loaded, ['thread-1', 'thread-2'], 3);
  assert.equal(resumed.toCheckpoint(), { ...saved, resumes: 1 }, 'a resume is counted');
});

DueAndSave('toCheckpoint is a copy: later ticks do not change a checkpoint already taken', () => {
  const progress = Progress.fresh(['thread-1'], 3, 1_000);
  const saved = progress.toCheckpoint();
  progress.record(0, 1, 1, 2_000);
  assert.equal(saved.threads[0], { name: 'thread-1', tick: 0, at: null });
});

DueAndSave.run();

// ---

const RollBack = suite('Progress.rollBackSince');

RollBack('takes back each thread\'s ticks printed since the given moment, and only those', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 5, 1_000);
  progress.record(0, 1, 1, 2_000);
  progress.record(1, 1, 1, 3_000);
  progress.record(0, 1, 2, 4_000);
  progress.rollBackSince(3_500, [2_000, 2_000]);
  assert.equal(progress.threads.map((t) => t.tick), [1, 1]);
});

RollBack('a thread taken back to tick 0 has no last tick time', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 5, 1_000);
  progress.record(0, 1, 1, 2_000);
  progress.record(1, 1, 1, 3_000);
  progress.rollBackSince(2_500, [2_000, 2_000]);
  assert.equal(progress.threads.map((t) => t.tick), [1, 0]);
  assert.is(progress.threads[1]?.at, null);
});

RollBack('takes back a rollover that happened since, back to the end of the finished run', () => {
  const progress = Progress.fresh(['thread-1', 'thread-2'], 2, 1_000);
  progress.record(0, 1, 1, 2_000);
  progress.record(0, 1, 2, 3_000);
  progress.record(1, 1, 1, 4_000);
  progress.record(1, 1, 2, 8_000);
  progress.startNextRun(8_000);
  progress.rollBackSince(7_500, [1_000, 4_000]);
  assert.is(progress.run, 1);
  assert.equal(progress.threads.map((t) => t.tick), [2, 1], 'thread-2 prints its last tick again');
  assert.not.ok(progress.isRunComplete());
});

RollBack('takes back every tick of the window, one interval apart, not only the last', () => {
  const progress = Progress.fresh(['thread-1'], 10, 0);
  for (let tick = 1; tick <= 6; tick++) progress.record(0, 1, tick, tick * 200);
  progress.rollBackSince(1_200 - 1_000, [200]);
  // Ticks 1 to 6 fired at 200 … 1200 ms: those at 200 ms and later, all six, may be unlogged.
  assert.equal(progress.threads.map((t) => [t.tick, t.at]), [[0, null]]);
  const later = Progress.fresh(['thread-1'], 10, 0);
  for (let tick = 1; tick <= 6; tick++) later.record(0, 1, tick, tick * 200);
  later.rollBackSince(700, [200]);
  assert.equal(later.threads.map((t) => [t.tick, t.at]), [[3, 600]]);
});

RollBack.run();
