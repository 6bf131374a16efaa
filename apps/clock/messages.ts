/** What the main thread and a worker thread say to each other: the worker keeps time, the main thread does all I/O. */

/** Main → worker. */
export type ToWorker =
  /** Tick `firstTick`..`lastTick` of `run`, the first at wall-clock `firstDueAt`, then one per `intervalMs`. */
  | { type: 'run'; run: number; firstTick: number; lastTick: number; firstDueAt: number; intervalMs: number }
  /** Fault injection (CLOCK_FAULTS=1 only): throw, or hang in a busy loop, so supervision can be seen working. */
  | { type: 'fault'; kind: WorkerFault };

export type WorkerFault = 'crash' | 'hang';

/** Worker → main. */
export type FromWorker =
  /** Loaded and listening: only now does the main thread count the worker as up. */
  | { type: 'ready' }
  /** Tick `tick` of `run` fired at wall-clock `at`, `lateMs` after its scheduled moment. */
  | { type: 'tick'; run: number; tick: number; at: number; lateMs: number };

export interface WorkerData {
  name: string;
}
