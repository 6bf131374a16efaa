// The clock and the probe of the root ecosystem, and beside them a worker that is not ours: plain
// Node, written from the README's guard contract alone, put under guard by one call.
//
//   npx pm2 start examples/guarded-worker/ecosystem.config.js
//   npx pm2 logs worker                       # a line per job
//   npx pm2 trigger worker stall              # or: hang; the probe replaces it (README: "Guard any app")
import { join, resolve } from 'node:path';
import { apps as ours } from '../../ecosystem.config.js';
import { guarded } from '../../guard-app.js';

const here = import.meta.dirname;
const logDir = resolve(process.env.LOG_DIR ?? join(here, '..', '..', 'logs'));

const worker = guarded(
  {
    name: 'worker',
    script: join(here, 'worker.mjs'),
    cwd: here,
    exec_mode: 'fork',
    instances: 1,
    env: {
      WORKER_EVERY_MS: process.env.WORKER_EVERY_MS ?? '1000',
    },
    // No PM2 metrics module in the worker: it speaks the few PM2 messages it needs itself.
    pmx: false,
    // Online once it says so (process.send('ready')).
    wait_ready: true,
    listen_timeout: 5000,
    // Stopped by a 'shutdown' message on every platform (PM2 cannot signal an app on Windows).
    shutdown_with_message: true,
    kill_timeout: 3000,
    autorestart: true,
    restart_delay: 0,
    // Exit 78 is a bad setting: restarting cannot fix it.
    stop_exit_codes: [78],
    out_file: join(logDir, 'worker.out.log'),
    error_file: join(logDir, 'worker.err.log'),
    merge_logs: true,
  },
  // Its beat unchanged for 2 s: hung. Its owed progress 2 s late: stalled.
  { hangMs: 2000, stallMs: 2000 },
);

export const apps = [...ours, worker];
