import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIRST_BACKOFF_MS, HealBudget, MAX_BACKOFF_MS, MAX_HEALS, WINDOW_MS } from '../../apps/probe/heal-budget.ts';

// The probe's monotonic clock (performance.now()) some while after it started.
const NOW = 1_000_000;

const Budget = suite('HealBudget');

Budget(`allows ${MAX_HEALS} heals within the window, then backs off; once that is over, one heal, then a back-off twice as long`, () => {
  const budget = new HealBudget();
  for (let heal = 0; heal < MAX_HEALS; heal++) assert.equal(budget.take(NOW + heal), { allowed: true });
  assert.equal(budget.take(NOW + 10), { allowed: false, until: NOW + 10 + FIRST_BACKOFF_MS, startedNow: true });
  assert.equal(budget.take(NOW + 20), { allowed: false, until: NOW + 10 + FIRST_BACKOFF_MS, startedNow: false });
  // The window still holds six heals, yet the back-off is over: one heal goes through.
  const over = NOW + 10 + FIRST_BACKOFF_MS;
  assert.equal(budget.take(over), { allowed: true });
  assert.equal(budget.take(over + 10), { allowed: false, until: over + 10 + 2 * FIRST_BACKOFF_MS, startedNow: true });
});

Budget('a back-off that ends never starts the next one before a heal (the clock would wait for nothing)', () => {
  const budget = new HealBudget();
  for (let heal = 0; heal < MAX_HEALS; heal++) budget.take(NOW + heal);
  const first = budget.take(NOW + 100);
  assert.ok(!first.allowed);
  // Wanted again only once the back-off is over, as the probe does after a storm of quick kills.
  assert.equal(budget.take(first.until + 1), { allowed: true });
});

Budget('a clock that can never be saved: back-offs doubling to the cap, a heal after each, 5 each 5 min at most once long', () => {
  const budget = new HealBudget();
  const allowedAt: number[] = [];
  const backoffs: number[] = [];
  // A heal wanted every 100 ms for an hour.
  for (let now = NOW; now < NOW + 3_600_000; now += 100) {
    const permission = budget.take(now);
    if (permission.allowed) allowedAt.push(now);
    else if (permission.startedNow) backoffs.push(permission.until - now);
  }
  const doubling = [1, 2, 4, 8, 16, 32, 64, 128, 256].map((s) => s * 1_000);
  assert.equal(backoffs.slice(0, doubling.length), doubling);
  assert.ok(backoffs.slice(doubling.length).every((ms) => ms === MAX_BACKOFF_MS), backoffs.join(' '));
  const within = (from: number, ms: number) => allowedAt.filter((at) => at >= from && at < from + ms).length;
  // The first minute: the window's 5, then one after each of the 1, 2, 4, 8 and 16 s back-offs.
  assert.is(within(NOW, WINDOW_MS), 2 * MAX_HEALS);
  const settled = allowedAt.filter((at) => at >= NOW + 600_000);
  assert.ok(settled.every((at) => within(at, MAX_BACKOFF_MS) <= MAX_HEALS), 'more than 5 heals within 5 min, 10 min on');
});

Budget('a quiet window forgets the heals and the back-off', () => {
  const budget = new HealBudget();
  for (let heal = 0; heal <= MAX_HEALS; heal++) budget.take(NOW + heal);
  budget.take(NOW + 10 * FIRST_BACKOFF_MS);
  budget.take(NOW + 10 * FIRST_BACKOFF_MS + 1);
  const later = NOW + 2 * WINDOW_MS + 20 * FIRST_BACKOFF_MS;
  for (let heal = 0; heal < MAX_HEALS; heal++) assert.equal(budget.take(later + heal), { allowed: true });
  assert.equal(budget.take(later + 10), { allowed: false, until: later + 10 + FIRST_BACKOFF_MS, startedNow: true });
});

Budget.run();
