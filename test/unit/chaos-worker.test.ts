import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GuardBeat } from '../../apps/shared/guard-contract.ts';
import { disturbances, type AppPids } from '../../scripts/chaos/apart.ts';
import type { ContinuityVerdict } from '../../scripts/chaos/continuity-verdict.ts';
import { workerHealthProblems } from '../../scripts/chaos/health.ts';
import type { FaultKind } from '../../scripts/chaos/plan.ts';
import { probeHeals } from '../../scripts/chaos/probe-heals.ts';
import { renderReport, summarize, verdict, type ChaosOutcome, type FaultResult } from '../../scripts/chaos/report.ts';
import type { Look } from '../../scripts/chaos/system.ts';
import { WorkerRecovery } from '../../scripts/chaos/worker-faults.ts';
import type { WorkerView } from '../../scripts/chaos/worker-look.ts';
import { workerTargets } from '../../scripts/chaos/worker-targets.ts';

let number = 0;
const healed = (kind: FaultKind, recoveryMs: number, extra: Partial<FaultResult> = {}): FaultResult => ({ number: ++number, kind, thread: 0, recovered: true, recoveryMs, problem: undefined, ...extra });

const goodContinuity = (): ContinuityVerdict => ({
  ok: true, ticks: 300, threads: 2, runs: 15, repeats: 1, clockStarts: 2, workerRestarts: new Map(), resets: 0, takeovers: [], longestRewind: undefined, problems: [],
});

/** A run with the worker beside the clock (GUARD_HANG_MS and GUARD_STALL_MS 2000, as the example declares it). */
function withWorker(results: FaultResult[], changes: Partial<ChaosOutcome> = {}): ChaosOutcome {
  return {
    seed: 5, standby: false, planned: results.length, results, stoppedEarly: undefined, continuity: goodContinuity(),
    overlap: { samples: 100, allowed: 1, most: 1, longestMs: 0, longest: undefined, pids: new Set([10]) },
    writers: { samples: 50, writers: [10], returns: [] }, probePeriodMs: 200, evidence: undefined,
    worker: { hangMs: 2000, stallMs: 2000 }, ...changes,
  };
}

const untouched = (result: FaultResult): FaultResult => ({ ...result, disturbed: [] });
const allKinds = (): FaultResult[] => [
  healed('sigkill-clock', 400), healed('kill-daemon', 1900),
  healed('hang-worker', 2300), healed('hang-worker', 2900),
  healed('stall-worker', 4400, { owedMs: 2000 }), healed('stall-worker', 3500, { owedMs: 1200 }),
  healed('sigkill-worker', 190),
].map(untouched);

// ---

const Targets = suite('chaos, the worker: its targets');

Targets('met: a hang replaced within GUARD_HANG_MS + 1 s, a stall within GUARD_STALL_MS + 1 s of its owed moment; each figure printed', () => {
  const report = renderReport(withWorker(allKinds()));
  assert.match(report, [
    'targets for faults of the worker (judged here; the verdict below judges heals and ticks):',
    '  a hung worker replaced within its GUARD_HANG_MS + 1 s (3000 ms after the fault)',
    '    kill -STOP to a new worker online with a ready beat: median 2300 ms, max 2900 ms, over 2 of 2',
    '    met',
    '  a stalled worker replaced within its GUARD_STALL_MS + 1 s of the moment it owed progress (3000 ms)',
    "    the owed moment (its last beat's owedInMs, from when that beat was seen) to a new worker online with a ready beat: median 2300 ms, max 2400 ms, over 2 of 2",
    '    (it owed progress a median of 1200 ms after kill -USR2; replaced a median of 3500 ms after it)',
    '    met',
  ].join('\n'));
  assert.not.match(report, 'NOT MET');
});

Targets('a hang replaced late, a stall replaced late past its owed moment, one whose owed moment was not seen: not met, and why', () => {
  const results = [
    healed('hang-worker', 3001),
    healed('stall-worker', 4000, { owedMs: 900 }),
    healed('stall-worker', 3000),
    { ...healed('stall-worker', 0), recovered: false, recoveryMs: undefined, problem: 'not healthy after 20 s' },
  ];
  const [hung, stalled] = workerTargets(withWorker(results));
  assert.is(hung?.met, false);
  assert.is(hung?.why, '1 replaced later than 3000 ms (3001 ms)');
  assert.is(stalled?.met, false);
  assert.is(stalled?.why, "1 not replaced; 1 without an owed moment seen in the stalled worker's beats; 1 replaced later than 3000 ms past the owed moment (3100 ms)");
  // The limits are the worker's own settings, not fixed: a longer GUARD_HANG_MS lets the same hang pass.
  assert.ok(workerTargets(withWorker([healed('hang-worker', 3001)], { worker: { hangMs: 2500, stallMs: 2000 }, kinds: ['hang-worker'] }))[0]?.met);
});

Targets('only the kinds the run had; none without the worker', () => {
  assert.equal(workerTargets(withWorker([healed('sigkill-worker', 200)], { kinds: ['sigkill-worker', 'hang-worker'] })).map((target) => target.goal.slice(0, 16)), ['a hung worker re']);
  assert.equal(workerTargets(withWorker([], { kinds: ['hang-worker'] }))[0]?.why, 'no hang-worker fault was done');
  assert.equal(workerTargets(withWorker(allKinds(), { worker: undefined })), []);
  assert.not.match(renderReport(withWorker([healed('sigkill-clock', 400)], { worker: undefined })), 'targets');
});

Targets.run();

// ---

const Apart = suite('chaos, the worker: the clock and the worker kept apart');

const pids = (clock: number, worker: number, standby = 0): AppPids => ({ clock, standby, worker });

Apart('a fault of the worker must leave the clock (and the standby) the same processes', () => {
  assert.equal(disturbances('hang-worker', pids(10, 20), pids(10, 21)), []);
  assert.equal(disturbances('stall-worker', pids(10, 20), pids(11, 21)), ['stall-worker replaced the clock (pid 10, now 11)']);
  assert.equal(disturbances('sigkill-worker', pids(10, 20, 12), pids(10, 21, 13)), ['sigkill-worker replaced the standby clock (pid 12, now 13)']);
  assert.equal(disturbances('hang-worker', pids(10, 20), pids(0, 21)), ['hang-worker replaced the clock (pid 10, now none)']);
});

Apart('a fault of the clock or the probe must leave the worker so; kill-daemon ends both; nothing to compare with no worker before', () => {
  assert.equal(disturbances('sigkill-clock', pids(10, 20), pids(11, 20)), []);
  assert.equal(disturbances('hang-clock', pids(10, 20), pids(11, 22)), ['hang-clock replaced the worker (pid 20, now 22)']);
  assert.equal(disturbances('sigkill-probe', pids(10, 20), pids(10, 23)), ['sigkill-probe replaced the worker (pid 20, now 23)']);
  assert.equal(disturbances('kill-daemon', pids(10, 20), pids(11, 21)), []);
  assert.equal(disturbances('sigkill-clock', pids(10, 0), pids(11, 24)), []);
});

Apart('the verdict fails a run whose fault touched the other app, and the report says which; otherwise it says none did', () => {
  const clean = withWorker(allKinds());
  assert.ok(verdict(clean).ok);
  const report = renderReport(clean);
  assert.match(report, 'the clock and the worker apart: 5 of 5 faults of the worker left the clock the same process; 1 of 1 faults of the clock and the probe left the worker so');
  assert.match(report, "verdict: PASS: all 7 faults recovered; no tick lost; the worker's faults never touched the clock, nor the others the worker");
  const touched = { ...healed('hang-worker', 2400), number: 8, disturbed: ['hang-worker replaced the clock (pid 10, now 11)'] };
  const run = withWorker([...allKinds(), touched]);
  assert.equal(verdict(run).reasons, ['fault 8: hang-worker replaced the clock (pid 10, now 11), which it did not strike']);
  assert.match(renderReport(run), '5 of 6 faults of the worker left the clock the same process');
  assert.match(renderReport(run), '  DISTURBED: fault 8: hang-worker replaced the clock (pid 10, now 11)');
  assert.not.match(renderReport(withWorker([healed('sigkill-clock', 400)], { worker: undefined })), 'apart');
});

Apart.run();

// ---

const Report = suite('chaos, the worker: in the report');

Report("its rows after the clock's and the probe's (hot standby's included), before the machine's; the mode says it runs", () => {
  const rows = summarize([healed('sigkill-worker', 190), healed('hang-probe', 1400), healed('hang-worker', 2300), healed('sigkill-standby', 300), healed('sigkill-clock', 400)]);
  assert.equal(rows.map((row) => row.kind), ['sigkill-clock', 'sigkill-standby', 'hang-worker', 'sigkill-worker', 'hang-probe', 'all']);
  const report = renderReport(withWorker(allKinds()));
  assert.match(report, /^stall-worker\s+2\s+2\/2\s+3500 ms\s+3500 ms\s+4400 ms$/m);
  assert.match(report, /^mode: one clock \(CLOCK_STANDBY=0\)\nbeside it: the example worker \(examples\/guarded-worker\), under the same probe: GUARD_HANG_MS 2000, GUARD_STALL_MS 2000$/m);
  assert.match(renderReport(withWorker([healed('sigkill-clock', 400)], { worker: undefined, noWorker: true })), 'repeat with --faults 1 --seed 5 --no-worker)');
});

Report("the probe's heals of the worker, from its log; a worker killed that no fault struck is noted", () => {
  const log = [
    'probe: killed hung worker pid 300 (SIGKILL); PM2 restarts it',
    'probe: killed stalled worker pid 310 (SIGKILL); PM2 restarts it',
    'probe: killed hung worker pid 320 (SIGKILL); PM2 restarts it',
    'probe: killed hung clock pid 40 (SIGKILL); PM2 restarts it',
    'probe: terminating duplicate worker pid 330 (node worker.mjs): an instance of worker on its state that PM2 does not own',
  ].join('\n');
  const heals = probeHeals(log, { hung: [40], stalled: [], worker: { hung: [300], stalled: [310] } });
  assert.equal(heals.worker, { hung: [300, 320], stalled: [310], duplicate: 1, unprovoked: [320] });
  assert.equal([heals.hung, heals.duplicate, heals.unprovoked], [[40], 0, []]);
  const report = renderReport(withWorker([healed('hang-worker', 2300, { target: 300 })], { probeHeals: heals }));
  assert.match(report, /^ {2}the worker: hung 2 \(for 1 hang-worker faults\), stalled 1 \(for 0 stall-worker faults\), duplicate 1$/m);
  assert.match(report, /^ {2}NOTE: the probe killed 1 worker\(s\) as hung or stalled that no fault had struck: pid 320/m);
});

Report.run();

// ---

const Health = suite('chaos, the worker: healthy, and replaced');

const beat = (pid: number, changes: Partial<GuardBeat> = {}): GuardBeat => ({ guard: 1, pid, seq: 1, ready: true, owedInMs: 1500, ...changes });
function view(pid: number, changes: Partial<WorkerView> = {}): WorkerView {
  return {
    app: { name: 'worker', pmId: 2, pid, status: 'online', launchedAt: 0, restarts: 0 },
    beat: beat(pid),
    beatAgeMs: 100,
    seenAt: 0,
    instances: [pid],
    ...changes,
  };
}
const lookAt = (worker: WorkerView): Look => ({ at: 0, clock: undefined, instances: [], probe: undefined, pm2Error: undefined, daemonPid: 1, clocks: [], heartbeat: undefined, worker });

Health('healthy: PM2 says it is online, it is the one instance in the process table, its beat its own, ready and fresh', () => {
  assert.equal(workerHealthProblems(view(20)), []);
  assert.equal(workerHealthProblems(view(20, { app: { name: 'worker', pmId: 2, pid: 20, status: 'launching', launchedAt: 0, restarts: 1 } })), ['PM2 says worker is launching']);
  assert.equal(workerHealthProblems(view(20, { instances: [20, 19] })), ["workers in the process table: 20, 19 (PM2's is 20)"]);
  assert.equal(workerHealthProblems(view(20, { beat: beat(19) })), ["the worker's beat is from pid 19, not PM2's worker 20"]);
  assert.equal(workerHealthProblems(view(20, { beat: beat(20, { ready: false }) })), ["the worker's beat says it is not ready yet"]);
  assert.equal(workerHealthProblems(view(20, { beatAgeMs: 1500 })), ["the worker's beat is 1500 ms old"]);
  assert.equal(workerHealthProblems(view(20, { app: undefined, beat: undefined, instances: [] })), ['PM2 says worker is not there', "the worker's beat is from pid none, not PM2's worker -"]);
});

Health('replaced once a new pid is online with a ready beat; timed from the fault on the monotonic clock; the owed moment from the last beat seen', () => {
  const recovery = new WorkerRecovery({ pid: 20, at: 1_000 });
  // The stalled worker beats on, its owed moment coming nearer: 1500 ms owed at 1100, 1250 at 1350 (the same moment, 2600).
  assert.equal(recovery.problems(lookAt(view(20, { seenAt: 1_100, beat: beat(20, { seq: 5, owedInMs: 1500 }) }))), ['PM2 has not replaced the struck worker (pid 20) yet']);
  assert.is(recovery.owedAfterMs, 1_600);
  recovery.problems(lookAt(view(20, { seenAt: 1_350, beat: beat(20, { seq: 6, owedInMs: 1260 }) })));
  // The same beat seen again later is not seen anew: its owedInMs counts from when it was first seen.
  recovery.problems(lookAt(view(20, { seenAt: 1_390, beat: beat(20, { seq: 6, owedInMs: 1260 }) })));
  assert.is(recovery.owedAfterMs, 1_610);
  const launching = view(21, { seenAt: 4_000, beat: beat(20, { seq: 7 }) });
  assert.equal(recovery.problems(lookAt(launching)), ['the new worker (pid 21) has not written a ready beat yet']);
  assert.equal(recovery.problems(lookAt(view(21, { seenAt: 4_200, beat: beat(21, { ready: false }) }))), ['the new worker (pid 21) has not written a ready beat yet']);
  assert.is(recovery.replacedAfterMs, undefined);
  assert.equal(recovery.problems(lookAt(view(21, { seenAt: 4_321.4 }))), []);
  assert.is(recovery.replacedAfterMs, 3_321);
  // The first sight counts, not a later look.
  recovery.problems(lookAt(view(21, { seenAt: 5_000 })));
  assert.is(recovery.replacedAfterMs, 3_321);
});

Health.run();
