import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Heartbeat } from '../../apps/shared/heartbeat.ts';
import { judgeContinuity } from '../../scripts/chaos/continuity-verdict.ts';
import { healthProblems } from '../../scripts/chaos/health.ts';
import { HeartbeatWriters, OverlapTracker } from '../../scripts/chaos/overlap.ts';
import { probeHeals } from '../../scripts/chaos/probe-heals.ts';
import { renderReport, summarize, verdict, type ChaosOutcome, type FaultResult } from '../../scripts/chaos/report.ts';
import { takeoverFrom, takeovers } from '../../scripts/chaos/standby.ts';
import { clockInstanceOf, standbyInstance, tickingInstance, type ClockInstance, type Look } from '../../scripts/chaos/system.ts';

const NOW = 1_800_000_000_000;
const ACTIVE = 4100;
const STANDBY = 4300;

function instance(pid: number, pmId: number, role: string | undefined, status = 'online'): ClockInstance {
  return { name: 'clock', pmId, pid, status, launchedAt: NOW - 10_000, restarts: 0, role };
}

function heartbeat(overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    pid: ACTIVE,
    startTicks: 1,
    phase: 'ticking',
    startedAt: NOW - 10_000,
    readyAt: NOW - 9_000,
    writtenAt: NOW - 100,
    run: 2,
    threads: [{ name: 'thread-1', tick: 3, at: NOW - 150 }],
    waiters: 1,
    ...overrides,
  };
}

/** A healthy hot-standby pair as one look sees it; PM2 lists the standby (pm id 0) first. */
function pair(changes: Partial<Look> = {}): Look {
  const instances = changes.instances ?? [instance(STANDBY, 0, 'standby'), instance(ACTIVE, 2, 'active')];
  const beat = 'heartbeat' in changes ? changes.heartbeat : heartbeat();
  return {
    at: NOW,
    clock: tickingInstance(instances, beat),
    instances,
    probe: { name: 'probe', pmId: 1, pid: 4200, status: 'online', launchedAt: NOW - 10_000, restarts: 0 },
    pm2Error: undefined,
    daemonPid: 4000,
    clocks: [ACTIVE, STANDBY],
    heartbeat: beat,
    ...changes,
  };
}

// ---

const Roles = suite('chaos, hot standby: which instance is the active one');

Roles("the heartbeat's writer among PM2's online instances, whatever PM2's order", () => {
  const instances = [instance(STANDBY, 0, 'standby'), instance(ACTIVE, 2, 'active')];
  assert.is(tickingInstance(instances, { pid: ACTIVE })?.pid, ACTIVE);
  assert.is(standbyInstance(instances, tickingInstance(instances, { pid: ACTIVE }))?.pid, STANDBY);
});

Roles('no online writer: the first online instance, else the first (one instance: that one, as before)', () => {
  const instances = [instance(STANDBY, 0, 'standby', 'stopped'), instance(ACTIVE, 2, 'active')];
  assert.is(tickingInstance(instances, { pid: 999 })?.pid, ACTIVE);
  assert.is(tickingInstance(instances, undefined)?.pid, ACTIVE);
  assert.is(tickingInstance([instance(ACTIVE, 0, undefined, 'errored')], undefined)?.pid, ACTIVE);
  assert.is(standbyInstance(instances, instances[1]), undefined, 'a stopped instance is no standby');
});

Roles("PM2's entry: its id, launch time and the role metric the clock publishes", () => {
  const raw = {
    name: 'clock',
    pid: 7,
    pm_id: 3,
    pm2_env: { status: 'online', pm_uptime: 5, restart_time: 2, axm_monitor: { role: { value: 'standby' }, 'Heap Size': { value: '9' } } },
  };
  assert.equal(clockInstanceOf(raw), { name: 'clock', pmId: 3, pid: 7, status: 'online', launchedAt: 5, restarts: 2, metrics: { role: 'standby', 'Heap Size': '9' }, env: { status: 'online' }, role: 'standby' });
  assert.is(clockInstanceOf({ ...raw, pm2_env: { status: 'online', pm_uptime: 5, restart_time: 0 } }).role, undefined);
});

Roles.run();

// ---

const Health = suite('chaos, hot standby: healthy means two clocks, exactly one active and ticking, the other waiting');

Health('a healthy pair: no problem', () => {
  assert.equal(healthProblems(pair(), true), []);
});

Health('PM2 lists one instance, or one not online', () => {
  assert.match(healthProblems(pair({ instances: [instance(ACTIVE, 2, 'active')], clocks: [ACTIVE] }), true).join('\n'), 'PM2 lists 1 clock instances, not 2');
  const launching = healthProblems(pair({ instances: [instance(STANDBY, 0, undefined, 'launching'), instance(ACTIVE, 2, 'active')] }), true).join('\n');
  assert.match(launching, 'PM2 says clock (pm2 id 0) is launching');
});

Health('the process table must hold exactly PM2 two clocks: a third, or one missing, is a problem', () => {
  assert.match(healthProblems(pair({ clocks: [ACTIVE, STANDBY, 4999] }), true).join('\n'), `clocks of this state in the process table: ${ACTIVE}, ${STANDBY}, 4999`);
  assert.match(healthProblems(pair({ clocks: [ACTIVE] }), true).join('\n'), `(PM2's are ${STANDBY}, ${ACTIVE})`);
});

Health("the heartbeat must be from one of PM2's clocks, ticking and fresh", () => {
  assert.match(healthProblems(pair({ heartbeat: heartbeat({ pid: 999 }) }), true).join('\n'), 'the heartbeat is from pid 999, none of');
  assert.match(healthProblems(pair({ heartbeat: undefined }), true).join('\n'), 'the heartbeat is from pid none');
  assert.match(healthProblems(pair({ heartbeat: heartbeat({ writtenAt: NOW - 1_500 }) }), true).join('\n'), 'the heartbeat is 1500 ms old');
  assert.match(healthProblems(pair({ heartbeat: heartbeat({ phase: 'starting' }) }), true).join('\n'), 'still starting');
});

Health('the writer must say it is active, and the other that it is the standby (a restarted active has not yet)', () => {
  const stale = pair({ instances: [instance(STANDBY, 0, 'active'), instance(ACTIVE, 2, 'active')] });
  assert.equal(healthProblems(stale, true), [`clock pid ${STANDBY} is not waiting as the standby yet (its role: active)`]);
  const unsaid = pair({ instances: [instance(STANDBY, 0, 'standby'), instance(ACTIVE, 2, undefined)] });
  assert.equal(healthProblems(unsaid, true), [`clock pid ${ACTIVE} writes the heartbeat but PM2 has its role as none, not active`]);
});

Health('the standby must be connected to the state lock: the heartbeat counts its waiters', () => {
  assert.equal(healthProblems(pair({ heartbeat: heartbeat({ waiters: 0 }) }), true), ['no clock waits on the state lock (the standby is not connected to it)']);
});

Health('plain mode is judged as before: two clock processes are one too many', () => {
  const one = { ...pair({ instances: [instance(ACTIVE, 0, undefined)], clocks: [ACTIVE] }) };
  assert.equal(healthProblems(one), []);
  assert.match(healthProblems({ ...one, clocks: [ACTIVE, STANDBY] }).join('\n'), `clocks of this state in the process table: ${ACTIVE}, ${STANDBY} (PM2's is ${ACTIVE})`);
});

Health.run();

// ---

const Takeovers = suite('chaos, hot standby: the takeover lines in the merged log');

const LOG = [
  'thread-1 run 2 tick 3/5 2026-11-27 05:00:00.200',
  'clock: resumed run 2 from the checkpoint: thread-1 at tick 3/5, thread-2 at tick 1/5',
  'clock: took over from clock pid 4100 in 8.3 ms (its death to ticking here)',
  'thread-1 run 2 tick 4/5 2026-11-27 05:00:00.400',
  'clock: took over from clock pid ? in 12 ms (its death to ticking here)',
  'clock: standby: clock pid 4300 is active; this clock waits, ready to take over the instant it dies',
].join('\n');

Takeovers('each line: whom it took over from, how fast, and where it ends', () => {
  const found = takeovers(LOG);
  assert.equal(found.map((t) => [t.fromPid, t.ms]), [[4100, 8.3], [undefined, 12]]);
  assert.is(LOG.slice(found[0]!.end).split('\n')[1], 'thread-1 run 2 tick 4/5 2026-11-27 05:00:00.400');
});

Takeovers('the first from a given pid; none from another', () => {
  assert.is(takeoverFrom(LOG, 4100)?.ms, 8.3);
  assert.is(takeoverFrom(LOG, 4300), undefined);
  assert.is(takeoverFrom('clock: standby: clock pid 4100 is active; this clock waits'), undefined);
});

Takeovers('the continuity verdict counts them, and a takeover is a crash that may repeat one tick', () => {
  const out = [
    'clock: no checkpoint in /s; starting run 1',
    'thread-1 run 1 tick 1/5 2026-11-27 05:00:00.200',
    'thread-1 run 1 tick 2/5 2026-11-27 05:00:00.400',
    'clock: resumed run 1 from the checkpoint: thread-1 at tick 1/5',
    'clock: took over from clock pid 4100 in 9.5 ms (its death to ticking here)',
    'thread-1 run 1 tick 2/5 2026-11-27 05:00:00.410',
    'thread-1 run 1 tick 3/5 2026-11-27 05:00:00.600',
  ].join('\n');
  const verdict = judgeContinuity(out, '');
  assert.ok(verdict.ok, verdict.problems.join('; '));
  assert.equal(verdict.takeovers, [9.5]);
  assert.is(verdict.clockStarts, 2);
  assert.is(verdict.repeats, 1);
});

Takeovers('two clocks ticking at once show in the log as repeats beyond the crashes', () => {
  // The standby starts ticking from the same checkpoint while the active goes on: every tick twice.
  const out = [
    'clock: no checkpoint in /s; starting run 1',
    'thread-1 run 1 tick 1/5 2026-11-27 05:00:00.200',
    'clock: resumed run 1 from the checkpoint: thread-1 at tick 1/5',
    'thread-1 run 1 tick 2/5 2026-11-27 05:00:00.400',
    'thread-1 run 1 tick 2/5 2026-11-27 05:00:00.401',
    'thread-1 run 1 tick 3/5 2026-11-27 05:00:00.600',
    'thread-1 run 1 tick 3/5 2026-11-27 05:00:00.601',
  ].join('\n');
  const verdict = judgeContinuity(out, '');
  assert.not.ok(verdict.ok);
  assert.match(verdict.problems.join('\n'), 'thread-1: 2 repeats for 1 crash(es)');
});

Takeovers.run();

// ---

const Writers = suite('chaos: never two ticking clocks, from the heartbeat over time');

const beat = (pid: number, writtenAt: number, phase: Heartbeat['phase'] = 'ticking', startTicks: number | null = pid) => ({ pid, startTicks, writtenAt, phase });

Writers('handovers one way (A, then B, then C): every writer once, no return', () => {
  const writers = new HeartbeatWriters();
  for (const [pid, at] of [[1, 0], [1, 250], [1, 250], [2, 520], [2, 770], [3, 1_100]] as const) writers.record(beat(pid, at));
  assert.equal(writers.result(), { samples: 5, writers: [1, 2, 3], returns: [] });
});

Writers('A, B, then A again: two clocks ticked at once', () => {
  const writers = new HeartbeatWriters();
  for (const [pid, at] of [[1, 0], [2, 100], [1, 250], [2, 350]] as const) writers.record(beat(pid, at));
  assert.equal(writers.result().returns, [
    { pid: 1, at: 250, other: 2 },
    { pid: 2, at: 350, other: 1 },
  ]);
});

Writers("a stopping owner's last write that lands late is ordered by its own time: no return", () => {
  const writers = new HeartbeatWriters();
  writers.record(beat(1, 0));
  writers.record(beat(2, 300));
  writers.record(beat(1, 240)); // seen after B's, written before it
  writers.record(beat(2, 550));
  assert.equal(writers.result().returns, []);
});

Writers("a starting clock's heartbeat is not a ticking one; a reused pid is another process", () => {
  const writers = new HeartbeatWriters();
  writers.record(beat(1, 0));
  writers.record(beat(2, 100, 'starting'));
  writers.record(beat(1, 250));
  writers.record(beat(3, 500));
  writers.record(beat(1, 800, 'ticking', 99));
  writers.record(undefined);
  assert.equal(writers.result(), { samples: 4, writers: [1, 3, 1], returns: [] });
});

Writers('the process table in hot-standby mode: two clocks are the norm, a third for longer than a period is not', () => {
  const tracker = new OverlapTracker(2);
  for (const [at, pids] of [[0, [1, 2]], [50, [1, 2, 3]], [100, [1, 2, 3]], [350, [2, 3]], [400, [2]]] as const) tracker.record(at, [...pids]);
  const result = tracker.result();
  assert.equal([result.allowed, result.most, result.longestMs, result.longest?.pids], [2, 3, 300, [1, 2, 3]]);
});

Writers.run();

// ---

const Report = suite('chaos report in hot-standby mode');

const healed = (number: number, kind: FaultResult['kind'], recoveryMs: number): FaultResult => ({ number, kind, thread: 0, recovered: true, recoveryMs, problem: undefined });

function outcome(changes: Partial<ChaosOutcome> = {}): ChaosOutcome {
  return {
    seed: 3,
    standby: true,
    planned: 2,
    results: [healed(1, 'sigkill-clock', 210), healed(2, 'sigkill-standby', 400)],
    stoppedEarly: undefined,
    continuity: {
      ok: true, ticks: 100, threads: 2, runs: 8, repeats: 1, clockStarts: 2, workerRestarts: new Map(), resets: 0, takeovers: [6.1, 9.4, 30], longestRewind: undefined, problems: [],
    },
    overlap: { samples: 400, allowed: 2, most: 2, longestMs: 0, longest: undefined, pids: new Set([1, 2, 3]) },
    writers: { samples: 80, writers: [1, 2], returns: [] },
    probePeriodMs: 200,
    evidence: undefined,
    ...changes,
  };
}

Report('says the mode, how to repeat it, the standby kill in the table, the takeovers, and both overlap checks', () => {
  const text = renderReport(outcome());
  assert.match(text, 'repeat with --faults 2 --seed 3 --standby');
  assert.match(text, /^mode: hot standby \(CLOCK_STANDBY=1\)/m);
  assert.match(text, /^sigkill-standby\s+1\s+1\/1\s+400 ms/m);
  assert.match(text, '3 takeovers logged by the standby');
  assert.match(text, 'min 6 ms, median 9 ms, max 30 ms');
  assert.match(text, '1 clock takeovers and restarts');
  assert.match(text, /^2 clock processes at a time \(the active and the standby\): at most 2 at once/m);
  assert.match(text, /^one ticking clock at a time: never two at once$/m);
  assert.match(text, 'verdict: PASS');
  assert.equal(summarize(outcome().results).map((row) => row.kind), ['sigkill-clock', 'sigkill-standby', 'all']);
});

Report('a plain run says its mode too, and no takeover line', () => {
  const text = renderReport(outcome({ standby: false, overlap: { samples: 4, allowed: 1, most: 1, longestMs: 0, longest: undefined, pids: new Set([1]) } }));
  assert.match(text, /^mode: one clock \(CLOCK_STANDBY=0\)$/m);
  assert.not.match(text, 'takeovers logged');
  assert.not.match(text, '--standby');
  assert.match(text, /^one clock at a time: at most 1 at once/m);
});

Report('two ticking clocks fail the run; so does a third clock process for longer than a probe period', () => {
  const twice = verdict(outcome({ writers: { samples: 80, writers: [1, 2], returns: [{ pid: 1, at: NOW, other: 2 }] } }));
  assert.not.ok(twice.ok);
  assert.match(twice.reasons.join('\n'), /^two clocks ticked at once: pid 1 wrote the heartbeat again at \d\d:\d\d:\d\d\.\d{3}, after pid 2 had taken it over$/m);
  const third = verdict(outcome({ overlap: { samples: 400, allowed: 2, most: 3, longestMs: 450, longest: { at: 0, pids: [1, 2, 3] }, pids: new Set([1, 2, 3]) } }));
  assert.equal(third.reasons, ['3 clocks of this state ran at once for 450 ms (pids 1, 2, 3), longer than one probe period (200 ms); 2 at most are expected']);
  assert.match(renderReport(outcome({ writers: undefined })), 'the heartbeat was not watched');
});

Report.run();

// ---

const Heals = suite("chaos: the probe's heals, from its log");

const PROBE_LOG = [
  'probe: clock pid 4980 is hung: no heartbeat for 1.1 s (limit 1 s)',
  'probe: killed hung clock pid 4980 (SIGKILL); PM2 restarts it',
  'probe: clock pid 7168 is hung: no heartbeat for 1.3 s (limit 1 s)',
  'probe: killed hung clock pid 7168 (SIGKILL); PM2 restarts it',
  'probe: clock pid 5120 is stalled: its heartbeat is fresh, but thread-1 has owed a tick for 1.5 s (limit: its interval + 1 s)',
  'probe: killed stalled clock pid 5120 (SIGKILL); PM2 restarts it',
  'probe: restarting clock (pm2 id 2) through PM2 (ghost)',
  'probe: restarting clock through PM2 (errored)',
  'probe: terminating duplicate clock pid 99 (node dist/clock/main.js): a clock of this state that PM2 does not own',
].join('\n');

const none = { hung: [], stalled: [] };

Heals('counted by kind; a clock killed as hung or stalled that no fault struck is singled out', () => {
  const noWorker = { hung: [], stalled: [], duplicate: 0, unprovoked: [] };
  assert.equal(probeHeals(PROBE_LOG, { hung: [4980], stalled: [5120] }), { hung: [4980, 7168], stalled: [5120], ghost: 1, errored: 1, duplicate: 1, unprovoked: [7168], worker: noWorker });
  assert.equal(probeHeals(PROBE_LOG, { hung: [4980, 7168], stalled: [] }).unprovoked, [5120]);
  assert.equal(probeHeals('', none), { hung: [], stalled: [], ghost: 0, errored: 0, duplicate: 0, unprovoked: [], worker: noWorker });
});

Heals('the report says them, and notes an unprovoked kill without failing the run for it', () => {
  const heals = probeHeals(PROBE_LOG, { hung: [4980], stalled: [5120] });
  const results: FaultResult[] = [
    { number: 1, kind: 'hang-clock', thread: 0, recovered: true, recoveryMs: 950, problem: undefined, target: 4980 },
    { number: 2, kind: 'stall-clock', thread: 0, recovered: true, recoveryMs: 1650, problem: undefined, target: 5120 },
  ];
  const run = outcome({ planned: 2, results, probeHeals: heals });
  const text = renderReport(run);
  assert.match(text, /^probe heals \(its log\): hung 2 \(for 1 hang-clock faults\), stalled 1 \(for 1 stall-clock faults\), ghost 1, errored 1, duplicate 1$/m);
  assert.match(text, /^ {2}NOTE: the probe killed 1 clock\(s\) as hung or stalled that no fault had struck: pid 7168/m);
  assert.ok(verdict(run).ok);
  assert.not.match(renderReport(outcome({ probeHeals: probeHeals('', none) })), 'NOTE');
});

Heals.run();
