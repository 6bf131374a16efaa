import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContinuityVerdict } from '../../scripts/chaos/continuity-verdict.ts';
import { OverlapTracker, type OverlapSummary, type WritersSummary } from '../../scripts/chaos/overlap.ts';
import type { FaultKind } from '../../scripts/chaos/plan.ts';
import { createProgress, progressBar } from '../../scripts/chaos/progress.ts';
import { recoveryChart, renderReport, summarize, verdict, type ChaosOutcome, type FaultResult } from '../../scripts/chaos/report.ts';

let number = 0;
const healed = (kind: FaultKind, recoveryMs: number): FaultResult => ({ number: ++number, kind, thread: kind === 'crash-thread' ? 2 : 0, recovered: true, recoveryMs, problem: undefined });
const failed = (kind: FaultKind, problem: string): FaultResult => ({ number: ++number, kind, thread: 0, recovered: false, recoveryMs: undefined, problem });

const goodContinuity = (): ContinuityVerdict => ({
  ok: true, ticks: 400, threads: 2, runs: 20, repeats: 3, clockStarts: 6, workerRestarts: new Map([['thread-2', 1]]), resets: 1, takeovers: [], longestRewind: undefined, problems: [],
});
const calmOverlap = (): OverlapSummary => ({ samples: 600, allowed: 1, most: 1, longestMs: 0, longest: undefined, pids: new Set([10, 11, 12]) });
const calmWriters = (): WritersSummary => ({ samples: 240, writers: [10, 11, 12], returns: [] });

function outcome(results: FaultResult[], changes: Partial<ChaosOutcome> = {}): ChaosOutcome {
  return { seed: 7, standby: false, planned: results.length, results, stoppedEarly: undefined, continuity: goodContinuity(), overlap: calmOverlap(), writers: calmWriters(), probePeriodMs: 200, evidence: undefined, ...changes };
}

// ---

const Summary = suite('summarize: the table per fault kind');

Summary('count, recovered, and min / median / max of the recovered ones', () => {
  const rows = summarize([healed('sigkill-clock', 400), healed('sigkill-clock', 300), healed('sigkill-clock', 900), healed('hang-clock', 1500), failed('hang-clock', 'no')]);
  assert.equal(rows, [
    { kind: 'sigkill-clock', count: 3, recovered: 3, minMs: 300, medianMs: 400, maxMs: 900 },
    { kind: 'hang-clock', count: 2, recovered: 1, minMs: 1500, medianMs: 1500, maxMs: 1500 },
    { kind: 'all', count: 5, recovered: 4, minMs: 300, medianMs: 400, maxMs: 1500 },
  ]);
});

Summary('rows in the order of the kinds, whatever the order of the faults; none recovered shows no times', () => {
  const rows = summarize([failed('damage-checkpoint', 'no'), healed('sigkill-probe', 100), healed('sigterm-clock', 500)]);
  assert.equal(rows.map((row) => row.kind), ['sigterm-clock', 'sigkill-probe', 'damage-checkpoint', 'all']);
  assert.ok(Number.isNaN(rows[2]?.medianMs ?? 0));
  assert.match(renderReport(outcome([failed('damage-checkpoint', 'no')])), /damage-checkpoint\s+1\s+0\/1\s+-\s+-\s+-/);
});

Summary('an even count takes the lower middle (nearest rank), as the bench does', () => {
  assert.is(summarize([healed('sigkill-clock', 100), healed('sigkill-clock', 200), healed('sigkill-clock', 300), healed('sigkill-clock', 400)])[0]?.medianMs, 200);
});

Summary.run();

// ---

const Verdict = suite('verdict');

Verdict('pass: every fault recovered, no tick lost, never two clocks for long', () => {
  const result = verdict(outcome([healed('sigkill-clock', 400), healed('kill-daemon', 1500)]));
  assert.equal(result, { ok: true, reasons: [] });
  assert.match(renderReport(outcome([healed('sigkill-clock', 400)])), 'verdict: PASS: all 1 faults recovered; no tick lost');
});

Verdict('a fault that did not recover fails the run, and says why', () => {
  const results = [healed('sigkill-clock', 400), failed('hang-clock', 'not healthy after 20 s: PM2 says clock is stopped')].map((result, index) => ({ ...result, number: index + 1 }));
  const result = verdict(outcome(results));
  assert.not.ok(result.ok);
  assert.equal(result.reasons, ['fault 2 (hang-clock) did not recover: not healthy after 20 s: PM2 says clock is stopped']);
});

Verdict('a lost tick fails the run', () => {
  const continuity = { ...goodContinuity(), ok: false, problems: ['thread-1: after run 2 tick 2/5 came run 2 tick 4/5 (a tick lost or out of order)'] };
  const result = verdict(outcome([healed('sigkill-clock', 400)], { continuity }));
  assert.not.ok(result.ok);
  assert.equal(result.reasons, continuity.problems);
  assert.match(renderReport(outcome([healed('sigkill-clock', 400)], { continuity })), 'LOST: thread-1: after run 2 tick 2/5');
});

Verdict('two clocks for longer than one probe period fail the run; for exactly one period they do not', () => {
  const tracker = new OverlapTracker();
  for (const [at, pids] of [[0, [1]], [50, [1, 2]], [100, [1, 2]], [250, [2]]] as const) tracker.record(at, [...pids]);
  const over = tracker.result();
  assert.is(over.longestMs, 200);
  assert.ok(verdict(outcome([healed('kill-daemon', 1500)], { overlap: over })).ok);
  const result = verdict(outcome([healed('kill-daemon', 1500)], { overlap: over, probePeriodMs: 150 }));
  assert.equal(result.reasons, ['2 clocks of this state ran at once for 200 ms (pids 1, 2), longer than one probe period (150 ms)']);
});

Verdict('a run stopped early, or checks that did not run, fail it', () => {
  const results = [healed('sigkill-clock', 400)];
  assert.equal(verdict(outcome(results, { planned: 3, stoppedEarly: 'PM2 is gone' })).reasons, ['only 1 of 3 faults were done: PM2 is gone']);
  assert.equal(verdict(outcome(results, { continuity: undefined, overlap: undefined })).reasons, ['the tick continuity was not checked', 'the process table was not watched']);
});

Verdict.run();

// ---

const Overlap = suite('OverlapTracker');

Overlap('the longest stretch with more than one clock, the most at once, every pid seen', () => {
  const tracker = new OverlapTracker();
  const samples: [number, number[]][] = [[0, [1]], [50, [1, 2]], [100, [2]], [150, []], [200, [3]], [250, [3, 4, 5]], [300, [3, 4]], [400, [4]]];
  for (const [at, pids] of samples) tracker.record(at, pids);
  const result = tracker.result();
  assert.is(result.samples, 8);
  assert.is(result.most, 3);
  assert.is(result.longestMs, 150);
  assert.equal(result.longest, { at: 250, pids: [3, 4, 5] });
  assert.equal([...result.pids].sort(), [1, 2, 3, 4, 5]);
});

Overlap('a stretch still open at the end counts up to the last sample', () => {
  const tracker = new OverlapTracker();
  tracker.record(0, [1, 2]);
  tracker.record(500, [1, 2]);
  assert.is(tracker.result().longestMs, 500);
});

Overlap('never more than one: no stretch at all', () => {
  const tracker = new OverlapTracker();
  for (let at = 0; at < 1000; at += 50) tracker.record(at, at % 200 === 0 ? [] : [7]);
  assert.equal({ ...tracker.result(), pids: [...tracker.result().pids] }, { samples: 20, allowed: 1, most: 1, longestMs: 0, longest: undefined, pids: [7] });
});

Overlap.run();

// ---

const Chart = suite('recoveryChart and progress');

Chart('a line chart of the recovered faults in order, labelled in ms', () => {
  const chart = recoveryChart([healed('sigkill-clock', 400), failed('hang-clock', 'no'), healed('hang-clock', 1500), healed('sigkill-probe', 120)]);
  const lines = chart.split('\n');
  assert.match(lines[0] ?? '', /^\s+1500 [┤┼]/);
  assert.match(chart, /\s0 [┤┼]/);
  assert.match(chart, 'faults 1 to 3 that recovered');
});

Chart('many faults share columns, so that the chart fits a terminal', () => {
  const results = Array.from({ length: 250 }, (_, index) => healed('sigkill-clock', 300 + (index % 7) * 10));
  const chart = recoveryChart(results);
  assert.ok(chart.split('\n').every((line) => line.length <= 120), 'too wide');
  assert.match(chart, 'faults 1 to 250, 3 to a column (the slowest shown)');
});

Chart('nothing recovered: said, not drawn', () => {
  assert.is(recoveryChart([failed('sigkill-clock', 'no')]), '  (no fault recovered: nothing to chart)');
});

Chart('progress: a bar on a terminal; plain lines, outcomes only, elsewhere', () => {
  assert.is(progressBar(3, 12, 12), '[###---------]');
  assert.is(progressBar(0, 0, 4), '[----]');
  const written: string[] = [];
  const pipe = { isTTY: false, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
  const progress = createProgress(pipe);
  progress.working(0, 2, 'next: hang-clock after 900 ms');
  progress.update(1, 2, 'hang-clock: recovered in 1400 ms');
  progress.note('waiting 12 s');
  progress.finish();
  assert.equal(written, ['chaos: 1/2 hang-clock: recovered in 1400 ms\n', 'chaos: waiting 12 s\n']);
});

Chart.run();

// ---

const Machine = suite('--machine: the rows and the targets of the faults of the machine');

const machineOutcome = (results: FaultResult[], changes: Partial<ChaosOutcome> = {}) => outcome(results, { machine: true, probeHangMs: 1000, ...changes });
const times = (kind: FaultKind, ...ms: number[]) => ms.map((value) => ({ ...healed(kind, value), falseHeals: [] as string[] }));
const fullRun = (): FaultResult[] => [
  ...times('fill-log', 1400, 1300, 1600, 1500, 1450).map((result) => ({ ...result, heldAfterMs: 6000 })),
  ...times('fill-state', 600, 700, 650, 550, 800),
  ...times('readonly-state', 700, 600, 620, 640, 660),
  ...times('step-back-clock', 200, 210),
  ...times('step-ahead-clock', 190, 205),
  ...times('step-back-probe', 150),
  ...times('step-ahead-probe', 180),
  ...times('hang-probe', 1400, 1500, 2100),
  healed('sigkill-clock', 400),
];

Machine('rows of the machine kinds after the plain ones, in the order of the kinds', () => {
  const rows = summarize([healed('hang-probe', 1400), healed('fill-log', 1500), healed('sigkill-clock', 400), healed('step-ahead-probe', 150)]);
  assert.equal(rows.map((row) => row.kind), ['sigkill-clock', 'fill-log', 'step-ahead-probe', 'hang-probe', 'all']);
  const report = renderReport(machineOutcome(fullRun()));
  assert.match(report, /^fill-log\s+5\s+5\/5\s+1300 ms\s+1450 ms\s+1600 ms$/m);
  assert.match(report, /^hang-probe\s+3\s+3\/3\s+1400 ms\s+1500 ms\s+2100 ms$/m);
  assert.match(report, /^all\s+25\s+25\/25\s/m);
  assert.match(report, 'repeat with --faults 25 --seed 7 --machine)');
  assert.match(report, /^mode: one clock \(CLOCK_STANDBY=0\), and faults of the machine \(--machine\)/m);
});

Machine('every target met: each figure printed with it', () => {
  const report = renderReport(machineOutcome(fullRun()));
  assert.match(report, [
    '  after the state\'s or the log\'s filesystem frees up: ticking again, nothing missing from the log, within 5 s (median over ≥ 5 of each)',
    '    median from the disk given back to the first tick after: fill-log 1450 ms (5 of 5), fill-state 650 ms (5 of 5), readonly-state 640 ms (5 of 5); nothing missing from the log: yes',
    '    (the clock said it held, by PM2\'s held metric, a median of fill-log 6000 ms, fill-state -, readonly-state - after the fault)',
    '    met',
  ].join('\n'));
  assert.match(report, '  0 false heals over ≥ 10 clock steps of ±1 h in either process\n    0 false heals over 12 steps: 6 step faults (of 6)');
  assert.match(report, '  a hung probe replaced within PROBE_HANG_MS + 2 s (3000 ms)\n    kill -STOP to a new probe online, the stopped one gone: median 1500 ms, max 2100 ms, over 3 of 3\n    met');
  assert.not.match(report, 'NOT MET');
  assert.match(report, 'verdict: PASS');
});

Machine('not met: a slow disk, too few faults, a false heal, a slow probe, a tick missing; each says why', () => {
  const results = fullRun().map((result) => (result.kind === 'fill-state' ? { ...result, recoveryMs: 5200 } : result));
  const falseHeal = { ...failed('step-back-clock', 'false heal: the probe pid 9 healed the clock as hung'), falseHeals: ['the probe pid 9 healed the clock as hung'] };
  const slowProbe = healed('hang-probe', 3100);
  const fewer = results.filter((result) => !(result.kind === 'readonly-state' && result.recoveryMs === 700));
  const report = renderReport(machineOutcome([...fewer, falseHeal, slowProbe], { continuity: { ...goodContinuity(), ok: false, problems: ['thread-1: after run 2 tick 2/5 came run 2 tick 4/5'] } }));
  assert.match(report, 'NOT MET: fill-state median over 5 s; 4 readonly-state of the 5 needed; ticks missing from the log');
  assert.match(report, 'NOT MET: 1 false heal(s): the probe pid 9 healed the clock as hung');
  assert.match(report, '1 false heals over 14 steps: 7 step faults (of 7)');
  assert.match(report, 'NOT MET: 1 replaced later than 3000 ms');
  assert.match(report, /fault \d+ \(step-back-clock\) did not recover: false heal: the probe pid 9 healed the clock as hung/);
});

Machine('too few steps is not met; a step that failed for another reason is not counted as a step', () => {
  const results = [...times('step-back-clock', 200, 210), { ...failed('step-ahead-probe', 'could not be done: the probe (pid 5) does not run under libfaketime'), falseHeals: [] }];
  const report = renderReport(machineOutcome(results, { kinds: ['step-back-clock', 'step-ahead-probe'] }));
  assert.match(report, '0 false heals over 4 steps: 2 step faults (of 3)');
  assert.match(report, 'NOT MET: 4 steps of the 10 needed');
  assert.not.match(report, 'hung probe replaced', '--kinds left hang-probe out: no target for it');
  assert.not.match(report, 'filesystem frees up');
  assert.match(report, 'repeat with --faults 3 --seed 7 --machine --kinds step-back-clock,step-ahead-probe)');
});

Machine('a plain run has no targets of the machine', () => {
  assert.not.match(renderReport(outcome([healed('sigkill-clock', 400)])), 'targets');
});

Machine.run();
