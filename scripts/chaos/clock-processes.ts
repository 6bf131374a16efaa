import { isClockOfOurState, realpathOrUndefined, type ClockIdentity } from '../../apps/probe/identity.ts';
import { findProcesses, readEnviron, type ProcessInfo } from '../../apps/probe/proc-table.ts';
import { CLOCK_ENTRY } from '../lib/pm2-sandbox.ts';

/** Who counts as a clock of `stateDir`: the probe's own rule (apps/probe/identity.ts). */
export function clockIdentity(stateDir: string): ClockIdentity {
  return {
    entry: realpathOrUndefined(CLOCK_ENTRY) ?? CLOCK_ENTRY,
    stateDir: realpathOrUndefined(stateDir) ?? stateDir,
    user: String(process.getuid?.() ?? -1),
  };
}

/** The live clocks of this state in the process table, whoever started them. */
export function clocksOfState(identity: ClockIdentity): ProcessInfo[] {
  return findProcesses('main.js').filter((proc) => isClockOfOurState(proc, readEnviron(proc.pid), identity));
}
