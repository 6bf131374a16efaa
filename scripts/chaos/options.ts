import { parseArgs } from 'node:util';
import { ALL_FAULT_KINDS, FAULT_KINDS, faultKinds, isMachineFault, isWorkerFault, WORKER_FAULT_KINDS, type FaultKind } from './plan.ts';
import { MAX_SEED, newSeed } from './prng.ts';
import { CLUSTER_FAULT_KINDS } from '../cluster/faults.ts';

export interface ChaosOptions {
  faults: number;
  seed: number;
  /** Hot-standby mode (--standby): the sandbox runs CLOCK_STANDBY=1, two clock instances, one active. */
  standby: boolean;
  /** Cluster mode (--cluster): three test hosts, one etcd cluster, host-level faults (scripts/cluster/). */
  cluster: boolean;
  /** Faults of the machine too (--machine): full and read-only disks (tmpfs), steps of the wall clock (libfaketime), a hung probe. */
  machine: boolean;
  /**
   * The example worker (examples/guarded-worker) runs beside the clock, and its faults are in the
   * rotation: by default; not with --no-worker, nor with --machine (a full STATE_DIR stops its beats,
   * and it is rightly replaced: a heal --machine would count as a false one), nor with --cluster.
   */
  worker: boolean;
  /** Only these kinds (--kinds), in the order of the mode's kinds; absent: every kind of the mode. */
  kinds?: FaultKind[];
}

export type ParsedArgs = { kind: 'run'; options: ChaosOptions } | { kind: 'help' } | { kind: 'usage'; message: string };

// Two rounds of every kind: enough to see each heal twice in a minute or two.
export const DEFAULT_FAULTS = 2 * (FAULT_KINDS.length + WORKER_FAULT_KINDS.length);
/**
 * Two rounds of the kinds of the mode: 22 faults (16 with --no-worker), 24 with --standby (18), 32
 * with --machine, 10 with --cluster.
 */
export const defaultFaults = (standby: boolean, cluster = false, machine = false, worker = false): number =>
  2 * (cluster ? CLUSTER_FAULT_KINDS.length : faultKinds(standby, machine, worker).length);
export const MAX_FAULTS = 1_000;

/** Reads chaos's command line; a wrong one is said in one line (what was expected, what was given). */
export function parseChaosArgs(args: string[], makeSeed: () => number = newSeed): ParsedArgs {
  let values: { faults?: string; seed?: string; kinds?: string; standby?: boolean; cluster?: boolean; machine?: boolean; 'no-worker'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        faults: { type: 'string' },
        seed: { type: 'string' },
        kinds: { type: 'string' },
        standby: { type: 'boolean' },
        cluster: { type: 'boolean' },
        machine: { type: 'boolean' },
        // Node 20's parseArgs has no allowNegative: the negation is an option of its own.
        'no-worker': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }));
  } catch (error) {
    return { kind: 'usage', message: (error as Error).message };
  }
  if (values.help) return { kind: 'help' };
  const standby = values.standby === true;
  const cluster = values.cluster === true;
  const machine = values.machine === true;
  if ([standby, cluster, machine].filter(Boolean).length > 1) return { kind: 'usage', message: '--standby, --cluster and --machine are separate runs: give one of them' };
  const worker = !values['no-worker'] && !machine && !cluster;
  let kinds: FaultKind[] | undefined;
  if (values.kinds !== undefined) {
    if (cluster) return { kind: 'usage', message: '--kinds is for the runs on one machine, not --cluster' };
    const chosen = chosenKinds(values.kinds, faultKinds(standby, machine, worker));
    if (typeof chosen === 'string') return { kind: 'usage', message: chosen };
    kinds = chosen;
  }
  const byDefault = kinds ? 2 * kinds.length : defaultFaults(standby, cluster, machine, worker);
  const faults = values.faults === undefined ? byDefault : wholeNumber(values.faults);
  if (faults === undefined || faults < 1 || faults > MAX_FAULTS) {
    return { kind: 'usage', message: `--faults ${JSON.stringify(values.faults)} is not valid: expected a whole number from 1 to ${MAX_FAULTS}, e.g. --faults ${byDefault}` };
  }
  const seed = values.seed === undefined ? makeSeed() : wholeNumber(values.seed);
  if (seed === undefined || seed > MAX_SEED) {
    return { kind: 'usage', message: `--seed ${JSON.stringify(values.seed)} is not valid: expected a whole number from 0 to ${MAX_SEED}, e.g. --seed 7` };
  }
  return { kind: 'run', options: { faults, seed, standby, cluster, machine, worker, ...(kinds ? { kinds } : {}) } };
}

/**
 * --kinds a,b,c: those of the mode's kinds, in the mode's order (so that the same list in another
 * order plans the same run); or why not, in one line.
 */
function chosenKinds(text: string, ofMode: readonly FaultKind[]): FaultKind[] | string {
  const named = text.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = named.filter((name) => !(ofMode as readonly string[]).includes(name));
  if (named.length === 0 || unknown.length > 0) {
    const other = unknown.find((name) => (ALL_FAULT_KINDS as readonly string[]).includes(name)) as FaultKind | undefined;
    const mode = other === undefined ? '' : isMachineFault(other) ? ' (a kind of --machine)' : isWorkerFault(other) ? " (the worker's: not with --no-worker or --machine)" : ' (a kind of --standby)';
    const why = named.length === 0 ? 'no kind given' : other ? `${other} is not a kind of this mode${mode}` : `unknown kind ${JSON.stringify(unknown[0])}`;
    return `--kinds ${JSON.stringify(text)} is not valid (${why}): expected kinds of the mode separated by commas, from ${ofMode.join(', ')}`;
  }
  return ofMode.filter((kind) => named.includes(kind));
}

function wholeNumber(text: string): number | undefined {
  return /^\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : undefined;
}
