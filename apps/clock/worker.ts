import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerData } from './messages.ts';
import { TickSchedule } from './schedule.ts';

/**
 * A worker thread: it only keeps time. It fires the ticks of one run segment on schedule and tells
 * the main thread, which prints and checkpoints them, so that there is one writer for every file.
 */
if (!parentPort) throw new Error(`worker.ts runs as a worker thread of the clock, not on its own`);
const port = parentPort;
const { name } = workerData as WorkerData;
let timer: NodeJS.Timeout | undefined;

function send(message: FromWorker): void {
  port.postMessage(message);
}

function startSegment(run: number, firstTick: number, lastTick: number, firstDueAt: number, intervalMs: number): void {
  clearTimeout(timer);
  // Wall-clock time only places the first tick; from there on the monotonic clock keeps the beat.
  const schedule = new TickSchedule(performance.now() + (firstDueAt - Date.now()), firstTick, lastTick, intervalMs);
  const arm = (tick: number): void => {
    timer = setTimeout(fire, Math.max(0, schedule.dueAt(tick) - performance.now()), tick);
  };
  const fire = (tick: number): void => {
    const now = performance.now();
    send({ type: 'tick', run, tick, at: Date.now(), lateMs: now - schedule.dueAt(tick) });
    const following = schedule.next(tick, now);
    if (following !== undefined) arm(following);
  };
  arm(firstTick);
}

function injectFault(kind: 'crash' | 'hang'): void {
  if (kind === 'crash') {
    // Thrown outside the message handler so that it is uncaught: the worker dies as a real bug would kill it.
    setImmediate(() => {
      throw new Error(`${name}: injected crash (CLOCK_FAULTS=1)`);
    });
    return;
  }
  // A real hang: the thread's event loop never turns again, until the main thread terminates it.
  for (;;);
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'run') {
    startSegment(message.run, message.firstTick, message.lastTick, message.firstDueAt, message.intervalMs);
  } else if (message.type === 'fault') {
    injectFault(message.kind);
  }
});
send({ type: 'ready' });
