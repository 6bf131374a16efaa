// The bench's many guarded apps: the clock and the probe of the root ecosystem, and BENCH_WORKERS
// copies of the example worker (examples/guarded-worker), each declared as the example declares it
// (the same settings), under a name of its own: worker-1, worker-2, … Its own beat file follows from
// the name (guard-app.js). Started whole, or --only some of them.
import { join } from 'node:path';
import { apps as example } from '../../examples/guarded-worker/ecosystem.config.js';
import { guarded } from '../../guard-app.js';

const count = Number(process.env.BENCH_WORKERS ?? '19');
if (!Number.isSafeInteger(count) || count < 1) throw new Error(`BENCH_WORKERS: expected a whole number from 1, got ${JSON.stringify(process.env.BENCH_WORKERS)}`);
const worker = example.find((app) => app.name === 'worker');
if (!worker) throw new Error('examples/guarded-worker/ecosystem.config.js declares no app named worker');
const ours = example.filter((app) => app !== worker);
const logDir = join(worker.out_file, '..');

export const apps = [
  ...ours,
  ...Array.from({ length: count }, (_, index) => {
    const name = `worker-${index + 1}`;
    const settings = { hangMs: Number(worker.env.GUARD_HANG_MS), stallMs: Number(worker.env.GUARD_STALL_MS) };
    return guarded({ ...worker, name, out_file: join(logDir, `${name}.out.log`), error_file: join(logDir, `${name}.err.log`) }, settings);
  }),
];
