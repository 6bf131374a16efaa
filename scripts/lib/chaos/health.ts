import { setTimeout as sleep } from 'node:timers/promises';
import { parseTickLine, type TickLine } from '../../../apps/shared/tick-line.ts';
import { isResetLine, tickTimeMs } from '../tick-continuity.ts';
import type { Injected } from './faults.ts';
import { CLOCK_PROCESS_FAULTS } from './plan.ts';
import { readSince, sizeOf } from './pm2-logs.ts';
import { logPaths, look, type Look, type System } from './system.ts';

/** How a fault ended: healed within the deadline, with the time it took, or not, and why not. */
export interface Recovery {
  recovered: boolean;
  /**
   * ms from the fault to the first sign of the heal: for the clock, the first tick printed by what
   * replaced what broke (by that tick's own time in PM2's log); for the probe, PM2 reporting a new one online.
   */
  recoveryMs: number | undefined;
  /** ms from the fault until every health check held at once. */
  healthyMs: number | undefined;
  /** What still did not hold at the deadline. */
  problem: string | undefined;
}

export const RECOVERY_DEADLINE_MS = 20_000;
const POLL_MS = 50;
// The clock rewrites its heartbeat every 250 ms (apps/shared/heartbeat.ts): four periods is not fresh.
const HEARTBEAT_FRESH_MS = 1_000;
// The supervisor's line for a worker that died (or stopped ticking), with the escalation it may cause.
const workerDown = (thread: number) => new RegExp(`^clock: thread-${thread} (exited with code|stopped ticking)`, 'm');

/**
 * Waits until the system is healthy again after `injected`: PM2 says clock and probe online; the
 * process table holds exactly one clock of this state, PM2's; its heartbeat is fresh and its own;
 * the broken part was replaced; and the clock prints ticks again. Gives up at the deadline.
 */
export async function awaitRecovery(system: System, injected: Injected, deadlineMs = RECOVERY_DEADLINE_MS): Promise<Recovery> {
  const signs = new RecoverySigns(system, injected);
  const deadline = injected.at + deadlineMs;
  let problems: string[] = [];
  for (;;) {
    const seen = await look(system);
    problems = [...healthProblems(seen), ...(await signs.problems(seen))];
    if (problems.length === 0) {
      return { recovered: true, recoveryMs: (signs.healedAt ?? seen.at) - injected.at, healthyMs: seen.at - injected.at, problem: undefined };
    }
    if (Date.now() > deadline) break;
    await sleep(POLL_MS);
  }
  return { recovered: false, recoveryMs: undefined, healthyMs: undefined, problem: `not healthy after ${deadlineMs / 1000} s: ${problems.join('; ')}` };
}

/** What is wrong with the system as seen, whatever the fault was; none when it is healthy. */
export function healthProblems(seen: Look): string[] {
  const problems: string[] = [];
  if (seen.pm2Error) problems.push(`PM2 does not answer (${seen.pm2Error})`);
  const { clock, probe, heartbeat } = seen;
  if (clock?.status !== 'online') problems.push(`PM2 says clock is ${clock?.status ?? 'not there'}`);
  if (probe?.status !== 'online') problems.push(`PM2 says probe is ${probe?.status ?? 'not there'}`);
  if (clock && (seen.clocks.length !== 1 || seen.clocks[0] !== clock.pid)) {
    problems.push(`clocks of this state in the process table: ${seen.clocks.join(', ') || 'none'} (PM2's is ${clock.pid})`);
  }
  if (!heartbeat || heartbeat.pid !== clock?.pid) problems.push(`the heartbeat is from pid ${heartbeat?.pid ?? 'none'}, not PM2's clock ${clock?.pid ?? '-'}`);
  else if (heartbeat.phase !== 'ticking') problems.push('the heartbeat says the clock is still starting');
  else if (seen.at - heartbeat.writtenAt > HEARTBEAT_FRESH_MS) problems.push(`the heartbeat is ${seen.at - heartbeat.writtenAt} ms old`);
  return problems;
}

/** The signs, particular to each fault, that what it broke was replaced and works again. */
class RecoverySigns {
  healedAt: number | undefined;
  private readonly logs: { out: string; err: string };
  // Where in the out log the crashed worker's successor can start printing (see problems()).
  private restartedWorkerFrom: number | undefined;

  constructor(
    private readonly system: System,
    private readonly injected: Injected,
  ) {
    this.logs = logPaths(system);
  }

  async problems(seen: Look): Promise<string[]> {
    const { fault, before } = this.injected;
    const problems: string[] = [];
    if (CLOCK_PROCESS_FAULTS.has(fault.kind) && seen.clock?.pid === before.clockPid) problems.push('the clock has not been replaced yet');
    if (fault.kind === 'kill-daemon' && (seen.daemonPid === undefined || seen.daemonPid === before.daemonPid)) problems.push('no new PM2 daemon yet');
    if (fault.kind === 'damage-checkpoint' && !(await readSince(this.logs.err, before.errSize)).split('\n').some(isResetLine)) {
      problems.push('the clock has not reported the damaged checkpoint');
    }
    if (fault.kind === 'sigkill-probe') {
      if (seen.probe?.status === 'online' && seen.probe.pid !== before.probePid) this.healedAt ??= seen.at;
      else problems.push('the probe has not been restarted yet');
    }
    if (problems.length > 0) return problems;
    const tickedAt = await this.firstTickAfterHeal(seen);
    if (tickedAt === undefined) return ['no tick in the log from what replaced it yet'];
    if (fault.kind !== 'sigkill-probe') this.healedAt = tickedAt;
    return [];
  }

  /** The time of the first tick printed by the replacement (or, for the probe, by the clock at all). */
  private async firstTickAfterHeal(seen: Look): Promise<number | undefined> {
    const { fault, before } = this.injected;
    if (fault.kind === 'crash-thread') {
      // The out log's size is taken before the error log is read: a tick past it and after the
      // worker's death line can only come from the worker that replaced it.
      const outSize = await sizeOf(this.logs.out);
      if (this.restartedWorkerFrom === undefined && workerDown(fault.thread).test(await readSince(this.logs.err, before.errSize))) {
        this.restartedWorkerFrom = outSize;
      }
      if (this.restartedWorkerFrom === undefined) return undefined;
      return firstTick(await readSince(this.logs.out, this.restartedWorkerFrom), (tick) => tick.thread === `thread-${fault.thread}`);
    }
    const since = await readSince(this.logs.out, before.outSize);
    if (fault.kind === 'sigkill-probe') return firstTick(since, () => true);
    // The new clock's ticks are the ones from after it started; the old one's all came before it died.
    const startedAt = seen.heartbeat?.pid === seen.clock?.pid ? seen.heartbeat?.startedAt : undefined;
    if (startedAt === undefined) return undefined;
    return firstTick(since, (_, at) => at >= startedAt);
  }
}

function firstTick(text: string, wanted: (tick: TickLine, at: number) => boolean): number | undefined {
  for (const line of text.split('\n')) {
    const tick = parseTickLine(line);
    if (tick && wanted(tick, tickTimeMs(tick))) return tickTimeMs(tick);
  }
  return undefined;
}
