import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_FAULTS, MAX_FAULTS, parseChaosArgs } from '../../scripts/chaos/options.ts';
import { FAULT_KINDS } from '../../scripts/chaos/plan.ts';

const seed42 = () => 42;

const Defaults = suite('chaos options: defaults and help');

Defaults('no options: two rounds of every fault, and a fresh seed', () => {
  assert.equal(parseChaosArgs([], seed42), { kind: 'run', options: { faults: DEFAULT_FAULTS, seed: 42, standby: false, cluster: false } });
  assert.is(DEFAULT_FAULTS, 2 * FAULT_KINDS.length);
});

Defaults('--faults and --seed, in either spelling', () => {
  assert.equal(parseChaosArgs(['--faults', '7', '--seed', '1'], seed42), { kind: 'run', options: { faults: 7, seed: 1, standby: false, cluster: false } });
  assert.equal(parseChaosArgs(['--faults=50', '--seed=0'], seed42), { kind: 'run', options: { faults: 50, seed: 0, standby: false, cluster: false } });
  assert.equal(parseChaosArgs(['--seed', '4294967295'], seed42), { kind: 'run', options: { faults: DEFAULT_FAULTS, seed: 4294967295, standby: false, cluster: false } });
});

Defaults('--standby: hot-standby mode, and two rounds of its 9 kinds by default', () => {
  assert.equal(parseChaosArgs(['--standby'], seed42), { kind: 'run', options: { faults: 18, seed: 42, standby: true, cluster: false } });
  assert.equal(parseChaosArgs(['--faults', '8', '--seed', '3', '--standby'], seed42), { kind: 'run', options: { faults: 8, seed: 3, standby: true, cluster: false } });
  assert.is(parseChaosArgs(['--standby=1']).kind, 'usage');
  assert.equal(parseChaosArgs(['--cluster'], seed42), { kind: 'run', options: { faults: 10, seed: 42, standby: false, cluster: true } });
  assert.is(parseChaosArgs(['--cluster', '--standby']).kind, 'usage');
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

Wrong('an unknown option, a missing value, a positional argument', () => {
  assert.is(parseChaosArgs(['--fault', '3']).kind, 'usage');
  assert.is(parseChaosArgs(['--faults']).kind, 'usage');
  assert.is(parseChaosArgs(['7']).kind, 'usage');
  const parsed = parseChaosArgs(['--live']);
  if (parsed.kind === 'usage') assert.match(parsed.message, "'--live'");
});

Wrong.run();
