import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stalledThread } from '../../apps/probe/stall.ts';
import type { Heartbeat, HeartbeatThread } from '../../apps/shared/heartbeat.ts';

const NOW = 1_800_000_000_000;
const HANG_MS = 3_000;
// How long ago the probe has seen the heartbeat unchanged: the default beat was written 100 ms ago.
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

const Stall = suite('stalledThread: progress, not just a pulse');

Stall('threads on time are not stalled, even a slow one well within its interval', () => {
  assert.is(stalledThread(beat([thread('thread-1', 3, 2_000, 1_500), thread('thread-2', 1, 4_000, 3_900)]), WRITTEN_MS_AGO, HANG_MS), undefined);
});

Stall('a thread that has owed a tick for longer than its interval + the hang limit is stalled', () => {
  // Due 2 s after it last progressed; owed since then 5.1 s (quiet 7 s at the write, 0.1 s ago): > 2 s + 3 s.
  const found = stalledThread(beat([thread('thread-1', 3, 2_000, 7_000), thread('thread-2', 1, 4_000, 1_000)]), WRITTEN_MS_AGO, HANG_MS);
  assert.equal(found, { thread: 'thread-1', owedMs: 5_100 });
  // Just inside the limit: owed 4.9 s.
  assert.is(stalledThread(beat([thread('thread-1', 3, 2_000, 6_800)]), WRITTEN_MS_AGO, HANG_MS), undefined);
});

Stall('the time since the heartbeat was written counts as quiet time too', () => {
  const written = beat([thread('thread-1', 3, 2_000, 4_000)], { writtenAt: NOW - 2_000 });
  // Owed 4 s (quiet 4 s at the write, seen unchanged for 2 s, due after 2 s): within 2 s + 3 s; 1.5 s later not.
  assert.is(stalledThread(written, 2_000, HANG_MS), undefined);
  assert.equal(stalledThread(written, 3_500, HANG_MS), { thread: 'thread-1', owedMs: 5_500 });
});

Stall('a thread done with its run owes nothing while another still ticks', () => {
  assert.is(stalledThread(beat([thread('thread-1', 20, 2_000, 60_000), thread('thread-2', 12, 4_000, 1_000)]), WRITTEN_MS_AGO, HANG_MS), undefined);
});

Stall('once every thread is done, the next run is owed at once: a run that never rolls over is stalled', () => {
  const done = [thread('thread-1', 20, 2_000, 5_200), thread('thread-2', 20, 4_000, 5_200)];
  assert.equal(stalledThread(beat(done), WRITTEN_MS_AGO, HANG_MS), { thread: 'thread-1', owedMs: 5_300 });
});

Stall('the silent clock of issue 11: resumed at 5/5 and 5/5, beating for minutes, ticking never', () => {
  const stuck = beat([thread('thread-1', 5, 2_000, 120_000), thread('thread-2', 5, 4_000, 120_000)], { ticksPerRun: 5 });
  assert.ok(stalledThread(stuck, WRITTEN_MS_AGO, HANG_MS));
});

Stall('never judged: a clock starting (a crash-loop back-off included), or a heartbeat of an older clock', () => {
  const old = [thread('thread-1', 3, 2_000, 60_000)];
  assert.is(stalledThread(beat(old, { phase: 'starting', readyAt: null, run: null }), WRITTEN_MS_AGO, HANG_MS), undefined);
  assert.is(stalledThread(beat(old, { ticksPerRun: undefined }), WRITTEN_MS_AGO, HANG_MS), undefined);
  assert.is(stalledThread(beat([{ name: 'thread-1', tick: 3, at: NOW - 60_000 }]), WRITTEN_MS_AGO, HANG_MS), undefined);
  assert.is(stalledThread(beat([]), WRITTEN_MS_AGO, HANG_MS), undefined);
});

Stall.run();
