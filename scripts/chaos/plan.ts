import { randomInt, shuffle, mulberry32 } from './prng.ts';

/** What `npm run chaos` breaks, each with what should happen next. */
export const FAULT_KINDS = [
  'sigkill-clock',
  'sigterm-clock',
  'hang-clock',
  'stall-clock',
  'crash-thread',
  'sigkill-probe',
  'kill-daemon',
  'damage-checkpoint',
] as const;

/**
 * In hot-standby mode (--standby) every kind above, where "the clock" is the active one (the
 * heartbeat's writer), and one more: a kill of the standby, which must not disturb the ticking.
 */
export const STANDBY_FAULT_KINDS = [...FAULT_KINDS, 'sigkill-standby'] as const;

/**
 * Faults of the guarded app that is not the clock: the example worker (examples/guarded-worker), which
 * runs beside the clock unless --no-worker (or --machine) leaves it out. Each must be healed without
 * touching the clock: the probe replaces a hung or stalled worker, PM2 a killed one.
 */
export const WORKER_FAULT_KINDS = ['hang-worker', 'stall-worker', 'sigkill-worker'] as const;

/**
 * Faults of the machine under the clock (--machine): its disks and its wall clock, and a hung probe.
 * A run with --machine draws from these and every plain kind, each once per round.
 */
export const MACHINE_FAULT_KINDS = [
  'fill-log',
  'fill-state',
  'readonly-state',
  'step-back-clock',
  'step-ahead-clock',
  'step-back-probe',
  'step-ahead-probe',
  'hang-probe',
] as const;

export const MACHINE_RUN_KINDS = [...FAULT_KINDS, ...MACHINE_FAULT_KINDS] as const;

/** Every kind there is, in the order the report lists them. */
export const ALL_FAULT_KINDS = [...STANDBY_FAULT_KINDS, ...WORKER_FAULT_KINDS, ...MACHINE_FAULT_KINDS] as const;

export type FaultKind = (typeof ALL_FAULT_KINDS)[number];
export type MachineFaultKind = (typeof MACHINE_FAULT_KINDS)[number];
export type WorkerFaultKind = (typeof WORKER_FAULT_KINDS)[number];

export const isMachineFault = (kind: FaultKind): kind is MachineFaultKind => (MACHINE_FAULT_KINDS as readonly FaultKind[]).includes(kind);
export const isWorkerFault = (kind: FaultKind): kind is WorkerFaultKind => (WORKER_FAULT_KINDS as readonly FaultKind[]).includes(kind);

/** The disk faults: what held the ticks is gone when the disk is freed (or writable again). */
export const DISK_FAULTS: ReadonlySet<FaultKind> = new Set(['fill-log', 'fill-state', 'readonly-state']);
/** The steps of the wall clock: one process's, by an hour either way, and back. */
export const STEP_FAULTS: ReadonlySet<FaultKind> = new Set(['step-back-clock', 'step-ahead-clock', 'step-back-probe', 'step-ahead-probe']);

/**
 * The kinds a run draws from: the plain ones, and in hot-standby mode the standby's own, or with
 * --machine the machine's; and the worker's when the worker runs. Without the worker a run's plan for
 * a seed is what it was before the worker was added.
 */
export function faultKinds(standby: boolean, machine = false, worker = false): readonly FaultKind[] {
  const kinds = standby ? STANDBY_FAULT_KINDS : machine ? MACHINE_RUN_KINDS : FAULT_KINDS;
  return worker ? [...kinds, ...WORKER_FAULT_KINDS] : kinds;
}

export const FAULT_DESCRIPTIONS: Record<FaultKind, string> = {
  'sigkill-clock': 'kill -9 of the clock; PM2 restarts it, it resumes from its checkpoint',
  'sigterm-clock': 'kill -TERM of the clock; it stops cleanly, PM2 restarts it, it resumes',
  'hang-clock': 'kill -STOP of the clock; the probe finds it hung and SIGKILLs it, PM2 restarts it',
  'stall-clock': 'pm2 trigger clock fault stall (heartbeat on, every tick dropped); the probe finds it stalled and SIGKILLs it, PM2 restarts it',
  'crash-thread': 'pm2 trigger clock fault "crash thread-N"; the clock restarts that worker in-process',
  'sigkill-probe': 'kill -9 of the probe; PM2 restarts it',
  'kill-daemon': 'kill -9 of the PM2 daemon, then pm2 resurrect; the clock stops with its daemon and comes back',
  'damage-checkpoint': 'garbage in checkpoint.json, then kill -9 of the clock; it moves the file aside and starts a fresh run 1',
  'sigkill-standby': 'kill -9 of the standby clock; the active ticks on undisturbed, PM2 restarts the standby',
  'fill-log': "LOG_DIR's disk filled; the clock holds, the probe has PM2 reopen its log once freed, the ticks it never took are printed again",
  'fill-state': "STATE_DIR's disk filled; the clock holds its ticks (its pulse through PM2) and ticks on by itself once freed",
  'readonly-state': 'STATE_DIR remounted read-only; the clock holds its ticks and ticks on by itself once read-write',
  'step-back-clock': "the clock's wall clock stepped back 1 h, later forward again; nothing is healed, it ticks on",
  'step-ahead-clock': "the clock's wall clock stepped ahead 1 h, later back again; nothing is healed, it ticks on",
  'step-back-probe': "the probe's wall clock stepped back 1 h, later forward again; nothing is healed, the clock ticks on",
  'step-ahead-probe': "the probe's wall clock stepped ahead 1 h, later back again; nothing is healed, the clock ticks on",
  'hang-probe': 'kill -STOP of the probe; the clock finds it hung and SIGKILLs it, PM2 restarts it',
  'hang-worker': 'kill -STOP of the worker; the probe finds it hung and SIGKILLs it, PM2 restarts it; the clock untouched',
  'stall-worker': 'kill -USR2 of the worker (it beats on, no progress); the probe finds it stalled and SIGKILLs it, PM2 restarts it; the clock untouched',
  'sigkill-worker': 'kill -9 of the worker; PM2 restarts it; the clock untouched',
};

/** The same faults in hot-standby mode, where the clock struck is the active one and a standby takes its place. */
export const STANDBY_FAULT_DESCRIPTIONS: Record<FaultKind, string> = {
  ...FAULT_DESCRIPTIONS,
  'sigkill-clock': 'kill -9 of the active clock; the standby takes over, PM2 restarts the killed one as the new standby',
  'sigterm-clock': 'kill -TERM of the active clock; it stops cleanly, the standby takes over, PM2 restarts it as standby',
  'hang-clock': 'kill -STOP of the active clock; the probe finds it hung and SIGKILLs it, the standby takes over',
  'stall-clock': 'pm2 trigger <active> fault stall; the probe finds it stalled and SIGKILLs it, the standby takes over',
  'crash-thread': 'pm2 trigger <active> fault "crash thread-N"; the active restarts that worker in-process',
  'kill-daemon': 'kill -9 of the PM2 daemon, then pm2 resurrect; both clocks go with it, a new pair comes back',
  'damage-checkpoint': 'garbage in checkpoint.json, then kill -9 of the active; the standby takes over and starts a fresh run 1',
};

/** Faults that strike the active clock's process in hot-standby mode: the standby must take over from it. */
export const ACTIVE_CLOCK_FAULTS: ReadonlySet<FaultKind> = new Set(['sigkill-clock', 'sigterm-clock', 'hang-clock', 'stall-clock', 'damage-checkpoint']);

/** The faults that end the clock's process: a new one must take its place (and may repeat a tick). */
export const CLOCK_PROCESS_FAULTS: ReadonlySet<FaultKind> = new Set([
  'sigkill-clock',
  'sigterm-clock',
  'hang-clock',
  'stall-clock',
  'kill-daemon',
  'damage-checkpoint',
]);

export interface PlannedFault<K extends string = FaultKind> {
  /** 1-based position in the run. */
  number: number;
  kind: K;
  /** Healthy ticking before the fault, so that each one lands at a random moment of the clock's beat. */
  waitMs: number;
  /** The worker thread a crash-thread fault breaks (1-based); 0 for the other kinds. */
  thread: number;
}

export const WAIT_MS = { min: 500, max: 2_000 } as const;

/**
 * The faults of a run, from its seed alone. Kinds come round-robin, each round in a shuffled order, so
 * that every kind occurs once `count` reaches the number of kinds, and no kind is more than one ahead.
 * `kinds` is FAULT_KINDS unless a mode, the worker or --kinds says otherwise: FAULT_KINDS' plan for a seed never changes.
 */
export function planFaults<K extends string = FaultKind>(seed: number, count: number, threads: number, kinds: readonly K[] = FAULT_KINDS as readonly string[] as readonly K[]): PlannedFault<K>[] {
  const random = mulberry32(seed);
  const plan: PlannedFault<K>[] = [];
  let round: K[] = [];
  for (let number = 1; number <= count; number++) {
    if (round.length === 0) round = shuffle(random, kinds);
    const kind = round.shift() as K;
    const waitMs = randomInt(random, WAIT_MS.min, WAIT_MS.max);
    const thread = kind === 'crash-thread' ? randomInt(random, 1, threads) : 0;
    plan.push({ number, kind, waitMs, thread });
  }
  return plan;
}
