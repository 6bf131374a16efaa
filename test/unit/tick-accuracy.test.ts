import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { accuracyOfFirstFullRun, type Lateness } from '../../scripts/bench/tick-accuracy.ts';

const run = (number: number, lateOf: (thread: number, tick: number) => number, ticks = 5): Lateness[] =>
  [1, 2].flatMap((thread) =>
    Array.from({ length: ticks }, (_, index) => ({ thread: `thread-${thread}`, run: number, tick: index + 1, lateMs: lateOf(thread, index + 1) })),
  );

const Accuracy = suite('accuracyOfFirstFullRun');

Accuracy('percentiles and max over every tick of the first complete run', () => {
  const samples = run(1, (thread, tick) => thread * tick);
  const accuracy = accuracyOfFirstFullRun(samples, 2, 5);
  assert.ok(accuracy);
  assert.is(accuracy.run, 1);
  assert.is(accuracy.ticks, 10);
  assert.is(accuracy.max, 10);
  assert.is(accuracy.p50, 4);
});

Accuracy('growth: lateness that grows through the run is reported, a flat one is not', () => {
  const growing = accuracyOfFirstFullRun(run(1, (_, tick) => tick * 2, 10), 2, 10);
  assert.ok(growing && growing.growthMs > 9, `growth ${growing?.growthMs}`);
  const flat = accuracyOfFirstFullRun(run(1, () => 1.5, 10), 2, 10);
  assert.is(flat?.growthMs, 0);
});

Accuracy('a run missing more than its rollover tick is skipped for the next complete one', () => {
  const partial = run(1, () => 1).filter((sample) => sample.tick > 2);
  const samples = [...partial, ...run(2, () => 3).slice(0, -1)];
  assert.is(accuracyOfFirstFullRun(samples, 2, 5)?.run, 2);
  assert.is(accuracyOfFirstFullRun(partial, 2, 5), undefined);
});

Accuracy.run();
