import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { clusterVerdict, hostTicks } from '../../scripts/cluster/verdict.ts';

/** Two threads' tick lines at 2026-12-03 10:00:SS.mmm, run 1 of 5 ticks. */
const tick = (thread: number, n: number, second: number, ms = 0): string =>
  `thread-${thread} run 1 tick ${n}/5 2026-12-03 10:00:${String(second).padStart(2, '0')}.${String(ms).padStart(3, '0')}`;
const leads = (who: string): string => `clock: cluster estatus: this clock (${who}) leads; resuming from the cluster's checkpoint`;

const Verdict = suite('clusterVerdict: the logs of every host, merged by their own times');

Verdict('a failover: one term, then the next, each tick number once or repeated once', () => {
  const h1 = [leads('h1:100'), tick(1, 1, 1), tick(1, 2, 3), tick(2, 1, 4)].join('\n');
  const h2 = ['clock: cluster estatus: following (h1:100 leads)', leads('h2:200'), tick(1, 2, 8), tick(1, 3, 10), tick(2, 2, 10, 5)].join('\n');
  const verdict = clusterVerdict([{ host: 'h1', text: h1 }, { host: 'h2', text: h2 }]);
  assert.equal(verdict.terms, ['h1:100', 'h2:200']);
  assert.equal(verdict.overlaps, []);
  assert.is(verdict.continuity.breaks, 0);
  assert.is(verdict.continuity.repeats, 1);
  assert.is(verdict.ticks, 6);
});

Verdict('a term that ticks again after another began: two hosts at once', () => {
  const h1 = [leads('h1:100'), tick(1, 1, 1), tick(1, 3, 5)].join('\n');
  const h2 = [leads('h2:200'), tick(1, 2, 3)].join('\n');
  const verdict = clusterVerdict([{ host: 'h1', text: h1 }, { host: 'h2', text: h2 }]);
  assert.equal(verdict.overlaps.map((overlap) => [overlap.term, overlap.after]), [['h1:100', 'h2:200']]);
});

Verdict('a tick number skipped across a failover is a loss', () => {
  const h1 = [leads('h1:100'), tick(1, 1, 1)].join('\n');
  const h2 = [leads('h2:200'), tick(1, 3, 4)].join('\n');
  assert.is(clusterVerdict([{ host: 'h1', text: h1 }, { host: 'h2', text: h2 }]).continuity.breaks, 1);
});

Verdict('the same host leading again under a new pid is a new term, not an overlap', () => {
  const h1 = [leads('h1:100'), tick(1, 1, 1), leads('h1:300'), tick(1, 3, 9)].join('\n');
  const h2 = [leads('h2:200'), tick(1, 2, 5)].join('\n');
  const verdict = clusterVerdict([{ host: 'h1', text: h1 }, { host: 'h2', text: h2 }]);
  assert.equal(verdict.terms, ['h1:100', 'h2:200', 'h1:300']);
  assert.equal(verdict.overlaps, []);
  assert.equal(hostTicks('h1', h1).map((t) => t.term), ['h1:100', 'h1:300']);
});

Verdict.run();
