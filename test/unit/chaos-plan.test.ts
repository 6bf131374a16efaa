import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ALL_FAULT_KINDS, FAULT_DESCRIPTIONS, FAULT_KINDS, faultKinds, isWorkerFault, MACHINE_FAULT_KINDS, MACHINE_RUN_KINDS, planFaults, STANDBY_FAULT_KINDS, WAIT_MS, WORKER_FAULT_KINDS } from '../../scripts/chaos/plan.ts';
import { mulberry32, randomInt, shuffle } from '../../scripts/chaos/prng.ts';

const Prng = suite('mulberry32');

Prng('the same seed gives the same sequence; another seed another one', () => {
  const take = (seed: number) => Array.from({ length: 20 }, mulberry32(seed));
  assert.equal(take(7), take(7));
  assert.not.equal(take(7), take(8));
});

Prng('is mulberry32 as published, so that a printed seed repeats a run in any later version too', () => {
  // The reference implementation's first outputs for seed 1: 0.6270739405881613, 0.002735721180215478, ...
  const first = Array.from({ length: 3 }, mulberry32(1)).map((value) => Math.round(value * 2 ** 32));
  assert.equal(first, [2693262067, 11749833, 2265367787]);
});

Prng('numbers in [0, 1), spread over the whole range', () => {
  const random = mulberry32(123);
  const buckets = new Array<number>(10).fill(0);
  for (let index = 0; index < 10_000; index++) {
    const value = random();
    assert.ok(value >= 0 && value < 1, String(value));
    buckets[Math.floor(value * 10)] = (buckets[Math.floor(value * 10)] ?? 0) + 1;
  }
  for (const count of buckets) assert.ok(count > 900 && count < 1100, `uneven: ${buckets.join(' ')}`);
});

Prng('randomInt covers both ends; shuffle is a permutation', () => {
  const random = mulberry32(5);
  const seen = new Set(Array.from({ length: 200 }, () => randomInt(random, 1, 3)));
  assert.equal([...seen].sort(), [1, 2, 3]);
  const items = ['a', 'b', 'c', 'd', 'e'];
  const shuffled = shuffle(random, items);
  assert.equal([...shuffled].sort(), items);
  assert.equal(items, ['a', 'b', 'c', 'd', 'e'], 'the input is left alone');
});

Prng.run();

// ---

const Plan = suite('planFaults');

// `planFaults(1, 10, 2)` as the plan had it before the kinds of the machine were added (commit 8c60668).
const SEED_1_PLAIN = [
  ['hang-clock', 1581, 0], ['sigterm-clock', 1139, 0], ['kill-daemon', 1993, 0], ['damage-checkpoint', 1183, 0], ['crash-thread', 1233, 1],
  ['stall-clock', 1106, 0], ['sigkill-clock', 871, 0], ['sigkill-probe', 731, 0], ['crash-thread', 1141, 2], ['sigkill-probe', 1698, 0],
];

Plan('the same seed, the same schedule: kinds, waits and threads', () => {
  assert.equal(planFaults(7, 50, 2), planFaults(7, 50, 2));
  assert.not.equal(planFaults(7, 50, 2), planFaults(8, 50, 2));
});

Plan('every kind occurs as soon as there are as many faults as kinds, whatever the seed', () => {
  for (let seed = 0; seed < 200; seed++) {
    const kinds = new Set(planFaults(seed, FAULT_KINDS.length, 2).map((fault) => fault.kind));
    assert.is(kinds.size, FAULT_KINDS.length, `seed ${seed}`);
  }
});

Plan('round-robin: each round of 7 holds every kind once, in its own order', () => {
  const plan = planFaults(3, 5 * FAULT_KINDS.length + 2, 2);
  const orders = new Set<string>();
  for (let start = 0; start + FAULT_KINDS.length <= plan.length; start += FAULT_KINDS.length) {
    const round = plan.slice(start, start + FAULT_KINDS.length).map((fault) => fault.kind);
    assert.equal([...round].sort(), [...FAULT_KINDS].sort());
    orders.add(round.join());
  }
  assert.ok(orders.size > 1, 'the rounds are shuffled, not one fixed order');
});

Plan('numbered from 1; waits within range; a thread only for crash-thread, within the clock', () => {
  const plan = planFaults(11, 100, 3);
  assert.equal(plan.map((fault) => fault.number), Array.from({ length: 100 }, (_, index) => index + 1));
  for (const fault of plan) {
    assert.ok(fault.waitMs >= WAIT_MS.min && fault.waitMs <= WAIT_MS.max, String(fault.waitMs));
    if (fault.kind === 'crash-thread') assert.ok(fault.thread >= 1 && fault.thread <= 3);
    else assert.is(fault.thread, 0);
  }
  const threads = new Set(plan.filter((fault) => fault.kind === 'crash-thread').map((fault) => fault.thread));
  assert.equal([...threads].sort(), [1, 2, 3]);
});

Plan('fewer faults than kinds: a prefix of the longer plan', () => {
  assert.equal(planFaults(9, 3, 2), planFaults(9, 20, 2).slice(0, 3));
});

Plan('hot standby: every round of 8 also holds a kill of the standby; a plain plan never does, and is as it was', () => {
  assert.equal(faultKinds(true), STANDBY_FAULT_KINDS);
  assert.equal(faultKinds(false), FAULT_KINDS);
  const plan = planFaults(3, 3 * STANDBY_FAULT_KINDS.length, 2, faultKinds(true));
  for (let start = 0; start < plan.length; start += STANDBY_FAULT_KINDS.length) {
    const round = plan.slice(start, start + STANDBY_FAULT_KINDS.length).map((fault) => fault.kind);
    assert.equal([...round].sort(), [...STANDBY_FAULT_KINDS].sort());
  }
  assert.equal(planFaults(3, 20, 2), planFaults(3, 20, 2, FAULT_KINDS));
  assert.not.ok(planFaults(3, 100, 2).some((fault) => fault.kind === 'sigkill-standby'));
});

Plan('--machine: every round of 16 holds each plain kind and each kind of the machine once; a plain plan never does, and is as it was', () => {
  assert.equal(faultKinds(false, true), MACHINE_RUN_KINDS);
  assert.equal([...MACHINE_RUN_KINDS], [...FAULT_KINDS, ...MACHINE_FAULT_KINDS]);
  for (const seed of [1, 2, 3, 4242]) {
    const plan = planFaults(seed, 5 * MACHINE_RUN_KINDS.length, 2, faultKinds(false, true));
    for (let start = 0; start < plan.length; start += MACHINE_RUN_KINDS.length) {
      const round = plan.slice(start, start + MACHINE_RUN_KINDS.length).map((fault) => fault.kind);
      assert.equal([...round].sort(), [...MACHINE_RUN_KINDS].sort(), `seed ${seed}, round from fault ${start + 1}`);
    }
    // As many of each: ≥ 5 of every disk fault and 20 steps in 5 rounds.
    for (const kind of MACHINE_RUN_KINDS) assert.is(plan.filter((fault) => fault.kind === kind).length, 5, kind);
  }
  // A plain run's plan for a seed is what it was before --machine existed (seed 1's, recorded then).
  assert.equal(planFaults(1, 10, 2).map((fault) => [fault.kind, fault.waitMs, fault.thread]), SEED_1_PLAIN);
  assert.equal(planFaults(3, 40, 2), planFaults(3, 40, 2, faultKinds(false, false)));
  assert.not.ok(planFaults(3, 200, 2).some((fault) => (MACHINE_FAULT_KINDS as readonly string[]).includes(fault.kind)));
});

Plan('with the worker: every round of 11 (12 in hot standby) also holds each kind of the worker once; without it, the plan is as it was', () => {
  assert.equal([...WORKER_FAULT_KINDS], ['hang-worker', 'stall-worker', 'sigkill-worker']);
  assert.equal(faultKinds(false, false, true), [...FAULT_KINDS, ...WORKER_FAULT_KINDS]);
  assert.equal(faultKinds(true, false, true), [...STANDBY_FAULT_KINDS, ...WORKER_FAULT_KINDS]);
  for (const standby of [false, true]) {
    const kinds = faultKinds(standby, false, true);
    for (const seed of [1, 5, 77]) {
      const plan = planFaults(seed, 4 * kinds.length, 2, kinds);
      for (let start = 0; start < plan.length; start += kinds.length) {
        const round = plan.slice(start, start + kinds.length).map((fault) => fault.kind);
        assert.equal([...round].sort(), [...kinds].sort(), `standby ${standby}, seed ${seed}, round from fault ${start + 1}`);
      }
      assert.ok(plan.every((fault) => fault.thread === 0 || fault.kind === 'crash-thread'));
    }
  }
  // The worker's kinds are drawn only when asked for: seed 1's plain plan is still the recorded one.
  assert.equal(planFaults(1, 10, 2, faultKinds(false, false, false)).map((fault) => [fault.kind, fault.waitMs, fault.thread]), SEED_1_PLAIN);
  assert.not.ok(planFaults(3, 200, 2, faultKinds(true)).some((fault) => isWorkerFault(fault.kind)));
  assert.ok(WORKER_FAULT_KINDS.every((kind) => isWorkerFault(kind)) && !FAULT_KINDS.some((kind) => isWorkerFault(kind)));
});

Plan('every kind has a description, for --help, and a place in the report', () => {
  for (const kind of [...MACHINE_RUN_KINDS, ...STANDBY_FAULT_KINDS, ...WORKER_FAULT_KINDS]) assert.ok(FAULT_DESCRIPTIONS[kind].length > 20, kind);
  for (const kind of WORKER_FAULT_KINDS) assert.ok((ALL_FAULT_KINDS as readonly string[]).includes(kind), kind);
});

Plan.run();
