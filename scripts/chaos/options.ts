import { parseArgs } from 'node:util';
import { FAULT_KINDS, faultKinds } from './plan.ts';
import { MAX_SEED, newSeed } from './prng.ts';
import { CLUSTER_FAULT_KINDS } from '../cluster/faults.ts';

export interface ChaosOptions {
  faults: number;
  seed: number;
  /** Hot-standby mode (--standby): the sandbox runs CLOCK_STANDBY=1, two clock instances, one active. */
  standby: boolean;
  /** Cluster mode (--cluster): three test hosts, one etcd cluster, host-level faults (scripts/cluster/). */
  cluster: boolean;
}

export type ParsedArgs = { kind: 'run'; options: ChaosOptions } | { kind: 'help' } | { kind: 'usage'; message: string };

// One round of every kind, and then some: enough to see each heal twice in about a minute.
export const DEFAULT_FAULTS = 2 * FAULT_KINDS.length;
/** Two rounds of the kinds of the mode: 16 faults, 18 with --standby, 10 with --cluster. */
export const defaultFaults = (standby: boolean, cluster = false): number => 2 * (cluster ? CLUSTER_FAULT_KINDS.length : faultKinds(standby).length);
export const MAX_FAULTS = 1_000;

/** Reads chaos's command line; a wrong one is said in one line (what was expected, what was given). */
export function parseChaosArgs(args: string[], makeSeed: () => number = newSeed): ParsedArgs {
  let values: { faults?: string; seed?: string; standby?: boolean; cluster?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { faults: { type: 'string' }, seed: { type: 'string' }, standby: { type: 'boolean' }, cluster: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    }));
  } catch (error) {
    return { kind: 'usage', message: (error as Error).message };
  }
  if (values.help) return { kind: 'help' };
  const standby = values.standby === true;
  const cluster = values.cluster === true;
  if (standby && cluster) return { kind: 'usage', message: '--standby and --cluster are separate runs: give one of them' };
  const faults = values.faults === undefined ? defaultFaults(standby, cluster) : wholeNumber(values.faults);
  if (faults === undefined || faults < 1 || faults > MAX_FAULTS) {
    return { kind: 'usage', message: `--faults ${JSON.stringify(values.faults)} is not valid: expected a whole number from 1 to ${MAX_FAULTS}, e.g. --faults ${defaultFaults(standby)}` };
  }
  const seed = values.seed === undefined ? makeSeed() : wholeNumber(values.seed);
  if (seed === undefined || seed > MAX_SEED) {
    return { kind: 'usage', message: `--seed ${JSON.stringify(values.seed)} is not valid: expected a whole number from 0 to ${MAX_SEED}, e.g. --seed 7` };
  }
  return { kind: 'run', options: { faults, seed, standby, cluster } };
}

function wholeNumber(text: string): number | undefined {
  return /^\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : undefined;
}
