import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_FAULTS, MAX_FAULTS, parseChaosArgs } from '../../scripts/chaos/options.ts';
import { FAULT_KINDS, MACHINE_RUN_KINDS, WORKER_FAULT_KINDS } from '../../scripts/chaos/plan.ts';

const seed42 = () => 42;

const Defaults = suite('chaos options: defaults and help');

Defaults('no options: the worker beside the clock, two rounds of every fault (the worker\'s too), and a fresh seed', () => {
  assert.equal(parseChaosArgs([], seed42), { kind: 'run', options: { faults: DEFAULT_FAULTS, seed: 42, standby: false, cluster: false, machine: false, worker: true } });
  assert.is(DEFAULT_FAULTS, 2 * (FAULT_KINDS.length + WORKER_FAULT_KINDS.length));
  assert.is(DEFAULT_FAULTS, 22);
});

Defaults('--no-worker: no worker, and two rounds of the clock\'s and the probe\'s kinds alone', () => {
  assert.equal(parseChaosArgs(['--no-worker'], seed42), { kind: 'run', options: { faults: 2 * FAULT_KINDS.length, seed: 42, standby: false, cluster: false, machine: false, worker: false } });
  assert.equal(parseChaosArgs(['--standby', '--no-worker'], seed42), { kind: 'run', options: { faults: 18, seed: 42, standby: true, cluster: false, machine: false, worker: false } });
  assert.is(parseChaosArgs(['--no-worker=1']).kind, 'usage');
});

Defaults('--faults and --seed, in either spelling', () => {
  assert.equal(parseChaosArgs(['--faults', '7', '--seed', '1'], seed42), { kind: 'run', options: { faults: 7, seed: 1, standby: false, cluster: false, machine: false, worker: true } });
  assert.equal(parseChaosArgs(['--faults=50', '--seed=0'], seed42), { kind: 'run', options: { faults: 50, seed: 0, standby: false, cluster: false, machine: false, worker: true } });
  assert.equal(parseChaosArgs(['--seed', '4294967295'], seed42), { kind: 'run', options: { faults: DEFAULT_FAULTS, seed: 4294967295, standby: false, cluster: false, machine: false, worker: true } });
});

Defaults('--standby: hot-standby mode, and two rounds of its 9 kinds and the worker\'s 3 by default', () => {
  assert.equal(parseChaosArgs(['--standby'], seed42), { kind: 'run', options: { faults: 24, seed: 42, standby: true, cluster: false, machine: false, worker: true } });
  assert.equal(parseChaosArgs(['--faults', '8', '--seed', '3', '--standby'], seed42), { kind: 'run', options: { faults: 8, seed: 3, standby: true, cluster: false, machine: false, worker: true } });
  assert.is(parseChaosArgs(['--standby=1']).kind, 'usage');
  assert.equal(parseChaosArgs(['--cluster'], seed42), { kind: 'run', options: { faults: 10, seed: 42, standby: false, cluster: true, machine: false, worker: false } });
  assert.is(parseChaosArgs(['--cluster', '--standby']).kind, 'usage');
});

Defaults('--machine: the plain kinds and the machine\'s, two rounds of 16 by default; a separate run from --standby and --cluster', () => {
  // No worker with --machine: a full STATE_DIR stops its beats, and its heal would be a false one.
  assert.equal(parseChaosArgs(['--machine'], seed42), { kind: 'run', options: { faults: 2 * MACHINE_RUN_KINDS.length, seed: 42, standby: false, cluster: false, machine: true, worker: false } });
  assert.is(MACHINE_RUN_KINDS.length, 16);
  for (const other of ['--standby', '--cluster']) {
    const parsed = parseChaosArgs(['--machine', other]);
    assert.equal(parsed, { kind: 'usage', message: '--standby, --cluster and --machine are separate runs: give one of them' });
  }
});

Defaults('--kinds: only those of the mode, in the mode\'s order, two rounds of them by default', () => {
  assert.equal(parseChaosArgs(['--machine', '--kinds', 'hang-probe, fill-log,sigkill-clock'], seed42), {
    kind: 'run',
    options: { faults: 6, seed: 42, standby: false, cluster: false, machine: true, worker: false, kinds: ['sigkill-clock', 'fill-log', 'hang-probe'] },
  });
  assert.equal(parseChaosArgs(['--kinds=hang-clock', '--faults', '3'], seed42), { kind: 'run', options: { faults: 3, seed: 42, standby: false, cluster: false, machine: false, worker: true, kinds: ['hang-clock'] } });
  assert.equal(parseChaosArgs(['--kinds', 'sigkill-worker,sigkill-clock,stall-worker,hang-worker'], seed42), {
    kind: 'run',
    options: { faults: 8, seed: 42, standby: false, cluster: false, machine: false, worker: true, kinds: ['sigkill-clock', 'hang-worker', 'stall-worker', 'sigkill-worker'] },
  });
});

Defaults('a given seed is used as it is; the generator is not asked', () => {
  let asked = 0;
  parseChaosArgs(['--seed', '9'], () => ++asked);
  assert.is(asked, 0);
});

Defaults('--help and -h', () => {
  assert.equal(parseChaosArgs(['--help']), { kind: 'help' });
  assert.equal(parseChaosArgs(['-h', '--faults', 'abc']), { kind: 'help' });
});

Defaults.run();

// ---

const Wrong = suite('chaos options: wrong usage says what was expected and what it got');

for (const value of ['abc', '0', '-3', '1.5', '', String(MAX_FAULTS + 1)]) {
  Wrong(`--faults ${JSON.stringify(value)}`, () => {
    const parsed = parseChaosArgs([`--faults=${value}`], seed42);
    assert.is(parsed.kind, 'usage');
    if (parsed.kind !== 'usage') return;
    assert.match(parsed.message, `--faults ${JSON.stringify(value)} is not valid`);
    assert.match(parsed.message, `a whole number from 1 to ${MAX_FAULTS}`);
  });
}

for (const value of ['x', '-1', '4294967296', '0x10']) {
  Wrong(`--seed ${JSON.stringify(value)}`, () => {
    const parsed = parseChaosArgs([`--seed=${value}`], seed42);
    assert.is(parsed.kind, 'usage');
    if (parsed.kind === 'usage') assert.match(parsed.message, `--seed ${JSON.stringify(value)} is not valid: expected a whole number from 0 to 4294967295`);
  });
}

Wrong('--kinds: an unknown kind, a kind of another mode, none, or with --cluster', () => {
  const message = (args: string[]) => {
    const parsed = parseChaosArgs(args, seed42);
    return parsed.kind === 'usage' ? parsed.message : `not wrong: ${JSON.stringify(parsed)}`;
  };
  assert.match(message(['--kinds', 'sigkill-clock,fill-disk']), '--kinds "sigkill-clock,fill-disk" is not valid (unknown kind "fill-disk"): expected kinds of the mode separated by commas, from sigkill-clock, ');
  assert.match(message(['--kinds', 'fill-log']), '(fill-log is not a kind of this mode (a kind of --machine))');
  assert.match(message(['--machine', '--kinds', 'sigkill-standby']), '(sigkill-standby is not a kind of this mode (a kind of --standby))');
  assert.match(message(['--no-worker', '--kinds', 'hang-worker']), "(hang-worker is not a kind of this mode (the worker's: not with --no-worker or --machine))");
  assert.match(message(['--machine', '--kinds', 'stall-worker']), "(stall-worker is not a kind of this mode (the worker's: not with --no-worker or --machine))");
  assert.match(message(['--kinds', ' , ']), '(no kind given)');
  assert.is(message(['--cluster', '--kinds', 'cut-leader']), '--kinds is for the runs on one machine, not --cluster');
});

Wrong('an unknown option, a missing value, a positional argument', () => {
  assert.is(parseChaosArgs(['--fault', '3']).kind, 'usage');
  assert.is(parseChaosArgs(['--faults']).kind, 'usage');
  assert.is(parseChaosArgs(['7']).kind, 'usage');
  const parsed = parseChaosArgs(['--live']);
  if (parsed.kind === 'usage') assert.match(parsed.message, "'--live'");
});

Wrong.run();
