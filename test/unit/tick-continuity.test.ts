import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatTickLine } from '../../apps/shared/tick-line.ts';
import { judgeContinuity } from '../../scripts/chaos/continuity-verdict.ts';
import { checkContinuity, resetTimeMs, withResetLines } from '../../scripts/lib/tick-continuity.ts';

/**
 * Clock logs as PM2 writes them, built tick by tick: `tick(thread, run, n, atMs)`. Times are ms since
 * the epoch and printed in local time, as the clock does, so the tests hold in any time zone.
 */
const T0 = Date.UTC(2026, 10, 27, 2, 15, 0);
const tick = (thread: number, run: number, n: number, at: number, ticks = 5) => formatTickLine(`thread-${thread}`, run, n, ticks, T0 + at);
const resetLine = (at: number) => {
  const stamp = new Date(T0 + at).toISOString().replace(/[:.]/g, '-');
  return `clock: the checkpoint was damaged (not JSON (truncated?)); moved it aside to /tmp/s/checkpoint.json.damaged-${stamp}; starting a fresh run 1`;
};
const log = (...lines: string[]) => `${lines.join('\n')}\n`;

/** Two threads through runs 1 and 2 and into 3, 5 ticks a run, with clock lines between. */
function cleanLog(): string[] {
  const lines = ['clock: no checkpoint in /tmp/s; starting run 1'];
  let at = 0;
  for (const run of [1, 2]) {
    for (let n = 1; n <= 5; n++) lines.push(tick(1, run, n, (at += 100)), tick(2, run, n, (at += 100)));
    lines.push(`clock: run ${run} complete; starting run ${run + 1}`);
  }
  lines.push(tick(1, 3, 1, (at += 100)));
  return lines;
}

// ---

const Check = suite('checkContinuity');

Check('a clean log: every tick follows the one before, across runs', () => {
  const continuity = checkContinuity(log(...cleanLog()));
  assert.is(continuity.breaks, 0);
  assert.is(continuity.repeats, 0);
  assert.is(continuity.resets, 0);
  assert.is(continuity.threads.get('thread-1')?.ticks, 11);
  assert.is(continuity.threads.get('thread-1')?.runs, 3);
  assert.is(continuity.threads.get('thread-2')?.last.tick, 5);
});

Check('an immediate repeat is a repeat, not a break', () => {
  const continuity = checkContinuity(log(tick(1, 1, 1, 0), tick(1, 1, 2, 100), 'clock: resumed run 1 from the checkpoint: thread-1 at tick 1/5', tick(1, 1, 2, 300), tick(1, 1, 3, 400)));
  assert.is(continuity.repeats, 1);
  assert.is(continuity.breaks, 0);
});

Check('a skipped tick is a break: the verifier can fail', () => {
  const lines = cleanLog();
  const gapped = lines.filter((line) => line !== tick(2, 2, 3, 1600));
  assert.is(gapped.length, lines.length - 1, 'the test removed one tick line');
  const continuity = checkContinuity(log(...gapped));
  assert.is(continuity.breaks, 1);
  assert.equal(continuity.threads.get('thread-2')?.breaks, [{ after: 'run 2 tick 2/5', got: 'run 2 tick 4/5' }]);
});

Check('a tick going backwards, or a run skipped, is a break', () => {
  assert.is(checkContinuity(log(tick(1, 1, 3, 0), tick(1, 1, 2, 100))).breaks, 1);
  assert.is(checkContinuity(log(tick(1, 1, 5, 0), tick(1, 3, 1, 100))).breaks, 1);
  assert.is(checkContinuity(log(tick(1, 1, 4, 0), tick(1, 2, 1, 100))).breaks, 1, 'a run left before its last tick');
});

Check('back to run 1 tick 1 without a damaged-checkpoint line is a break: a reset must be accounted for', () => {
  const continuity = checkContinuity(log(tick(1, 2, 3, 0), tick(2, 2, 2, 100), tick(1, 1, 1, 900), tick(2, 1, 1, 1000)));
  assert.is(continuity.breaks, 2);
  assert.equal(continuity.threads.get('thread-1')?.breaks, [{ after: 'run 2 tick 3/5', got: 'run 1 tick 1/5' }]);
});

Check('after a damaged-checkpoint line, each thread starting again at run 1 tick 1 is a reset, not a break', () => {
  const continuity = checkContinuity(log(tick(1, 2, 3, 0), tick(2, 2, 2, 100), resetLine(500), tick(1, 1, 1, 900), tick(2, 1, 1, 1000), tick(1, 1, 2, 1100)));
  assert.is(continuity.breaks, 0);
  assert.is(continuity.resets, 1);
  assert.is(continuity.threads.get('thread-1')?.resets, 1);
  assert.is(continuity.threads.get('thread-2')?.runs, 2);
});

Check('after a damaged-checkpoint line, anything but run 1 tick 1 is a break', () => {
  const continuity = checkContinuity(log(tick(1, 2, 3, 0), resetLine(500), tick(1, 2, 4, 900)));
  assert.is(continuity.breaks, 1);
  assert.match(continuity.threads.get('thread-1')?.breaks[0]?.after ?? '', 'then a damaged checkpoint');
});

Check('a reset accounts for one restart only: a later jump back to run 1 is a break again', () => {
  const continuity = checkContinuity(log(tick(1, 2, 3, 0), resetLine(500), tick(1, 1, 1, 900), tick(1, 1, 2, 1000), tick(1, 1, 1, 1100)));
  assert.is(continuity.breaks, 1);
});

Check('a jump back announced by a resume line: a break by default, as before; with rewinds, repeats', () => {
  const text = log(
    tick(1, 1, 4, 0), tick(1, 1, 5, 100), tick(1, 2, 1, 200), tick(1, 2, 2, 300),
    'clock: resumed run 1 from the checkpoint: thread-1 at tick 4/5',
    tick(1, 1, 5, 900), tick(1, 2, 1, 1000), tick(1, 2, 2, 1100), tick(1, 2, 3, 1200),
  );
  const strict = checkContinuity(text);
  assert.is(strict.breaks, 1);
  const lenient = checkContinuity(text, { rewinds: true });
  assert.is(lenient.breaks, 0);
  assert.is(lenient.repeats, 3, 'run 1 tick 5, run 2 ticks 1 and 2 printed again');
  assert.equal(lenient.threads.get('thread-1')?.rewinds, [{ after: 'run 2 tick 2/5', got: 'run 1 tick 5/5', ticks: 3 }]);
});

Check('with rewinds, still a loss: a jump back no resume line announced, or not to where it said, or a gap after it', () => {
  const rewinds = { rewinds: true };
  assert.is(checkContinuity(log(tick(1, 1, 3, 0), tick(1, 1, 4, 100), tick(1, 1, 2, 200), tick(1, 1, 3, 300)), rewinds).breaks, 1, 'unannounced');
  const elsewhere = log(tick(1, 1, 3, 0), tick(1, 1, 4, 100), 'clock: resumed run 1 from the checkpoint: thread-1 at tick 2/5', tick(1, 1, 2, 200));
  assert.is(checkContinuity(elsewhere, rewinds).breaks, 1, 'announced tick 3 next, printed tick 2');
  const otherThread = log(tick(1, 1, 3, 0), tick(1, 1, 4, 100), 'clock: resumed run 1 from the checkpoint: thread-2 at tick 1/5', tick(1, 1, 2, 200));
  assert.is(checkContinuity(otherThread, rewinds).breaks, 1, 'announced for another thread');
  const gapAfter = log(tick(1, 1, 3, 0), tick(1, 1, 4, 100), 'clock: resumed run 1 from the checkpoint: thread-1 at tick 1/5', tick(1, 1, 2, 200), tick(1, 1, 4, 300));
  assert.is(checkContinuity(gapAfter, rewinds).breaks, 1, 'replayed 2, then skipped 3');
});

Check('with rewinds, back to run 1 without the damaged-checkpoint line is still a loss, from a log that began at run 1', () => {
  const text = log(...cleanLog(), 'clock: no checkpoint in /tmp/s; starting run 1', tick(1, 1, 1, 5000), tick(2, 1, 1, 5100));
  const continuity = checkContinuity(text, { rewinds: true });
  assert.is(continuity.breaks, 2);
  assert.is(continuity.repeats, 0);
});

Check("a real log: PM2's daemon killed just after run 8 began; the next clock printed from run 7 again", () => {
  // From a chaos run (--faults 50 --seed 7): the clock took back what run 8 had printed, and run 7's last tick.
  const excerpt = [
    'thread-1 run 7 tick 5/5 2026-11-27 04:21:27.908',
    'thread-2 run 7 tick 3/5 2026-11-27 04:21:28.108',
    'thread-2 run 7 tick 4/5 2026-11-27 04:21:28.509',
    'thread-2 run 7 tick 5/5 2026-11-27 04:21:28.909',
    'clock: run 7 complete; starting run 8',
    'thread-1 run 8 tick 1/5 2026-11-27 04:21:29.110',
    'thread-1 run 8 tick 2/5 2026-11-27 04:21:29.309',
    'thread-2 run 8 tick 1/5 2026-11-27 04:21:29.309',
    'thread-1 run 8 tick 3/5 2026-11-27 04:21:29.510',
    'clock: resumed run 7 from the checkpoint: thread-1 at tick 5/5, thread-2 at tick 4/5',
    'thread-2 run 7 tick 5/5 2026-11-27 04:21:31.251',
    'clock: run 7 complete; starting run 8',
    'thread-1 run 8 tick 1/5 2026-11-27 04:21:31.450',
    'thread-2 run 8 tick 1/5 2026-11-27 04:21:31.650',
    'thread-1 run 8 tick 2/5 2026-11-27 04:21:31.651',
    'thread-1 run 8 tick 3/5 2026-11-27 04:21:31.861',
    'thread-1 run 8 tick 4/5 2026-11-27 04:21:32.052',
    'thread-2 run 8 tick 2/5 2026-11-27 04:21:32.051',
  ].join('\n');
  assert.is(checkContinuity(excerpt).breaks, 2, 'the strict reading calls it a break');
  const continuity = checkContinuity(excerpt, { rewinds: true });
  assert.is(continuity.breaks, 0, 'no tick number is missing');
  assert.is(continuity.threads.get('thread-1')?.repeats, 3);
  assert.is(continuity.threads.get('thread-2')?.repeats, 2);
});

Check.run();

// ---

const Merge = suite('withResetLines: the error log\'s reset lines put in place by time');

Merge('the reset time is read from the name the damaged file was moved aside to', () => {
  assert.is(resetTimeMs(resetLine(1234)), T0 + 1234);
  assert.is(resetTimeMs('clock: the checkpoint was damaged (x); moved it aside to /s/checkpoint.json.damaged-2026-11-27T02-15-01-234Z-1; starting a fresh run 1'), T0 + 1234);
  assert.is(resetTimeMs('clock: something else'), undefined);
});

Merge('each reset line goes before the first tick at or after its time', () => {
  const out = log('clock: resumed run 2 from the checkpoint', tick(1, 2, 3, 0), tick(2, 2, 2, 100), tick(1, 1, 1, 900), tick(2, 1, 1, 1000));
  const err = log('clock: injecting a crash into thread-1 (CLOCK_FAULTS=1)', resetLine(500));
  const merged = withResetLines(out, err).split('\n');
  assert.is(merged.indexOf(resetLine(500)), merged.indexOf(tick(1, 1, 1, 900)) - 1);
  assert.ok(!merged.includes('clock: injecting a crash into thread-1 (CLOCK_FAULTS=1)'), 'only reset lines are taken');
  assert.is(checkContinuity(withResetLines(out, err)).breaks, 0);
});

Merge('without the error log\'s line the same out log is a loss', () => {
  const out = log(tick(1, 2, 3, 0), tick(1, 1, 1, 900));
  assert.is(checkContinuity(withResetLines(out, '')).breaks, 1);
  assert.is(checkContinuity(withResetLines(out, log('clock: worker restarted'))).breaks, 1);
});

Merge('a reset after the ticks it would explain explains nothing', () => {
  const out = log(tick(1, 2, 3, 0), tick(1, 1, 1, 900));
  assert.is(checkContinuity(withResetLines(out, log(resetLine(950)))).breaks, 1);
});

Merge('a reset line whose time cannot be read goes at the end', () => {
  const out = log(tick(1, 2, 3, 0), tick(1, 1, 1, 900));
  const unreadable = 'clock: the checkpoint was damaged (empty file); moved it aside to /s/elsewhere; starting a fresh run 1';
  assert.ok(withResetLines(out, unreadable).trimEnd().endsWith(unreadable));
  assert.is(checkContinuity(withResetLines(out, unreadable)).breaks, 1);
});

Merge('no reset line: the out log unchanged', () => {
  const out = log(...cleanLog());
  assert.is(withResetLines(out, 'clock: thread-1 exited with code 1 after 0.3 s\n'), out);
});

Merge.run();

// ---

const Judge = suite('judgeContinuity: the chaos verdict');

Judge('a clean log passes, and counts what it checked', () => {
  const verdict = judgeContinuity(log(...cleanLog()), '');
  assert.ok(verdict.ok, verdict.problems.join('; '));
  assert.is(verdict.ticks, 21);
  assert.is(verdict.threads, 2);
  assert.is(verdict.runs, 3);
  assert.is(verdict.clockStarts, 1);
});

Judge('a log with a gap is reported as a loss', () => {
  const lines = cleanLog().filter((line) => line !== tick(1, 2, 1, 1100));
  const verdict = judgeContinuity(log(...lines), '');
  assert.not.ok(verdict.ok);
  assert.equal(verdict.problems, ['thread-1: after run 1 tick 5/5 came run 2 tick 2/5 (a tick lost or out of order)']);
});

Judge('a reset without its damaged-checkpoint line is reported as a loss; with it, it passes', () => {
  const out = log('clock: resumed run 2 from the checkpoint: thread-1 at tick 2/5', tick(1, 2, 3, 0), tick(1, 1, 1, 900), tick(1, 1, 2, 1000));
  const without = judgeContinuity(out, '');
  assert.not.ok(without.ok);
  assert.match(without.problems.join(), 'thread-1: after run 2 tick 3/5 came run 1 tick 1/5');
  const withLine = judgeContinuity(out, log(resetLine(500)));
  assert.ok(withLine.ok, withLine.problems.join('; '));
  assert.is(withLine.resets, 1);
  assert.is(withLine.clockStarts, 2, 'the fresh start counts as a clock start');
});

Judge('repeats: one per thread per clock restart is allowed, more is not', () => {
  const resumed = 'clock: resumed run 1 from the checkpoint: thread-1 at tick 1/5';
  const once = log('clock: no checkpoint in /s; starting run 1', tick(1, 1, 1, 0), tick(1, 1, 2, 100), resumed, tick(1, 1, 2, 300), tick(1, 1, 3, 400));
  assert.ok(judgeContinuity(once, '').ok);
  const twice = log('clock: no checkpoint in /s; starting run 1', tick(1, 1, 1, 0), tick(1, 1, 2, 100), resumed, tick(1, 1, 2, 300), tick(1, 1, 3, 400), tick(1, 1, 3, 500));
  const verdict = judgeContinuity(twice, '');
  assert.not.ok(verdict.ok);
  assert.equal(verdict.problems, ['thread-1: 2 repeats for 1 crash(es): at most one per crash']);
});

Judge('a worker restart allows a repeat of that thread only', () => {
  const out = log(tick(1, 1, 1, 0), tick(2, 1, 1, 50), tick(1, 1, 2, 100), tick(1, 1, 2, 300), tick(2, 1, 2, 350), tick(2, 1, 2, 400));
  const err = log('clock: thread-1 exited with code 1 after 0.2 s (thread-1: injected crash (CLOCK_FAULTS=1)); restarting it from the checkpoint (restart 1 of 3 allowed in 30 s)');
  const verdict = judgeContinuity(out, err);
  assert.equal(verdict.workerRestarts.get('thread-1'), 1);
  assert.equal(verdict.problems, ['thread-2: 1 repeats for 0 crash(es): at most one per crash']);
});

Judge('a rewind after a restart: no loss, its ticks count as repeats, and the longest is reported', () => {
  const out = log('clock: no checkpoint in /s; starting run 1', tick(1, 1, 4, 0), tick(1, 1, 5, 100), tick(1, 2, 1, 200), 'clock: resumed run 1 from the checkpoint: thread-1 at tick 4/5', tick(1, 1, 5, 900), tick(1, 2, 1, 1000));
  const one = judgeContinuity(out, '');
  assert.equal(one.problems, ['thread-1: 2 repeats for 1 crash(es): at most one per crash']);
  assert.equal(one.longestRewind, { thread: 'thread-1', after: 'run 2 tick 1/5', got: 'run 1 tick 5/5', ticks: 2 });
  const twoCrashes = log('clock: no checkpoint in /s; starting run 1', tick(1, 1, 3, 0), 'clock: resumed run 1 from the checkpoint: thread-1 at tick 3/5', ...out.trimEnd().split('\n').slice(1));
  assert.ok(judgeContinuity(twoCrashes, '').ok);
});

Judge('an empty log is no pass', () => {
  assert.not.ok(judgeContinuity('', '').ok);
});

Judge.run();
