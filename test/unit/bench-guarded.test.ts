import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { guardedFigures } from '../../scripts/bench/figures.ts';
import type { GuardedMeasurements } from '../../scripts/bench/guarded-apps.ts';
import { parseOptions, type Options } from '../../scripts/bench/options.ts';

const Flags = suite("npm run bench: the guarded apps' options");

Flags('small defaults: 20 apps, 60 s windows, 3 hangs and 3 stalls', () => {
  const options = parseOptions([]) as Options;
  assert.equal([options.guardedApps, options.guardedSeconds, options.workerHangs, options.workerStalls], [20, 60, 3, 3]);
});

Flags('0 apps leaves the rows out; 1 (the clock, no worker) and a short window are refused in one line', () => {
  assert.is((parseOptions(['--guarded-apps', '0']) as Options).guardedApps, 0);
  assert.throws(() => parseOptions(['--guarded-apps', '1']), /^--guarded-apps expects a whole number from 2 to 200, got "1"$/);
  assert.throws(() => parseOptions(['--guarded-seconds', '5']), /^--guarded-seconds expects a whole number from 10, got "5"$/);
  assert.throws(() => parseOptions(['--worker-stalls', 'two']), /^--worker-stalls expects a whole number from 1, got "two"$/);
});

Flags.run();

// ---

const Figures = suite('npm run bench: the guarded apps\' rows');

function measured(overrides: Partial<GuardedMeasurements> = {}): GuardedMeasurements {
  return {
    apps: 20,
    alone: { apps: 1, percent: 0.3, seconds: 60, fullScans: 1 },
    many: { apps: 20, percent: 0.68, seconds: 60, fullScans: 20 },
    hangs: [
      { worker: 'worker-1', signal: 'SIGUSR1', replacedMs: 2_700 },
      { worker: 'worker-2', signal: 'SIGSTOP', replacedMs: 2_500 },
      { worker: 'worker-3', signal: 'SIGUSR1', replacedMs: 3_400 },
    ],
    stalls: [
      { worker: 'worker-4', signal: 'SIGUSR2', replacedMs: 3_900, owedMs: 1_200 },
      { worker: 'worker-5', signal: 'SIGUSR2', replacedMs: 4_100, owedMs: 1_500 },
      { worker: 'worker-6', signal: 'SIGUSR2', replacedMs: 5_000, owedMs: 1_000 },
    ],
    failures: [],
    ...overrides,
  };
}

Figures('the CPU row: the total against 1 %, per app, and each app beyond the clock alone', () => {
  const [cpu] = guardedFigures(measured());
  assert.equal([cpu?.name, cpu?.value, cpu?.target, cpu?.met], ['probe CPU, 20 guarded apps, nothing failing', '0.68 % of a core; per app 0.034 %', '< 1 %', true]);
  assert.is(cpu?.anchor, 'clock alone: 0.30 %; each app beyond it +0.020 %; 20 full scans in 60 s');
  assert.is(guardedFigures(measured({ many: { apps: 20, percent: 1.2, seconds: 60, fullScans: 20 } }))[0]?.met, false);
  assert.is(guardedFigures(measured({ many: { apps: 19, percent: 0.5, seconds: 60, fullScans: 19 } }))[0]?.met, false, 'an app the probe did not guard');
});

Figures('hung: the median from the fault against the hang setting + 1 s, with how the hangs were made', () => {
  const hung = guardedFigures(measured())[1]!;
  assert.equal([hung.value, hung.target, hung.met], ['2700 ms (min 2500, max 3400); SIGUSR1 x2, SIGSTOP x1', '<= 3000 ms', true]);
  const slow = measured({ hangs: [{ worker: 'worker-1', signal: 'SIGUSR1', replacedMs: 3_100 }] });
  assert.is(guardedFigures(slow)[1]?.met, false);
  const failed = measured({ failures: ['worker-3 pid 7 (SIGSTOP) was not replaced within 15 s; the bench killed it'] });
  assert.match(guardedFigures(failed)[1]!.value, /; 1 not replaced; /);
  assert.is(guardedFigures(failed)[1]?.met, false);
});

Figures('stalled: the median past each stall\'s own owed moment against the stall setting + 1 s', () => {
  const stalled = guardedFigures(measured())[2]!;
  assert.equal([stalled.value, stalled.target, stalled.met], ['2700 ms (min 2600, max 4000) past its owed moment', '<= owed + 3000 ms', true]);
  assert.is(stalled.anchor, 'from the fault: 4100 ms, owed 1200 ms after it; stalled 2000 ms past it');
  const late = measured({ stalls: [{ worker: 'worker-4', signal: 'SIGUSR2', replacedMs: 4_300, owedMs: 1_200 }] });
  assert.is(guardedFigures(late)[2]?.met, false);
  const unknown = measured({ stalls: [{ worker: 'worker-4', signal: 'SIGUSR2', replacedMs: 3_000, owedMs: Number.NaN }] });
  assert.is(guardedFigures(unknown)[2]?.met, false, 'an owed moment never seen is no figure');
});

Figures.run();
