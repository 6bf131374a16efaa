import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Heartbeat } from '../../apps/shared/heartbeat.ts';
import { diagnose, type Observation } from '../../apps/probe/diagnose.ts';
import type { Pm2App } from '../../apps/probe/pm2-client.ts';

const NOW = 1_800_000_000_000;
const app = (status: string, pid = 100): Pm2App => ({ name: 'clock', pmId: 0, pid, status, launchedAt: NOW - 60_000, restarts: 0 });
const beat = (pid: number, ageMs: number): Heartbeat => ({
  pid,
  startTicks: 5,
  phase: 'ticking',
  startedAt: NOW - 60_000,
  readyAt: NOW - 59_000,
  writtenAt: NOW - ageMs,
  run: 1,
  threads: [],
  waiters: 0,
});
const seen = (overrides: Partial<Observation>): Observation => ({
  now: NOW,
  app: app('online'),
  verified: true,
  watchedMs: 60_000,
  heartbeat: beat(100, 100),
  heartbeatAgeMs: 100,
  heartbeatIsOwn: true,
  heartbeatIsDuplicate: false,
  hangMs: 3_000,
  ...overrides,
});

const Diagnose = suite('diagnose');

Diagnose('a verified clock with a fresh heartbeat of its own is healthy', () => {
  assert.equal(diagnose(seen({})), { kind: 'healthy', pid: 100, heartbeatAgeMs: 100 });
});

Diagnose('a heartbeat older than the limit means hung', () => {
  assert.equal(diagnose(seen({ heartbeat: beat(100, 3_001), heartbeatAgeMs: 3_001 })), { kind: 'hung', pid: 100, silentMs: 3_001 });
});

Diagnose('the age is what the probe watched, never a wall time: a heartbeat stamped an hour or four years off is judged by it', () => {
  // Written by a clock whose wall clock is an hour behind, or four years ahead, of the probe's.
  assert.equal(diagnose(seen({ heartbeat: beat(100, 3_600_000), heartbeatAgeMs: 200 })), { kind: 'healthy', pid: 100, heartbeatAgeMs: 200 });
  assert.equal(diagnose(seen({ heartbeat: beat(100, -4 * 365 * 86_400_000), heartbeatAgeMs: 3_200 })), { kind: 'hung', pid: 100, silentMs: 3_200 });
});

Diagnose('PM2 online but the pid is not a proven clock: a ghost, whatever the heartbeat says', () => {
  assert.equal(diagnose(seen({ verified: false })), { kind: 'ghost', pid: 100 });
});

Diagnose('PM2 states: stopped is left alone, errored is named, transitions are waited out', () => {
  assert.equal(diagnose(seen({ app: app('stopped') })), { kind: 'stopped', status: 'stopped' });
  assert.equal(diagnose(seen({ app: app('errored') })), { kind: 'errored' });
  assert.equal(diagnose(seen({ app: app('launching') })), { kind: 'transient', status: 'launching' });
  assert.equal(diagnose(seen({ app: undefined })), { kind: 'not-declared' });
});

Diagnose('a clock that does not own the state yet: starting, then hung once silent past the limit', () => {
  const notYet = { heartbeat: undefined, heartbeatAgeMs: undefined, heartbeatIsOwn: false };
  assert.equal(diagnose(seen({ ...notYet, watchedMs: 500 })), { kind: 'starting', pid: 100 });
  assert.equal(diagnose(seen({ ...notYet, watchedMs: 3_500 })), { kind: 'hung', pid: 100, silentMs: 3_500 });
});

Diagnose('a heartbeat file that is no heartbeat: the clock judged by when the file last changed', () => {
  const garbage = { heartbeat: undefined, heartbeatIsOwn: false, heartbeatUnusable: true, watchedMs: 60_000 };
  assert.equal(diagnose(seen({ ...garbage, heartbeatAgeMs: 200 })), { kind: 'starting', pid: 100 });
  assert.equal(diagnose(seen({ ...garbage, heartbeatAgeMs: 3_100 })), { kind: 'hung', pid: 100, silentMs: 3_100 });
  // The last heartbeat read was the clock's own: it stands, aged by the file's changes; no stall judged from it.
  const stuckThreads = beat(100, 100);
  stuckThreads.ticksPerRun = 5;
  stuckThreads.threads = [{ name: 'thread-1', tick: 2, at: 0, intervalMs: 200, quietMs: 60_000 }];
  assert.equal(diagnose(seen({ heartbeat: stuckThreads, heartbeatUnusable: true, heartbeatAgeMs: 100 })), { kind: 'healthy', pid: 100, heartbeatAgeMs: 100 });
  assert.is(diagnose(seen({ heartbeat: stuckThreads, heartbeatAgeMs: 100 })).kind, 'stalled');
});

Diagnose('a clock waiting for a duplicate that holds the state is not hung', () => {
  const waiting = seen({ heartbeat: beat(200, 100), heartbeatIsOwn: false, heartbeatIsDuplicate: true, watchedMs: 10_000 });
  assert.equal(diagnose(waiting), { kind: 'waiting', pid: 100, ownerPid: 200 });
});

Diagnose('hot standby: a clock that does not write the heartbeat is never judged hung by its silence', () => {
  const standby = seen({ heartbeat: undefined, heartbeatIsOwn: false, watchedMs: 60_000, standbyMode: true });
  assert.equal(diagnose(standby), { kind: 'starting', pid: 100 });
});

Diagnose('a clock that says it holds its ticks (a fault of the machine) is held, not stalled, however long it owes a tick', () => {
  const stalledBeat = { ...beat(100, 100), ticksPerRun: 5, threads: [{ name: 'thread-1', tick: 2, at: NOW - 60_000, intervalMs: 200, quietMs: 60_000 }] };
  assert.is(diagnose(seen({ heartbeat: stalledBeat })).kind, 'stalled');
  const held = { ...stalledBeat, held: [{ on: 'log' as const, why: 'the log takes nothing', forMs: 60_000 }] };
  assert.equal(diagnose(seen({ heartbeat: held })), { kind: 'held', pid: 100, on: ['log'] });
});

Diagnose('a silent heartbeat file with a fresh pulse through PM2 (its disk failed) is alive; held as PM2 says', () => {
  assert.equal(diagnose(seen({ heartbeatAgeMs: 9_000, pm2Pulse: { ageMs: 200, held: ['state'] } })), { kind: 'held', pid: 100, on: ['state'] });
  assert.equal(diagnose(seen({ heartbeatAgeMs: 9_000, pm2Pulse: { ageMs: 200, held: [] } })), { kind: 'healthy', pid: 100, heartbeatAgeMs: 200 });
});

Diagnose('a pulse through PM2 that stopped too is a hang: no sign of life is trusted past the limit', () => {
  assert.equal(diagnose(seen({ heartbeatAgeMs: 9_000, pm2Pulse: { ageMs: 3_500, held: ['state'] } })), { kind: 'hung', pid: 100, silentMs: 3_500 });
});

Diagnose('a new clock whose disk failed before it wrote a heartbeat beats through PM2 alone: held or starting, never hung', () => {
  const other = { heartbeat: beat(55, 100), heartbeatIsOwn: false, watchedMs: 10_000 };
  assert.equal(diagnose(seen({ ...other, pm2Pulse: { ageMs: 100, held: ['state'] } })), { kind: 'held', pid: 100, on: ['state'] });
  assert.equal(diagnose(seen({ ...other, pm2Pulse: { ageMs: 100, held: [] } })), { kind: 'starting', pid: 100 });
  assert.is(diagnose(seen(other)).kind, 'hung');
});

Diagnose.run();
