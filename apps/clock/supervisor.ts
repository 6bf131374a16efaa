import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerData, WorkerFault } from './messages.ts';

type RunSegment = Extract<ToWorker, { type: 'run' }>;

export interface SupervisorOptions {
  names: string[];
  intervalsMs: number[];
  /** The segment thread `index` should tick now, from the progress; undefined when it is done with this run. */
  segmentFor(index: number): RunSegment | undefined;
  onTick(index: number, tick: Extract<FromWorker, { type: 'tick' }>): void;
  /** Too many restarts too fast: the caller ends the process so that PM2 restarts it. */
  onEscalate(reason: string): void;
  log(line: string): void;
}

interface Slot {
  name: string;
  intervalMs: number;
  worker: Worker;
  spawnedAt: number;
  ready: Promise<void>;
  isReady: boolean;
  /** Monotonic ms after which a silent worker is declared stuck; undefined while no tick is expected. */
  deadline: number | undefined;
  /** The last tick of the segment in hand: after it, the worker is idle until the next run. */
  lastTick: number;
  lastError: Error | undefined;
}

// A tick later than one interval plus this grace means the worker is stuck (issue #2's overdue rule).
const OVERDUE_GRACE_MS = 500;
const READY_TIMEOUT_MS = 5_000;
const CHECK_PERIOD_MS = 100;
// One-for-one restart intensity, as an OTP supervisor has it: more than 3 restarts in 30 s escalates.
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 30_000;

// In dev mode (`npm run dev`, under tsx) this file is supervisor.ts; built, it is bundled into main.js.
const DEV_MODE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(DEV_MODE ? './worker.ts' : './worker.cjs', import.meta.url);

function startWorker(workerData: WorkerData): Worker {
  if (!DEV_MODE) return new Worker(WORKER_URL, { workerData });
  // On Node 20 a worker thread does not inherit tsx's loader, so it registers it before loading the .ts entry.
  const shim = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(shim, { eval: true, workerData });
}

/**
 * Runs one worker thread per interval and keeps each one alive, one-for-one: a worker that throws,
 * exits or stops ticking is ended and started again from the checkpointed progress, alone.
 */
export class Supervisor {
  private readonly slots: Slot[];
  private readonly restarts: number[] = [];
  /** Runs only while some worker owes a sign of life: an idle standby's threads are not woken for nothing. */
  private checker: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Worker restarts since the process started. */
  restartCount = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.slots = options.names.map((name, index) => this.spawn(name, options.intervalsMs[index] ?? 0));
  }

  /** Resolves once every worker has said it is ready. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.ready));
  }

  /** Hands thread `index` its current segment, if it has one left in this run. */
  assign(index: number): void {
    const slot = this.slots[index];
    const segment = this.options.segmentFor(index);
    if (!slot) return;
    if (!segment) {
      slot.deadline = undefined;
      return;
    }
    slot.lastTick = segment.lastTick;
    slot.deadline = performance.now() + (segment.firstDueAt - Date.now()) + slot.intervalMs + OVERDUE_GRACE_MS;
    this.watch();
    slot.worker.postMessage(segment);
  }

  injectFault(index: number, kind: WorkerFault): boolean {
    const slot = this.slots[index];
    slot?.worker.postMessage({ type: 'fault', kind } satisfies ToWorker);
    return slot !== undefined;
  }

  /** Ends every worker; the supervisor restarts nothing from here on. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.checker);
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private spawn(name: string, intervalMs: number): Slot {
    const worker = startWorker({ name });
    let markReady = (): void => {};
    const slot: Slot = {
      name,
      intervalMs,
      worker,
      spawnedAt: performance.now(),
      ready: new Promise<void>((resolve) => (markReady = resolve)),
      isReady: false,
      deadline: performance.now() + READY_TIMEOUT_MS,
      lastTick: 0,
      lastError: undefined,
    };
    this.watch();
    worker.on('message', (message: FromWorker) => {
      if (this.slots[this.indexOf(slot)]?.worker !== worker) return;
      if (message.type === 'ready') {
        slot.deadline = undefined;
        slot.isReady = true;
        markReady();
      } else if (message.type === 'tick') {
        slot.deadline =
          message.tick < slot.lastTick ? performance.now() + 2 * slot.intervalMs + OVERDUE_GRACE_MS : undefined;
        if (slot.deadline !== undefined) this.watch();
        this.options.onTick(this.indexOf(slot), message);
      }
    });
    worker.on('error', (error) => {
      slot.lastError = error;
    });
    worker.on('exit', (code) => {
      if (this.stopping || this.slots[this.indexOf(slot)]?.worker !== worker) return;
      const seconds = ((performance.now() - slot.spawnedAt) / 1000).toFixed(1);
      const cause = slot.lastError ? ` (${slot.lastError.message})` : '';
      this.restart(slot, `${name} exited with code ${code} after ${seconds} s${cause}`);
    });
    return slot;
  }

  private indexOf(slot: Slot): number {
    return this.slots.indexOf(slot);
  }

  private watch(): void {
    if (this.checker || this.stopping) return;
    this.checker = setInterval(() => this.checkOverdue(), CHECK_PERIOD_MS);
    this.checker.unref();
  }

  private checkOverdue(): void {
    if (this.slots.every((slot) => slot.deadline === undefined)) {
      clearInterval(this.checker);
      this.checker = undefined;
      return;
    }
    const now = performance.now();
    for (const slot of this.slots) {
      if (slot.deadline !== undefined && now > slot.deadline) {
        slot.deadline = undefined;
        const what = slot.isReady
          ? `stopped ticking (no tick for over ${slot.intervalMs} ms plus ${OVERDUE_GRACE_MS} ms grace)`
          : `did not become ready within ${READY_TIMEOUT_MS} ms`;
        this.restart(slot, `${slot.name} ${what}`);
      }
    }
  }

  private restart(slot: Slot, reason: string): void {
    const now = performance.now();
    this.restartCount += 1;
    this.restarts.push(now);
    while (this.restarts.length > 0 && (this.restarts[0] ?? now) < now - RESTART_WINDOW_MS) this.restarts.shift();
    if (this.restarts.length > MAX_RESTARTS) {
      this.options.onEscalate(`${reason}; that is ${this.restarts.length} worker restarts within ${RESTART_WINDOW_MS / 1000} s`);
      return;
    }
    const index = this.indexOf(slot);
    const old = slot.worker;
    const fresh = this.spawn(slot.name, slot.intervalMs);
    this.slots[index] = fresh;
    void old.terminate();
    this.options.log(`${reason}; restarting it from the checkpoint (restart ${this.restarts.length} of ${MAX_RESTARTS} allowed in ${RESTART_WINDOW_MS / 1000} s)`);
    void fresh.ready.then(() => {
      if (!this.stopping && this.slots[index] === fresh) this.assign(index);
    });
  }
}
