import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lateThread } from '../../apps/probe/stall.ts';
import type { Heartbeat, HeartbeatThread } from '../../apps/shared/heartbeat.ts';

const NOW = 1_800_000_000_000;
// How long ago the heartbeat was written (seen unchanged): the default beat was written 100 ms ago.
const WRITTEN_MS_AGO = 100;
const thread = (name: string, tick: number, intervalMs: number, quietMs: number): HeartbeatThread => ({ name, tick, at: NOW - quietMs, intervalMs, quietMs });
const beat = (threads: HeartbeatThread[], overrides: Partial<Heartbeat> = {}): Heartbeat => ({
  pid: 100,
  startTicks: 5,
  phase: 'ticking',
  startedAt: NOW - 60_000,
  readyAt: NOW - 59_000,
  writtenAt: NOW - 100,
  run: 1,
  ticksPerRun: 20,
  threads,
  waiters: 0,
  ...overrides,
});

const Late = suite('lateThread: which thread is late, and for how long (no limit: the contract judges)');

Late('no thread past the moment it owes its tick: none named, however slow one is within its interval', () => {
  // thread-2 is quiet 3.9 s of its 4 s at the write; 0.1 s later it is exactly due, not past it.
  assert.is(lateThread(beat([thread('thread-1', 3, 2_000, 1_500), thread('thread-2', 1, 4_000, 3_900)]), WRITTEN_MS_AGO), undefined);
});

Late('a thread just past its moment is named at once: there is no limit of its own', () => {
  // Due 2 s after it last progressed; quiet 1.95 s at the write, 0.1 s ago: owed for 50 ms.
  assert.equal(lateThread(beat([thread('thread-1', 3, 2_000, 1_950)]), WRITTEN_MS_AGO), { thread: 'thread-1', owedMs: 50 });
});

Late('the thread furthest past its moment is named, with how long it has owed its tick', () => {
  // Quiet since the write included: thread-1 has owed its tick for 7.1 - 2 = 5.1 s, thread-2 for 10 - 4 = 6 s, thread-3 for none.
  const threads = [thread('thread-1', 3, 2_000, 7_000), thread('thread-2', 1, 4_000, 9_900), thread('thread-3', 2, 1_000, 500)];
  assert.equal(lateThread(beat(threads), WRITTEN_MS_AGO), { thread: 'thread-2', owedMs: 6_000 });
  // By its moment, not by how quiet it is: the quieter thread-2 (10 s of 8 s) is less late than thread-1 (8.9 s of 1 s).
  const byMoment = [thread('thread-1', 3, 1_000, 8_900), thread('thread-2', 1, 8_000, 10_000)];
  assert.equal(lateThread(beat(byMoment), WRITTEN_MS_AGO), { thread: 'thread-1', owedMs: 8_000 });
});

Late('the time since the heartbeat was written counts as quiet time too', () => {
  const written = beat([thread('thread-1', 3, 2_000, 1_500)], { writtenAt: NOW - 2_000 });
  // Quiet 1.5 s at the write: not yet due 0.4 s later, owed for 1.5 s once seen unchanged for 2 s.
  assert.is(lateThread(written, 400), undefined);
  assert.equal(lateThread(written, 2_000), { thread: 'thread-1', owedMs: 1_500 });
  // A negative age (a file time a little ahead) counts as none.
  assert.is(lateThread(written, -5_000), undefined);
});

Late('a thread done with its run owes nothing while another still ticks', () => {
  assert.is(lateThread(beat([thread('thread-1', 20, 2_000, 60_000), thread('thread-2', 12, 4_000, 1_000)]), WRITTEN_MS_AGO), undefined);
});

Late('once every thread is done, the next run is owed at once: a run that never rolls over names a thread', () => {
  const done = [thread('thread-1', 20, 2_000, 5_200), thread('thread-2', 20, 4_000, 5_000)];
  assert.equal(lateThread(beat(done), WRITTEN_MS_AGO), { thread: 'thread-1', owedMs: 5_300 });
});

Late('the silent clock of issue 11: resumed at 5/5 and 5/5, beating for minutes, ticking never', () => {
  const stuck = beat([thread('thread-1', 5, 2_000, 120_000), thread('thread-2', 5, 4_000, 120_000)], { ticksPerRun: 5 });
  assert.equal(lateThread(stuck, WRITTEN_MS_AGO), { thread: 'thread-1', owedMs: 120_100 });
});

Late('none named: a clock starting (a crash-loop back-off included), or a heartbeat of an older clock', () => {
  const old = [thread('thread-1', 3, 2_000, 60_000)];
  assert.ok(lateThread(beat(old), WRITTEN_MS_AGO), 'the same thread of a ticking clock is named');
  assert.is(lateThread(beat(old, { phase: 'starting', readyAt: null, run: null }), WRITTEN_MS_AGO), undefined);
  assert.is(lateThread(beat(old, { phase: 'following' }), WRITTEN_MS_AGO), undefined);
  assert.is(lateThread(beat(old, { ticksPerRun: undefined }), WRITTEN_MS_AGO), undefined);
  assert.is(lateThread(beat([{ name: 'thread-1', tick: 3, at: NOW - 60_000 }]), WRITTEN_MS_AGO), undefined);
  assert.is(lateThread(beat([]), WRITTEN_MS_AGO), undefined);
});

Late.run();
