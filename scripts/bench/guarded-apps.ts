import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_HEALS, WINDOW_MS } from '../../apps/probe/heal-budget.ts';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { GUARD_BEAT_CAP_BYTES, parseGuardBeat, type GuardBeat } from '../../apps/shared/guard-contract.ts';
import { readStateFile } from '../../apps/shared/state-file.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { cleanUpOnInterrupt } from '../lib/interrupt.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../lib/pm2-sandbox.ts';
import { isAlive, waitFor } from '../lib/wait.ts';

/**
 * The bench's rows for guarding any app (issue 18), under a PM2 daemon of its own: the probe's CPU
 * with the clock alone under guard, then with the clock and N − 1 copies of the example worker
 * (examples/guarded-worker: plain Node, none of our code), nothing failing; then, among those
 * workers, hangs and stalls, each timed from the fault to a new worker online and beating.
 */

export const GUARDED_CONFIG = join(PROJECT_ROOT, 'scripts', 'bench', 'guarded-apps.config.js');
// The probe at its production defaults, whatever the caller's environment says.
const PROBE_PERIOD_MS = 500;
// The example's own declaration (its ecosystem file, which the bench's copies reuse).
export const WORKER_HANG_MS = 2_000;
export const WORKER_STALL_MS = 2_000;
const WORKER_EVERY_MS = 1_000;
// Beats are read this often while a fault is timed: the figure is the new beat's own write time,
// so this only bounds how long after it the bench notices.
const POLL_MS = 20;
// A fault the probe has not healed by then is counted as a failure (and the bench ends the process).
const HEAL_LIMIT_MS = 15_000;
// The probe's first looks at new apps (a full scan of the process table for each) are start-up, not upkeep.
const WARMUP_MS = 5_000;

export interface GuardedCpu {
  /** Apps under guard during the window, as the probe's `guarded apps` metric said. */
  apps: number;
  /** % of one core: the probe's own `cpu time` metric (process.cpuUsage) over the window. */
  percent: number;
  seconds: number;
  /** The probe's `full scans` metric's growth over the window. */
  fullScans: number;
}

export interface WorkerFault {
  worker: string;
  /** How it was broken: SIGUSR1 / SIGSTOP (hung), SIGUSR2 (stalled). */
  signal: 'SIGUSR1' | 'SIGSTOP' | 'SIGUSR2';
  /** ms from the fault to the new worker's first ready beat (that beat's own write time). */
  replacedMs: number;
  /** Stalls: ms from the fault to the moment the stalled worker owed progress (its beat's write + owedInMs). */
  owedMs?: number;
}

export interface GuardedMeasurements {
  apps: number;
  alone: GuardedCpu;
  many: GuardedCpu;
  hangs: WorkerFault[];
  stalls: WorkerFault[];
  /** Faults the probe did not heal within HEAL_LIMIT_MS, one line each. */
  failures: string[];
}

export interface GuardedOptions {
  /** Apps under guard: the clock and apps − 1 workers. */
  apps: number;
  seconds: number;
  hangs: number;
  stalls: number;
}

export async function measureGuardedApps(options: GuardedOptions, progress: (line: string) => void): Promise<GuardedMeasurements> {
  const workers = options.apps - 1;
  const sandbox = await createSandbox({
    CLOCK_INTERVALS: '2,4',
    CLOCK_TICKS: '20',
    CLOCK_STANDBY: '0',
    PROBE_PERIOD_MS: String(PROBE_PERIOD_MS),
    PROBE_HANG_MS: '3000',
    WORKER_EVERY_MS: String(WORKER_EVERY_MS),
    BENCH_WORKERS: String(workers),
  });
  const cleanUp = cleanUpOnInterrupt(() => sandbox.cleanup());
  try {
    progress(`guarded apps: the clock alone under guard, in ${sandbox.home}`);
    await sandbox.pm2('start', ECOSYSTEM);
    await untilGuarding(sandbox, 1);
    progress(`guarded apps: probe CPU over ${options.seconds} s, the clock alone`);
    const alone = await probeCpu(sandbox, options.seconds);
    progress(`guarded apps: starting ${workers} workers (examples/guarded-worker), ${options.apps} apps under guard`);
    const names = Array.from({ length: workers }, (_, index) => `worker-${index + 1}`);
    await sandbox.pm2('start', GUARDED_CONFIG, '--only', names.join(','));
    await untilGuarding(sandbox, options.apps, names);
    progress(`guarded apps: probe CPU over ${options.seconds} s, ${options.apps} apps, nothing failing`);
    const many = await probeCpu(sandbox, options.seconds);
    const faults = new Faults(sandbox, names, progress);
    const hangs = await faults.run(options.hangs, (round) => (round % 2 === 1 ? 'SIGUSR1' : 'SIGSTOP'));
    const stalls = await faults.run(options.stalls, () => 'SIGUSR2');
    return { apps: options.apps, alone, many, hangs, stalls, failures: faults.failures };
  } finally {
    await cleanUp();
  }
}

type Metrics = Record<string, { value: unknown }>;

async function probeMetrics(sandbox: Sandbox): Promise<Metrics> {
  return (await sandbox.list()).find((p) => p.name === 'probe')?.metrics ?? {};
}

/** Until the probe guards `count` apps and has found each of `workers` healthy, then a warm-up. */
async function untilGuarding(sandbox: Sandbox, count: number, workers: string[] = []): Promise<void> {
  await waitFor(`the probe to guard ${count} apps, every one healthy`, async () => {
    const metrics = await probeMetrics(sandbox);
    return metrics['guarded apps']?.value === count && ['clock', ...workers].every((name) => metrics[`${name} is`]?.value === 'healthy');
  }, 60_000, 250);
  await sleep(WARMUP_MS);
}

/**
 * The probe's CPU share over `seconds`, from its own `cpu time` metric (ms, published at most once a
 * second): the window runs from one published value to another, timed as the bench saw them change.
 */
async function probeCpu(sandbox: Sandbox, seconds: number): Promise<GuardedCpu> {
  const pid = await sandbox.onlinePid('probe');
  const start = readProcStat(pid)?.startTicks;
  const sample = async () => {
    const before = Number((await probeMetrics(sandbox))['cpu time']?.value);
    const metrics = await waitFor('the probe to publish its CPU time again', async () => {
      const now = await probeMetrics(sandbox);
      return Number(now['cpu time']?.value) !== before ? now : undefined;
    }, 10_000, 100);
    return { at: performance.now(), cpuMs: Number(metrics['cpu time']?.value), scans: Number(metrics['full scans']?.value), apps: Number(metrics['guarded apps']?.value) };
  };
  const first = await sample();
  await sleep(seconds * 1000);
  const last = await sample();
  if (readProcStat(pid)?.startTicks !== start) throw new Error(`the probe (pid ${pid}) restarted while its CPU time was measured`);
  const wallMs = last.at - first.at;
  return { apps: last.apps, percent: round((100 * (last.cpuMs - first.cpuMs)) / wallMs, 3), seconds: round(wallMs / 1000, 1), fullScans: last.scans - first.scans };
}

/**
 * Breaks workers one after another, each in turn (worker-1, worker-2, …): every app has a heal
 * budget of its own, so a round waits only when it comes back to a worker healed MAX_HEALS times
 * within the budget's window.
 */
class Faults {
  readonly failures: string[] = [];
  private next = 0;
  private readonly healedAt = new Map<string, number[]>();

  constructor(
    private readonly sandbox: Sandbox,
    private readonly workers: string[],
    private readonly progress: (line: string) => void,
  ) {}

  async run(rounds: number, signalOf: (round: number) => WorkerFault['signal']): Promise<WorkerFault[]> {
    const done: WorkerFault[] = [];
    for (let round = 1; round <= rounds; round++) {
      const worker = this.workers[this.next++ % this.workers.length] as string;
      await this.waitForBudget(worker);
      const signal = signalOf(round);
      const fault = await this.once(worker, signal);
      const kind = signal === 'SIGUSR2' ? 'stall' : 'hang';
      if (typeof fault === 'string') {
        this.failures.push(fault);
        this.progress(`worker ${kind} ${round}/${rounds}: ${fault}`);
        continue;
      }
      this.healedAt.set(worker, [...(this.healedAt.get(worker) ?? []), performance.now()]);
      done.push(fault);
      const owed = fault.owedMs === undefined ? '' : ` (it owed progress ${fault.owedMs} ms after the fault)`;
      this.progress(`worker ${kind} ${round}/${rounds}: ${worker} (${signal}) replaced ${fault.replacedMs} ms after the fault${owed}`);
    }
    return done;
  }

  private async waitForBudget(worker: string): Promise<void> {
    const recent = (this.healedAt.get(worker) ?? []).filter((at) => at > performance.now() - WINDOW_MS);
    if (recent.length < MAX_HEALS) return;
    const waitMs = (recent[0] ?? 0) + WINDOW_MS + 1_000 - performance.now();
    this.progress(`waiting ${Math.ceil(waitMs / 1000)} s: the probe heals ${worker} at most ${MAX_HEALS} times in ${WINDOW_MS / 1000} s`);
    await sleep(waitMs);
  }

  /** One fault of `worker`, timed; or why it was not healed. */
  private async once(worker: string, signal: WorkerFault['signal']): Promise<WorkerFault | string> {
    const beatPath = join(this.sandbox.stateDir, 'guard', `${worker}.json`);
    const { beat: current } = await waitFor(`${worker} online and beating`, async () => {
      const read = await readBeat(beatPath);
      return read?.beat.ready && isAlive(read.beat.pid) ? read : undefined;
    }, 30_000, POLL_MS);
    const { pid } = current;
    const start = readProcStat(pid)?.startTicks;
    // Whatever happens next (Ctrl-C included), no stopped or stalled worker is left behind.
    const killIfStillThere = cleanUpOnInterrupt(() => {
      if (start !== undefined && readProcStat(pid)?.startTicks === start) process.kill(pid, 'SIGKILL');
    });
    let owedAt: number | undefined;
    const faultAt = Date.now();
    process.kill(pid, signal);
    try {
      const replaced = await waitFor(`${worker} pid ${pid} to be replaced`, async () => {
        const read = await readBeat(beatPath);
        if (!read) return undefined;
        // The first beat the stalled worker wrote after the fault says when it owes progress.
        if (signal === 'SIGUSR2' && owedAt === undefined && read.beat.pid === pid && read.mtimeMs >= faultAt && read.beat.owedInMs !== null) owedAt = read.mtimeMs + read.beat.owedInMs;
        return read.beat.pid !== pid && read.beat.ready && isAlive(read.beat.pid) ? read : undefined;
      }, HEAL_LIMIT_MS, POLL_MS).catch(() => undefined);
      if (!replaced) return `${worker} pid ${pid} (${signal}) was not replaced within ${HEAL_LIMIT_MS / 1000} s; the bench killed it`;
      // A new beating pid is PM2's own new instance, not some process of the bench's.
      await this.sandbox.onlinePid(worker, pid);
      return {
        worker,
        signal,
        replacedMs: Math.round(replaced.mtimeMs - faultAt),
        ...(signal === 'SIGUSR2' ? { owedMs: owedAt === undefined ? Number.NaN : Math.round(owedAt - faultAt) } : {}),
      };
    } finally {
      await killIfStillThere();
    }
  }
}

/** A beat of the contract and its file's write time, or undefined (none, or no beat). */
async function readBeat(path: string): Promise<{ beat: GuardBeat; mtimeMs: number } | undefined> {
  const file = await readStateFile(path, GUARD_BEAT_CAP_BYTES).catch(() => undefined);
  if (file?.kind !== 'read') return undefined;
  const parsed = parseGuardBeat(file.text);
  return parsed.kind === 'beat' ? { beat: parsed.beat, mtimeMs: file.mtimeMs } : undefined;
}

function round(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}
