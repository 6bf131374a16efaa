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
