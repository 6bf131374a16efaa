import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { judgeContinuity } from '../../scripts/chaos/continuity-verdict.ts';
import { falseHealsSince, firstTickAfter, onTrueTime, ticksAfter, type Unhealed } from '../../scripts/chaos/machine-faults.ts';
import { unstepped } from '../../scripts/chaos/overlap.ts';
import type { Look } from '../../scripts/chaos/system.ts';
import { formatTickLine } from '../../apps/shared/tick-line.ts';

const HOUR = 3_600_000;
const T = new Date(2026, 11, 6, 12, 0, 0, 0).getTime();
const line = (thread: number, tick: number, at: number) => formatTickLine(`thread-${thread}`, 3, tick, 5, at);

// ---

const Ticks = suite('ticks after a fault of the machine, on the true time');

Ticks('after a disk came back: the first tick of each thread printed at or after it', () => {
  const log = [line(1, 1, T - 200), line(2, 1, T - 100), 'clock: the checkpoint can be saved again', line(1, 2, T + 150), line(2, 2, T + 300), line(1, 3, T + 350)].join('\n');
  assert.equal([...ticksAfter(log, T, 0, T + 1_000)], [['thread-1', T + 150], ['thread-2', T + 300]]);
  assert.is(firstTickAfter(log, T, 0, T + 1_000), T + 150);
  assert.is(firstTickAfter(log, T + 400, 0, T + 1_000), undefined);
});

Ticks('the clock stepped back an hour: its ticks after the step are told by their time, and read on the true time', () => {
  // Before the step on the true time, then an hour behind, then (stepped back) on the true time again.
  const log = [line(1, 1, T - 200), line(1, 2, T + 100 - HOUR), line(2, 2, T + 250 - HOUR), line(1, 3, T + 3_000)].join('\n');
  assert.equal([...ticksAfter(log, T, -HOUR, T + 4_000)], [['thread-1', T + 100], ['thread-2', T + 250]]);
  // The ticks before the step are no "ticks an hour behind" read an hour late.
  assert.is(firstTickAfter([line(1, 1, T - 200)].join('\n'), T, -HOUR, T + 1_000), undefined);
  // After the step back: only those on the true time.
  assert.equal([...ticksAfter(log, T + 2_000, 0, T + 4_000)], [['thread-1', T + 3_000]]);
});

Ticks('the clock stepped ahead an hour', () => {
  const log = [line(1, 1, T - 200), line(1, 2, T + 100 + HOUR)].join('\n');
  assert.is(firstTickAfter(log, T, HOUR, T + 1_000), T + 100);
  assert.is(firstTickAfter(log, T, 0, T + 1_000), undefined, 'a tick an hour ahead is not one on the true time');
});

Ticks('a log printed by a clock stepped back and ahead, read on the true time: the damaged-checkpoint line goes where it happened', () => {
  const out = [
    line(1, 1, T), line(1, 2, T + 200),
    line(1, 3, T + 400 + HOUR), line(1, 4, T + 600 + HOUR), // stepped ahead an hour
    line(1, 5, T + 800),
    formatTickLine('thread-1', 1, 1, 5, T + 2_000), // after the damaged checkpoint, moved aside at T + 1.5 s
  ].join('\n');
  assert.equal(onTrueTime(out).split('\n').map((text) => text.slice(-12)), [T, T + 200, T + 400, T + 600, T + 800, T + 2_000].map((at) => line(1, 1, at).slice(-12)));
  const stamp = new Date(T + 1_500).toISOString().replace(/:/g, '-').replace('.', '-');
  const reset = `clock: the checkpoint was damaged (not JSON); moved it aside to /s/checkpoint.json.damaged-${stamp}; starting a fresh run 1`;
  // Read as printed, the ticks an hour ahead take the reset line before them, and run 1 then breaks.
  assert.not.ok(judgeContinuity(out, reset).ok);
  const verdict = judgeContinuity(out, reset, true);
  assert.equal(verdict.problems, []);
  assert.is(verdict.resets, 1);
});

Ticks.run();

// ---

const Heals = suite('false heals: what no fault of the machine called for');

const before: Unhealed = { clockPid: 10, probePid: 20, heals: { hung: 1, stalled: 0, ghost: 0, errored: 0, duplicate: 0 } };
const look = (clockPid: number, probePid: number, heals: Record<string, number> = {}): Look => ({
  at: T,
  clock: { name: 'clock', pmId: 0, pid: clockPid, status: 'online', launchedAt: T, restarts: 0, metrics: {}, role: undefined },
  instances: [],
  probe: { name: 'probe', pmId: 1, pid: probePid, status: 'online', launchedAt: T, restarts: 0, metrics: Object.fromEntries(Object.entries(heals).map(([kind, n]) => [`heals: ${kind}`, n])) },
  pm2Error: undefined,
  daemonPid: 5,
  clocks: [clockPid],
  heartbeat: undefined,
});

Heals('none: the same clock, the probe\'s counters as they were', () => {
  assert.equal(falseHealsSince(before, look(10, 20, { hung: 1 })), []);
});

Heals('the clock replaced, the probe\'s counters up: each said', () => {
  assert.equal(falseHealsSince(before, look(11, 20, { hung: 2, ghost: 2 })), [
    'the clock was replaced (pid 10, now 11)',
    'the probe pid 20 healed the clock as hung',
    'the probe pid 20 healed the clock as ghost 2 times',
  ]);
});

Heals('a new probe (after a hung one) counts from 0; PM2 not answering is no evidence', () => {
  assert.equal(falseHealsSince(before, look(10, 21, {})), []);
  assert.equal(falseHealsSince(before, look(10, 21, { errored: 1 })), ['the probe pid 21 healed the clock as errored']);
  assert.equal(falseHealsSince(before, { ...look(11, 21, { hung: 5 }), pm2Error: 'connect ENOENT' }), []);
});

Heals.run();

// ---

const Writers = suite('heartbeats of a stepped clock, ordered on the true time');

Writers('a write time an hour off, read moments later, is taken back to the true time; one on the true time is left', () => {
  assert.is(unstepped(T - HOUR + 120, T + 300), T + 120);
  assert.is(unstepped(T + HOUR - 50, T + 100), T - 50);
  assert.is(unstepped(T - 900, T), T - 900);
});

Writers.run();
