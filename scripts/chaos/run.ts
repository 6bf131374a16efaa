import { cp, lstat, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_HEALS, WINDOW_MS } from '../../apps/probe/heal-budget.ts';
import { HEALTHY_AFTER_MS } from '../../apps/clock/start-backoff.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../lib/pm2-sandbox.ts';
import { isAlive, waitFor } from '../lib/wait.ts';
import { clockIdentity, clocksOfState } from './clock-processes.ts';
import { judgeContinuity } from './continuity-verdict.ts';
import { injectFault } from './faults.ts';
import { awaitRecovery, healthProblems, RECOVERY_DEADLINE_MS } from './health.ts';
import { killAll, processesOf } from './leftovers.ts';
import type { ChaosOptions } from './options.ts';
import { faultKinds, isWorkerFault, planFaults, type FaultKind, type PlannedFault } from './plan.ts';
import { readWholeLog } from './pm2-logs.ts';
import { probeHeals } from './probe-heals.ts';
import type { Pm2Client } from '../../apps/probe/pm2-client.ts';
import type { Progress } from './progress.ts';
import { describe, verdict, type ChaosOutcome, type FaultResult } from './report.ts';
import { watchClockOverlap } from './overlap.ts';
import { DISK_SIZES, Machine } from './machine.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { look, standbyInstance, type Before, type Look, type System } from './system.ts';
import { disturbances, type AppPids } from './apart.ts';
import { WORKER_APP, WORKER_CONFIG, workerSpecOf, type WorkerSpec } from './worker-look.ts';

/**
 * The settings of the system chaos runs against: short intervals so that many faults fit in a
 * minute, a quick probe, and the clock's fault-injection hook on. The environment may change the
 * first four; hot-standby mode is --standby's alone (a CLOCK_STANDBY in the caller's environment
 * does not switch it).
 */
export function chaosSettings(env: NodeJS.ProcessEnv = process.env, standby = false): Record<string, string> {
  return {
    CLOCK_INTERVALS: env.CLOCK_INTERVALS ?? '0.2,0.4',
    CLOCK_TICKS: env.CLOCK_TICKS ?? '5',
    PROBE_PERIOD_MS: env.PROBE_PERIOD_MS ?? '200',
    PROBE_HANG_MS: env.PROBE_HANG_MS ?? '1000',
    CLOCK_FAULTS: '1',
    CLOCK_STANDBY: standby ? '1' : '0',
  };
}

// PM2 runs this many clock instances in hot-standby mode (ecosystem.config.js).
const STANDBY_INSTANCES = 2;

// Past HEALTHY_AFTER_MS the clock counts its start as healthy (and writes so): a fault before that
// would meet the crash-loop back-off, which is a different promise from the one measured here.
const SETTLED_MS = HEALTHY_AFTER_MS + 300;
// A standby that has waited, healthy, for HEALTHY_AFTER_MS takes over without any back-off; it waits
// only once its workers are up, some 300 ms after PM2 launched it (more on a busy machine).
const STANDBY_SETTLED_MS = SETTLED_MS + 700;

/**
 * A whole chaos run in a sandbox of its own (a temporary PM2_HOME, state and logs): start the
 * ecosystem, break it fault by fault and wait for each heal, then read the clock's logs; and clean
 * up whatever happens. `signal` (Ctrl-C) stops it at the next step, cleaned up, with an AbortError.
 */
export async function runChaos(options: ChaosOptions, progress: Progress, signal: AbortSignal): Promise<ChaosOutcome> {
  const { standby, machine: onMachine } = options;
  const settings = chaosSettings(process.env, standby);
  const threads = settings.CLOCK_INTERVALS?.split(',').length ?? 1;
  const probePeriodMs = Number(settings.PROBE_PERIOD_MS);
  const probeHangMs = Number(settings.PROBE_HANG_MS);
  const withWorker = options.worker;
  const plan = planFaults(options.seed, options.faults, threads, options.kinds ?? faultKinds(standby, onMachine, withWorker));
  const outcome: ChaosOutcome = {
    seed: options.seed,
    standby,
    machine: onMachine,
    ...(options.kinds ? { kinds: options.kinds } : {}),
    ...(!withWorker && !onMachine ? { noWorker: true } : {}),
    probeHangMs,
    planned: plan.length,
    results: [],
    stoppedEarly: undefined,
    continuity: undefined,
    overlap: undefined,
    writers: undefined,
    probePeriodMs,
    evidence: undefined,
  };
  const sandbox = await createSandbox(settings);
  let rpc: Pm2Client | undefined;
  let machine: Machine | undefined;
  try {
    const mode = standby ? 'hot standby (CLOCK_STANDBY=1): two clocks, one active; ' : '';
    progress.note(`a PM2 daemon of its own in ${sandbox.home}; ${mode}clock every ${settings.CLOCK_INTERVALS} s, ${settings.CLOCK_TICKS} ticks a run; probe every ${probePeriodMs} ms`);
    if (onMachine) {
      machine = await Machine.prepare(sandbox);
      progress.note(`the machine: LOG_DIR on a ${DISK_SIZES.log} tmpfs, STATE_DIR on a ${DISK_SIZES.state} tmpfs; clock and probe under libfaketime (${machine.timeFiles.clock}, ${machine.timeFiles.probe}), PM2's daemon on the true time`);
    }
    await abortable(signal, startEcosystem(sandbox, standby, machine, withWorker));
    // PM2's library reads PM2_HOME once, when it loads: it must load pointed at the sandbox.
    process.env.PM2_HOME = sandbox.home;
    const { Pm2Client } = await import('../../apps/probe/pm2-client.ts');
    rpc = new Pm2Client(sandbox.home);
    let worker: WorkerSpec | undefined;
    if (withWorker) {
      // Its settings as PM2 launched it, from its env there: the example's own, which chaos does not repeat.
      worker = workerSpecOf(await rpc.processList());
      outcome.worker = { hangMs: worker.settings.hangMs, stallMs: worker.settings.stallMs };
      progress.note(`beside the clock: the example worker (${WORKER_CONFIG}), beat ${worker.settings.heartbeat}, hung after ${worker.settings.hangMs} ms, stalled ${worker.settings.stallMs} ms late`);
    }
    const system: System = {
      home: sandbox.home,
      stateDir: sandbox.stateDir,
      logDir: sandbox.logDir,
      pm2: (...args) => sandbox.pm2(...args).then((result) => ({ code: 0, ...result })),
      rpc,
      identity: clockIdentity(sandbox.stateDir),
      probePeriodMs,
      probeHangMs,
      threads,
      standby,
      machine,
      worker,
    };
    // Two clock processes are the norm in hot-standby mode; a third is allowed only briefly.
    const watch = watchClockOverlap(system.identity, statePaths(sandbox.stateDir).heartbeat, standby ? STANDBY_INSTANCES : 1, undefined, onMachine);
    try {
      outcome.stoppedEarly = await runFaults(system, plan, outcome.results, progress, signal);
    } finally {
      ({ overlap: outcome.overlap, writers: outcome.writers } = await watch.stop());
      progress.finish();
    }
    outcome.continuity = judgeContinuity(await readWholeLog(sandbox.logDir, 'clock.out'), await readWholeLog(sandbox.logDir, 'clock.err'), onMachine);
    const struck = (kind: PlannedFault['kind']) => outcome.results.flatMap((result) => (result.kind === kind && result.target ? [result.target] : []));
    outcome.probeHeals = probeHeals(await readWholeLog(sandbox.logDir, 'probe.err'), {
      hung: struck('hang-clock'),
      stalled: struck('stall-clock'),
      worker: { hung: struck('hang-worker'), stalled: struck('stall-worker') },
    });
    if (!verdict(outcome).ok) outcome.evidence = await keepEvidence(sandbox);
    return outcome;
  } finally {
    await shutdown(sandbox, rpc, progress, machine);
  }
}

/** A failed run's logs and state, copied out of the sandbox before it is removed, to be looked at. */
async function keepEvidence(sandbox: Sandbox): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'estatus-chaos-evidence-'));
  await cp(sandbox.logDir, join(dir, 'logs'), { recursive: true });
  // The lock is a socket, and so is each waiting clock's own (clock.sock.<pid>, a standby's all along): nothing to copy.
  const notSocket = async (source: string) => !(await lstat(source).then((stats) => stats.isSocket(), () => true));
  await cp(sandbox.stateDir, join(dir, 'state'), { recursive: true, filter: notSocket });
  return dir;
}

async function startEcosystem(sandbox: Sandbox, standby: boolean, machine: Machine | undefined, worker: boolean): Promise<void> {
  if (machine) {
    // The daemon first, on the true time; then each app with its own wall clock: PM2 passes the
    // starting command's environment to the app, and keeps it for every restart and resurrect.
    await sandbox.pm2('ping');
    await sandbox.pm2With(machine.fakedEnv('probe'), 'start', ECOSYSTEM, '--only', 'probe');
    await sandbox.pm2With(machine.fakedEnv('clock'), 'start', ECOSYSTEM, '--only', 'clock');
  } else {
    await sandbox.pm2('start', ECOSYSTEM);
  }
  // The worker as the example declares it (its ecosystem file also declares clock and probe, as the root one does).
  if (worker) await sandbox.pm2('start', WORKER_CONFIG, '--only', WORKER_APP);
  await sandbox.onlinePid('clock');
  await sandbox.onlinePid('probe');
  if (worker) await sandbox.onlinePid(WORKER_APP);
  if (standby) {
    await waitFor(`PM2 to report ${STANDBY_INSTANCES} clock instances online`, async () => {
      const clocks = (await sandbox.list()).filter((app) => app.name === 'clock');
      return clocks.length === STANDBY_INSTANCES && clocks.every((app) => app.status === 'online' && isAlive(app.pid));
    });
  }
  // pm2 resurrect (after the daemon is killed) brings back what was saved.
  await sandbox.pm2('save', '--force');
}

/** Each planned fault in turn; returns why it stopped early, if the system could not be brought back. */
async function runFaults(system: System, plan: PlannedFault[], results: FaultResult[], progress: Progress, signal: AbortSignal): Promise<string | undefined> {
  const hangs = new HealBudgets();
  for (const fault of plan) {
    const unsettled = await abortable(signal, settle(system));
    if (unsettled) {
      progress.note(`before fault ${fault.number}: not healthy (${unsettled}); repairing`);
      const stillUnsettled = await abortable(signal, repair(system).then(() => settle(system)));
      if (stillUnsettled) return `the system was not healthy before fault ${fault.number}, even after a repair: ${stillUnsettled}`;
    }
    progress.working(fault.number - 1, plan.length, `next: ${describe(fault)} after ${fault.waitMs} ms`);
    await sleep(fault.waitMs, undefined, { signal });
    const healedByProbe = PROBE_HEALS[fault.kind];
    if (healedByProbe) await abortable(signal, hangs.waitForRoom(system, healedByProbe, progress));
    const result = await abortable(signal, breakAndWatch(system, fault));
    results.push(result);
    if (result.recovered) {
      if (healedByProbe) hangs.healed(healedByProbe);
      const held = result.heldAfterMs === undefined ? '' : ` (held ${(result.heldAfterMs / 1000).toFixed(1)} s after the fault)`;
      progress.update(fault.number, plan.length, `${describe(fault)}: recovered in ${result.recoveryMs} ms${held}`);
    } else {
      progress.note(`fault ${fault.number} ${describe(fault)} did not recover: ${result.problem}`);
      await abortable(signal, repair(system));
    }
  }
  return undefined;
}

async function breakAndWatch(system: System, fault: PlannedFault): Promise<FaultResult> {
  const base = { number: fault.number, kind: fault.kind, thread: fault.thread };
  try {
    const injected = await injectFault(system, fault);
    const { before, machine } = injected;
    const struck = ['sigkill-probe', 'hang-probe', 'step-back-probe', 'step-ahead-probe'].includes(fault.kind) ? before.probePid : undefined;
    const struckWorker = isWorkerFault(fault.kind) ? before.workerPid : undefined;
    const target = { 'sigkill-standby': before.standbyPid, 'kill-daemon': before.daemonPid }[fault.kind as string] ?? struck ?? struckWorker ?? before.clockPid;
    const recovery = machine?.problem ? undefined : await awaitRecovery(system, injected);
    const ofMachine = machine ? { falseHeals: machine.falseHeals, ...(machine.heldAfterMs === undefined ? {} : { heldAfterMs: machine.heldAfterMs }) } : {};
    if (!recovery) return { ...base, recovered: false, recoveryMs: undefined, problem: machine?.problem, target, ...ofMachine };
    const owed = fault.kind === 'stall-worker' && recovery.owedAfterMs !== undefined ? { owedMs: recovery.owedAfterMs } : {};
    // Once healed, the app the fault did not strike must still be the process it was.
    const apart = system.worker && recovery.recovered ? { disturbed: disturbances(fault.kind, pidsBefore(before), pidsOf(await look(system))) } : {};
    return { ...base, recovered: recovery.recovered, recoveryMs: recovery.recoveryMs, problem: recovery.problem, target, ...ofMachine, ...owed, ...apart };
  } catch (error) {
    return { ...base, recovered: false, recoveryMs: undefined, problem: `could not be done: ${error instanceof Error ? error.message : String(error)}` };
  }
}

// The faults the probe heals, by the app it heals: each app has a heal budget of its own.
const PROBE_HEALS: Partial<Record<FaultKind, string>> = { 'hang-clock': 'clock', 'stall-clock': 'clock', 'hang-worker': WORKER_APP, 'stall-worker': WORKER_APP };

function pidsBefore(before: Before): AppPids {
  return { clock: before.clockPid, standby: before.standbyPid, worker: before.workerPid };
}

function pidsOf(seen: Look): AppPids {
  return { clock: seen.clock?.pid ?? 0, standby: standbyInstance(seen.instances, seen.clock)?.pid ?? 0, worker: seen.worker?.app?.pid ?? 0 };
}

/** Waits until healthy and settled (ready for over SETTLED_MS); returns what is wrong if that does not come. */
async function settle(system: System): Promise<string | undefined> {
  let problems: string[] = [];
  try {
    await waitFor(
      'the system to be healthy and settled',
      async () => {
        const seen = await look(system);
        problems = healthProblems(seen, system.standby);
        const readyAt = seen.heartbeat?.readyAt;
        if (problems.length === 0 && (readyAt === null || readyAt === undefined || seen.at - readyAt < SETTLED_MS)) problems = ['the clock has not been ready long'];
        const standby = system.standby ? standbyInstance(seen.instances, seen.clock) : undefined;
        if (problems.length === 0 && standby && seen.at - standby.launchedAt < STANDBY_SETTLED_MS) problems = ['the standby has not been waiting long'];
        // --machine judges the probe too (no fault of the machine but a hung probe may replace it):
        // like the clock, it is struck only once it has been up a moment, not while still starting.
        if (problems.length === 0 && system.machine && seen.probe && seen.at - seen.probe.launchedAt < SETTLED_MS) problems = ['the probe has not been up long'];
        // A worker struck within PM2's min_uptime of its start counts as an unstable restart, and
        // enough of those make PM2 give up on it: a fault lands only on a worker up a moment.
        if (problems.length === 0 && seen.worker?.app && seen.at - seen.worker.app.launchedAt < SETTLED_MS) problems = ['the worker has not been up long'];
        // The probe takes up an app it did not guard at its next full list of PM2 (every few seconds):
        // a fault of the worker before that would time the probe finding the app, not healing it.
        if (problems.length === 0 && seen.worker && seen.probe?.metrics?.[`${WORKER_APP} is`] !== 'healthy') problems = ["the probe does not say it guards the worker (its 'worker is' metric) yet"];
        return problems.length === 0;
      },
      RECOVERY_DEADLINE_MS,
    );
    return undefined;
  } catch {
    return problems.join('; ') || 'unknown';
  }
}

/** After a fault that did not heal: ends a stopped clock (or probe), brings back a dead daemon, restarts what is not online. */
async function repair(system: System): Promise<void> {
  killAll([...clocksOfState(system.identity), ...processesOf(system.home, system.stateDir)].filter((proc) => proc.state === 'T'));
  const daemon = system.rpc.daemonPid();
  if (daemon === undefined || !isAlive(daemon)) await system.pm2('resurrect').catch(() => {});
  const seen = await look(system);
  // By PM2 id: in hot-standby mode `pm2 restart clock` would restart the healthy instance too.
  for (const app of [...seen.instances, seen.probe, seen.worker?.app]) {
    if (app && app.status !== 'online') await system.pm2('restart', String(app.pmId)).catch(() => {});
  }
}

/**
 * The probe heals an app at most MAX_HEALS times in WINDOW_MS, then backs off (apps/probe/heal-budget.ts):
 * a hang or stall beyond that would measure the back-off, not the heal. Each probe process has its
 * own budgets, one per app it guards.
 */
class HealBudgets {
  private probePid = 0;
  private healedAt = new Map<string, number[]>();

  async waitForRoom(system: System, app: string, progress: Progress): Promise<void> {
    const probePid = (await look(system)).probe?.pid ?? 0;
    if (probePid !== this.probePid) {
      this.probePid = probePid;
      this.healedAt.clear();
    }
    const recent = (this.healedAt.get(app) ?? []).filter((at) => at > Date.now() - WINDOW_MS);
    if (recent.length < MAX_HEALS) return;
    // A second to spare: a heal is noted here only once the probe has made it.
    const waitMs = (recent[0] ?? 0) + WINDOW_MS + 1_000 - Date.now();
    progress.note(`waiting ${Math.ceil(waitMs / 1000)} s before the next hang of ${app}: the probe heals it at most ${MAX_HEALS} times in ${WINDOW_MS / 1000} s`);
    await sleep(waitMs);
  }

  healed(app: string): void {
    this.healedAt.set(app, [...(this.healedAt.get(app) ?? []), Date.now()]);
  }
}

async function shutdown(sandbox: Sandbox, rpc: Pm2Client | undefined, progress: Progress, machine: Machine | undefined): Promise<void> {
  // For good: a look still in flight after an interrupt must not reconnect to the daemon killed next.
  await rpc?.close();
  // A stopped clock would hold pm2 kill up for its whole kill_timeout.
  killAll(processesOf(sandbox.home, sandbox.stateDir).filter((proc) => proc.state === 'T'));
  if (machine) {
    // The daemon and its apps first: they hold files open on the disks, and a busy disk cannot be unmounted.
    await sandbox.pm2('kill').catch(() => {});
    killAll(processesOf(sandbox.home, sandbox.stateDir));
    for (const problem of await machine.release()) progress.note(`cleanup: ${problem}`);
  }
  await sandbox.cleanup().catch((error: unknown) => progress.note(`cleanup: ${error instanceof Error ? error.message : String(error)}`));
  const left = killAll(processesOf(sandbox.home, sandbox.stateDir));
  if (left.length > 0) progress.note(`cleanup: ended processes the daemon left behind: ${left.join(', ')}`);
}

/** `promise`, or a rejection with the signal's reason as soon as it is aborted (the promise is left to settle alone). */
function abortable<T>(signal: AbortSignal, promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
