import { setTimeout as sleep } from 'node:timers/promises';
import { parseTickLine, type TickLine } from '../../apps/shared/tick-line.ts';
import { isResetLine, tickTimeMs } from '../lib/tick-continuity.ts';
import type { Injected } from './faults.ts';
import { ACTIVE_CLOCK_FAULTS, CLOCK_PROCESS_FAULTS } from './plan.ts';
import { readSince, sizeOf } from './pm2-logs.ts';
import { takeoverFrom } from './standby.ts';
import { firstTickAfter, noteFalseHeals, probeReplaced, type MachineInjected } from './machine-faults.ts';
import { isAlive } from '../lib/wait.ts';
import { logPaths, look, standbyInstance, type Look, type System } from './system.ts';
import { WorkerRecovery } from './worker-faults.ts';
import type { WorkerView } from './worker-look.ts';

/** How a fault ended: healed within the deadline, with the time it took, or not, and why not. */
export interface Recovery {
  recovered: boolean;
  /**
   * ms from the fault to the first sign of the heal: for the clock, the first tick printed by what
   * replaced what broke (by that tick's own time in PM2's log); for the probe, PM2 reporting a new one
   * online; for the standby, PM2 reporting its replacement online and waiting as the standby.
   */
  recoveryMs: number | undefined;
  /** ms from the fault until every health check held at once. */
  healthyMs: number | undefined;
  /** A fault of the worker: ms from the fault to the moment the struck worker owed progress (WorkerRecovery). */
  owedAfterMs?: number | undefined;
  /** What still did not hold at the deadline, or what went wrong that no wait can undo. */
  problem: string | undefined;
}

export const RECOVERY_DEADLINE_MS = 20_000;
const POLL_MS = 50;
// The clock rewrites its heartbeat every 250 ms (apps/shared/heartbeat.ts): four periods is not fresh.
const HEARTBEAT_FRESH_MS = 1_000;
// The supervisor's line for a worker that died (or stopped ticking), with the escalation it may cause.
const workerDown = (thread: number) => new RegExp(`^clock: thread-${thread} (exited with code|stopped ticking)`, 'm');

/**
 * Waits until the system is healthy again after `injected` (see healthProblems), the broken part was
 * replaced, and the clock prints ticks again. Gives up at the deadline, or at once on a sign that
 * something went wrong for good (in hot-standby mode: the active changed when only the standby was killed).
 */
export async function awaitRecovery(system: System, injected: Injected, deadlineMs = RECOVERY_DEADLINE_MS): Promise<Recovery> {
  const signs = new RecoverySigns(system, injected);
  const deadline = injected.at + deadlineMs;
  let problems: string[] = [];
  for (;;) {
    const seen = await look(system);
    problems = [...healthProblems(seen, system.standby), ...(await signs.problems(seen))];
    if (signs.broken) return { recovered: false, recoveryMs: undefined, healthyMs: undefined, problem: signs.broken };
    if (problems.length === 0) {
      const { workerApp } = signs;
      // A fault of the worker app is timed on the monotonic clock, the others by the clock's tick stamps (wall time).
      const recoveryMs = workerApp ? workerApp.replacedAfterMs : (signs.healedAt ?? seen.at) - injected.at;
      return { recovered: true, recoveryMs, healthyMs: seen.at - injected.at, problem: undefined, ...(workerApp ? { owedAfterMs: workerApp.owedAfterMs } : {}) };
    }
    if (Date.now() > deadline) break;
    await sleep(POLL_MS);
  }
  return { recovered: false, recoveryMs: undefined, healthyMs: undefined, problem: `not healthy after ${deadlineMs / 1000} s: ${problems.join('; ')}` };
}

/**
 * What is wrong with the system as seen, whatever the fault was; none when it is healthy. Plain: PM2
 * says clock and probe online; the process table holds exactly one clock of this state, PM2's; its
 * heartbeat is fresh and its own. Hot standby: PM2 says both clock instances and the probe online; the
 * process table holds exactly PM2's two clocks; exactly one of them writes a fresh, ticking heartbeat
 * and says it is active; the other says it is the standby, and waits connected to the state lock.
 */
export function healthProblems(seen: Look, standby = false): string[] {
  const ofWorker = seen.worker ? workerHealthProblems(seen.worker) : [];
  return [...(standby ? standbyHealthProblems(seen) : clockHealthProblems(seen)), ...ofWorker];
}

function clockHealthProblems(seen: Look): string[] {
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

// PM2 runs this many clock instances in hot-standby mode (ecosystem.config.js).
const STANDBY_INSTANCES = 2;

/**
 * The worker, when the system runs one: PM2 says it is online; the process table holds exactly one
 * instance of it, PM2's (a worker left by a killed daemon is a duplicate, for the probe to end); its
 * beat is its own, ready and fresh.
 */
export function workerHealthProblems(view: WorkerView): string[] {
  const problems: string[] = [];
  const { app, beat } = view;
  if (app?.status !== 'online') problems.push(`PM2 says worker is ${app?.status ?? 'not there'}`);
  if (app && (view.instances.length !== 1 || view.instances[0] !== app.pid)) {
    problems.push(`workers in the process table: ${view.instances.join(', ') || 'none'} (PM2's is ${app.pid})`);
  }
  if (!beat || beat.pid !== app?.pid) problems.push(`the worker's beat is from pid ${beat?.pid ?? 'none'}, not PM2's worker ${app?.pid ?? '-'}`);
  else if (!beat.ready) problems.push("the worker's beat says it is not ready yet");
  else if ((view.beatAgeMs ?? Infinity) > HEARTBEAT_FRESH_MS) problems.push(`the worker's beat is ${view.beatAgeMs} ms old`);
  return problems;
}

function standbyHealthProblems(seen: Look): string[] {
  const problems: string[] = [];
  if (seen.pm2Error) problems.push(`PM2 does not answer (${seen.pm2Error})`);
  const { instances, probe, heartbeat } = seen;
  if (probe?.status !== 'online') problems.push(`PM2 says probe is ${probe?.status ?? 'not there'}`);
  if (instances.length !== STANDBY_INSTANCES) problems.push(`PM2 lists ${instances.length} clock instances, not ${STANDBY_INSTANCES}`);
  for (const instance of instances) {
    if (instance.status !== 'online') problems.push(`PM2 says clock (pm2 id ${instance.pmId}) is ${instance.status}`);
  }
  const pm2Pids = instances.filter((instance) => instance.status === 'online').map((instance) => instance.pid);
  const samePids = seen.clocks.length === pm2Pids.length && pm2Pids.every((pid) => seen.clocks.includes(pid));
  if (instances.length > 0 && !samePids) {
    problems.push(`clocks of this state in the process table: ${seen.clocks.join(', ') || 'none'} (PM2's are ${pm2Pids.join(', ') || 'none'})`);
  }
  const active = instances.find((instance) => instance.status === 'online' && instance.pid === heartbeat?.pid);
  if (!heartbeat || !active) {
    problems.push(`the heartbeat is from pid ${heartbeat?.pid ?? 'none'}, none of PM2's clocks (${pm2Pids.join(', ') || 'none online'})`);
    return problems;
  }
  if (heartbeat.phase !== 'ticking') problems.push('the heartbeat says the active clock is still starting');
  else if (seen.at - heartbeat.writtenAt > HEARTBEAT_FRESH_MS) problems.push(`the heartbeat is ${seen.at - heartbeat.writtenAt} ms old`);
  if (active.role !== 'active') problems.push(`clock pid ${active.pid} writes the heartbeat but PM2 has its role as ${active.role ?? 'none'}, not active`);
  const standby = standbyInstance(instances, active);
  if (standby && standby.role !== 'standby') problems.push(`clock pid ${standby.pid} is not waiting as the standby yet (its role: ${standby.role ?? 'none'})`);
  // Every clock of the state either owns the lock or waits connected to it: the standby must be waiting.
  if (standby && (heartbeat.waiters ?? 0) < 1) problems.push('no clock waits on the state lock (the standby is not connected to it)');
  return problems;
}

/** The signs, particular to each fault, that what it broke was replaced and works again. */
class RecoverySigns {
  healedAt: number | undefined;
  /** Set when something went wrong that waiting cannot undo: the fault did not recover, whatever comes next. */
  broken: string | undefined;
  private readonly logs: { out: string; err: string };
  // Where in the out log the crashed worker's successor can start printing (see problems()).
  private restartedWorkerFrom: number | undefined;
  /** A fault of the worker app (not a worker thread of the clock): its own signs, timed on the monotonic clock. */
  readonly workerApp: WorkerRecovery | undefined;

  constructor(
    private readonly system: System,
    private readonly injected: Injected,
  ) {
    this.logs = logPaths(system);
    this.workerApp = injected.worker && new WorkerRecovery(injected.worker);
  }

  async problems(seen: Look): Promise<string[]> {
    const { fault, before } = this.injected;
    const { standby } = this.system;
    if (this.injected.machine) return this.machineProblems(seen, this.injected.machine);
    // The clock's own health (ticking, its heartbeat fresh) is judged all along; its ticks owe nothing to this fault.
    if (this.workerApp) return this.workerApp.problems(seen);
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
    if (standby) problems.push(...(await this.standbyProblems(seen)));
    if (problems.length > 0 || this.broken) return problems;
    const tickedAt = await this.firstTickAfterHeal(seen);
    if (tickedAt === undefined) return ['no tick in the log from what replaced it yet'];
    if (fault.kind !== 'sigkill-probe' && fault.kind !== 'sigkill-standby') this.healedAt = tickedAt;
    return [];
  }

  /**
   * A fault of the machine: nothing may be healed (a heal is a false one, and the fault fails). A
   * hung probe is healed once PM2 reports a new one online and the stopped one is gone; the others
   * once the clock prints a tick after the disk came back (or after the step).
   */
  private async machineProblems(seen: Look, machine: MachineInjected): Promise<string[]> {
    const { fault, before, at } = this.injected;
    if (noteFalseHeals(machine, seen)) {
      this.broken = machine.problem;
      return [];
    }
    if (fault.kind === 'hang-probe') {
      if (seen.probe?.status !== 'online' || seen.probe.pid === before.probePid) return ['the probe has not been restarted yet'];
      if (isAlive(before.probePid)) return [`the stopped probe (pid ${before.probePid}) is still there beside the new one (pid ${seen.probe.pid})`];
      this.healedAt ??= seen.at;
      return [];
    }
    const replaced = await probeReplaced(this.system, before, seen);
    if (replaced) {
      this.broken = `${replaced}, though this fault calls for no new probe`;
      return [];
    }
    const step = machine.step;
    const tickedAt = firstTickAfter(await readSince(this.logs.out, before.outSize), at, step?.who === 'clock' ? step.ms : 0, Date.now());
    if (tickedAt === undefined) return [step ? 'no tick in the log since the step yet' : 'no tick in the log since the disk came back yet'];
    this.healedAt = tickedAt;
    return [];
  }

  /** Hot standby: the standby took over from a struck active; a killed standby was replaced, the active undisturbed. */
  private async standbyProblems(seen: Look): Promise<string[]> {
    const { fault, before } = this.injected;
    const listed = (pid: number) => seen.instances.some((instance) => instance.pid === pid);
    const problems: string[] = [];
    if (ACTIVE_CLOCK_FAULTS.has(fault.kind)) {
      if (listed(before.clockPid)) problems.push(`PM2 has not replaced the old active (pid ${before.clockPid}) yet`);
      // Only a clock waiting on the old active's lock (the standby) can log that it took over from it:
      // that line, not who writes the heartbeat later, is the proof. What happens to the new active
      // afterwards is the next thing health has to see through (and a kill by the probe is in its log).
      if (!takeoverFrom(await readSince(this.logs.out, before.outSize), before.clockPid)) {
        problems.push(`the standby (pid ${before.standbyPid}) has not taken over yet: no "took over from clock pid ${before.clockPid}" line in the log`);
      }
    } else if (fault.kind === 'sigkill-standby') {
      // The active must tick on as if nothing happened: the same writer of the heartbeat, no takeover.
      if (seen.heartbeat && seen.heartbeat.pid !== before.clockPid) {
        this.broken = `the active changed (pid ${before.clockPid} to ${seen.heartbeat.pid}) when only the standby (pid ${before.standbyPid}) was killed`;
      }
      const tookOver = takeoverFrom(await readSince(this.logs.out, before.outSize));
      if (tookOver) this.broken = `a takeover (from clock pid ${tookOver.fromPid}) followed a kill of the standby alone`;
      const replacement = standbyInstance(seen.instances, seen.clock);
      if (listed(before.standbyPid)) problems.push(`PM2 has not replaced the killed standby (pid ${before.standbyPid}) yet`);
      else if (replacement?.role === 'standby') this.healedAt ??= seen.at;
      else problems.push('no new standby waiting yet');
    } else if (fault.kind === 'kill-daemon' && listed(before.standbyPid)) {
      problems.push(`the standby of the killed daemon (pid ${before.standbyPid}) is still listed`);
    }
    return problems;
  }

  /** The time of the first tick printed by the replacement (or, for the probe or the standby, by the clock at all). */
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
    if (fault.kind === 'sigkill-probe' || fault.kind === 'sigkill-standby') return firstTick(since, () => true);
    if (this.system.standby && ACTIVE_CLOCK_FAULTS.has(fault.kind)) {
      // The standby started long before the fault: its ticks are the ones after its takeover line,
      // which it logs before it can print any, and after which the struck active prints none (dead,
      // stopped, or done: it released the lock only after it stopped printing).
      const takeover = takeoverFrom(since, before.clockPid);
      return takeover ? firstTick(since.slice(takeover.end), () => true) : undefined;
    }
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
