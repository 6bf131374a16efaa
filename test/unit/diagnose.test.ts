import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { unchangedLimitMs, type GuardBeat } from '../../apps/shared/guard-contract.ts';
import { diagnose, type Observation } from '../../apps/probe/diagnose.ts';
import type { Pm2App } from '../../apps/probe/pm2-client.ts';

const NOW = 1_800_000_000_000;
const app = (status: string, pid = 100): Pm2App => ({ name: 'clock', pmId: 0, pid, status, launchedAt: NOW - 60_000, restarts: 0 });
// A beat as the contract has it; `ageMs`, how long ago it was written, is what the probe's own watch
// says (beatAgeMs), never a time in the file.
const beat = (pid: number, _ageMs: number, owedInMs: number | null = 1_000): GuardBeat => ({ guard: 1, pid, seq: 7, ready: true, owedInMs });
const seen = (overrides: Partial<Observation>): Observation => ({
  name: 'clock',
  now: NOW,
  app: app('online'),
  verified: true,
  watchedMs: 60_000,
  beat: beat(100, 100),
  beatAgeMs: 100,
  beatIsOwn: true,
  beatIsDuplicate: false,
  hangMs: 3_000,
  stallMs: 3_000,
  ...overrides,
});

const Diagnose = suite('diagnose');

Diagnose('a verified clock with a fresh heartbeat of its own is healthy', () => {
  assert.equal(diagnose(seen({})), { kind: 'healthy', pid: 100, beatAgeMs: 100 });
});

Diagnose('a heartbeat older than the limit means hung', () => {
  assert.equal(diagnose(seen({ beat: beat(100, 3_001), beatAgeMs: 3_001 })), { kind: 'hung', pid: 100, silentMs: 3_001 });
});

Diagnose('the age is what the probe watched, never a wall time: a heartbeat stamped an hour or four years off is judged by it', () => {
  // Written by a clock whose wall clock is an hour behind, or four years ahead, of the probe's.
  assert.equal(diagnose(seen({ beat: beat(100, 3_600_000), beatAgeMs: 200 })), { kind: 'healthy', pid: 100, beatAgeMs: 200 });
  assert.equal(diagnose(seen({ beat: beat(100, -4 * 365 * 86_400_000), beatAgeMs: 3_200 })), { kind: 'hung', pid: 100, silentMs: 3_200 });
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
  const notYet = { beat: undefined, beatAgeMs: undefined, beatIsOwn: false };
  assert.equal(diagnose(seen({ ...notYet, watchedMs: 500 })), { kind: 'starting', pid: 100 });
  assert.equal(diagnose(seen({ ...notYet, watchedMs: 3_500 })), { kind: 'hung', pid: 100, silentMs: 3_500 });
});

Diagnose('a heartbeat file that is no beat: the clock judged by when the file last changed', () => {
  const garbage = { beat: undefined, beatIsOwn: false, beatUnusable: true, watchedMs: 60_000 };
  assert.equal(diagnose(seen({ ...garbage, beatAgeMs: 200 })), { kind: 'starting', pid: 100 });
  assert.equal(diagnose(seen({ ...garbage, beatAgeMs: 3_100 })), { kind: 'hung', pid: 100, silentMs: 3_100 });
  // The last heartbeat read was the clock's own: it stands, aged by the file's changes; no stall judged from it.
  const stuckThreads = beat(100, 100, -60_000);
  assert.equal(diagnose(seen({ beat: stuckThreads, beatUnusable: true, beatAgeMs: 100 })), { kind: 'healthy', pid: 100, beatAgeMs: 100 });
  assert.is(diagnose(seen({ beat: stuckThreads, beatAgeMs: 100 })).kind, 'stalled');
});

Diagnose('a clock waiting for a duplicate that holds the state is not hung', () => {
  const waiting = seen({ beat: beat(200, 100), beatIsOwn: false, beatIsDuplicate: true, watchedMs: 10_000 });
  assert.equal(diagnose(waiting), { kind: 'waiting', pid: 100, ownerPid: 200 });
});

Diagnose('hot standby: a clock that does not write the heartbeat is never judged hung by its silence', () => {
  const standby = seen({ beat: undefined, beatIsOwn: false, watchedMs: 60_000, standbyMode: true });
  assert.equal(diagnose(standby), { kind: 'starting', pid: 100 });
});

Diagnose('a clock that says it holds its ticks (a fault of the machine) is held, not stalled, however long it owes a tick', () => {
  const stalledBeat = beat(100, 100, -60_000);
  assert.is(diagnose(seen({ beat: stalledBeat })).kind, 'stalled');
  const held = { ...stalledBeat, held: [{ on: 'log' as const, why: 'the log takes nothing', forMs: 60_000 }] };
  assert.equal(diagnose(seen({ beat: held })), { kind: 'held', pid: 100, on: ['log'] });
});

Diagnose('a silent heartbeat file with a fresh pulse through PM2 (its disk failed) is alive; held as PM2 says', () => {
  assert.equal(diagnose(seen({ beatAgeMs: 9_000, pm2Pulse: { ageMs: 200, held: ['state'] } })), { kind: 'held', pid: 100, on: ['state'] });
  assert.equal(diagnose(seen({ beatAgeMs: 9_000, pm2Pulse: { ageMs: 200, held: [] } })), { kind: 'healthy', pid: 100, beatAgeMs: 200 });
});

Diagnose('a pulse through PM2 that stopped too is a hang: no sign of life is trusted past the limit', () => {
  assert.equal(diagnose(seen({ beatAgeMs: 9_000, pm2Pulse: { ageMs: 3_500, held: ['state'] } })), { kind: 'hung', pid: 100, silentMs: 3_500 });
});

Diagnose('a new clock whose disk failed before it wrote a heartbeat beats through PM2 alone: held or starting, never hung', () => {
  const other = { beat: beat(55, 100), beatIsOwn: false, watchedMs: 10_000 };
  assert.equal(diagnose(seen({ ...other, pm2Pulse: { ageMs: 100, held: ['state'] } })), { kind: 'held', pid: 100, on: ['state'] });
  assert.equal(diagnose(seen({ ...other, pm2Pulse: { ageMs: 100, held: [] } })), { kind: 'starting', pid: 100 });
  assert.is(diagnose(seen(other)).kind, 'hung');
});

Diagnose('stalled: owed progress later than GUARD_STALL_MS past its moment; an idle app (owes nothing) never', () => {
  // Owed 1 s after a write seen unchanged for 0.2 s: not due yet.
  assert.is(diagnose(seen({ beat: beat(100, 0, 1_000), beatAgeMs: 200 })).kind, 'healthy');
  // Overdue by 3.1 s, the limit 3 s: stalled, by how much.
  assert.equal(diagnose(seen({ beat: beat(100, 0, -2_900), beatAgeMs: 200 })), { kind: 'stalled', pid: 100, overdueMs: 3_100 });
  // Owes nothing: idle, however long.
  assert.is(diagnose(seen({ beat: beat(100, 0, null), beatAgeMs: 200 })).kind, 'healthy');
  // Not ready yet: starting, never stalled.
  assert.is(diagnose(seen({ beat: { ...beat(100, 0, -60_000), ready: false }, beatAgeMs: 200 })).kind, 'healthy');
});

Diagnose('unchangedLimitMs is the moment the rules decide: at it the app is neither hung nor stalled, just past it one of them', () => {
  const cases: [string, GuardBeat, string][] = [
    ['owes its next within 1 s', beat(100, 0, 1_000), 'hung'],
    ['owes progress soon', beat(100, 0, -2_500), 'stalled'],
    ['overdue already', beat(100, 0, -2_950), 'stalled'],
    ['idle: owes nothing', beat(100, 0, null), 'hung'],
    ['not ready', { ...beat(100, 0, -60_000), ready: false }, 'hung'],
    ['held', { ...beat(100, 0, -60_000), held: [{ on: 'disk', why: 'ENOSPC', forMs: 10 }] }, 'held'],
  ];
  for (const [what, one, after] of cases) {
    const limit = unchangedLimitMs(one, 3_000, 3_000);
    assert.ok(limit <= 3_000, `${what}: never later than the hang limit (${limit})`);
    assert.ok(['healthy', 'held'].includes(diagnose(seen({ beat: one, beatAgeMs: Math.max(0, limit) })).kind), `${what}: at ${limit} ms`);
    assert.is(diagnose(seen({ beat: one, beatAgeMs: Math.max(0, limit) + 1 })).kind, after === 'held' ? 'hung' : after, `${what}: at ${limit + 1} ms`);
  }
});

Diagnose.run();
