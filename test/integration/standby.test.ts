import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isClockOfOurState } from '../../apps/probe/identity.ts';
import { findProcesses, readEnviron } from '../../apps/probe/proc-table.ts';
import type { Heartbeat } from '../../apps/shared/heartbeat.ts';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { CLOCK_ENTRY, createSandbox, ECOSYSTEM, type Pm2Process, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { checkContinuity, tickTimeMs } from '../../scripts/lib/tick-continuity.ts';
import { isAlive, waitFor } from '../../scripts/lib/wait.ts';
import { logSays, moreTicks, tickCount, ticksOf } from '../helpers/clock-log.ts';

/**
 * Hot standby (CLOCK_STANDBY=1), under a real PM2: two `clock` instances, one active (it holds the
 * state lock and writes the heartbeat), the other waiting to take over the instant the active dies.
 */

type Context = { sandbox: Sandbox; watch: OneAtATime };

const HANG_MS = 1000;
const SETTINGS = { CLOCK_STANDBY: '1', PROBE_PERIOD_MS: '200', PROBE_HANG_MS: String(HANG_MS) };
// The clock counts a start healthy after 1 s of being ready (apps/clock/start-backoff.ts). A fault
// sooner than that would be a crash loop, held back on purpose: each fault here waits past it.
const PAST_HEALTHY_MS = 1_200;
// A loose sanity bound on the takeover the clock reports; the real target is measured by the bench.
const TAKEOVER_SANITY_MS = 200;
const STANDBY_LINE = /^clock: standby: clock pid (\d+) is active; this clock waits, ready to take over the instant it dies$/;
const TOOK_OVER_LINE = /^clock: took over from clock pid (\d+) in ([\d.]+) ms \(its death to ticking here\)$/;

const lines = (log: string, pattern: RegExp): RegExpExecArray[] =>
  log.split('\n').flatMap((line): RegExpExecArray[] => {
    const match = pattern.exec(line.trimEnd());
    return match ? [match] : [];
  });

/** How many standby lines in the log name `active` as the active clock. */
const standbyLinesFor = (log: string, active: number): number =>
  lines(log, STANDBY_LINE).filter((match) => Number(match[1]) === active).length;

// --- what can be seen from outside: PM2, the process table, the heartbeat, the log

/** The pids of every live clock of this sandbox's state, as the process table shows them. */
function clocksInProcessTable(sandbox: Sandbox): number[] {
  let stateDir: string;
  try {
    stateDir = realpathSync(sandbox.stateDir);
  } catch {
    return []; // The first clock creates the state directory before it does anything else.
  }
  const identity = { entry: realpathSync(CLOCK_ENTRY), stateDir, user: String(process.getuid?.() ?? -1) };
  return findProcesses('main.js')
    .filter((proc) => isClockOfOurState(proc, readEnviron(proc.pid), identity))
    .map((proc) => proc.pid);
}

/** The heartbeat as it is on disk now (it is replaced whole, by rename), or undefined. */
function heartbeatNow(sandbox: Sandbox): Heartbeat | undefined {
  try {
    const value = JSON.parse(readFileSync(statePaths(sandbox.stateDir).heartbeat, 'utf8')) as Heartbeat;
    return typeof value.pid === 'number' && typeof value.writtenAt === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

async function clockInstances(sandbox: Sandbox): Promise<Pm2Process[]> {
  return (await sandbox.list()).filter((p) => p.name === 'clock');
}

interface Pair {
  active: number;
  standby: number;
}

/**
 * Waits for the steady state of the mode: PM2 shows two clock instances online, both alive; one of
 * them writes a fresh, ticking heartbeat; the other is connected to its lock (the heartbeat counts
 * exactly one waiter). Pids in `not` (killed ones) must be gone from both.
 */
async function pair(sandbox: Sandbox, not: number[] = [], timeoutMs = 10_000): Promise<Pair> {
  return waitFor(`two clock instances online, one active and one standby${not.length ? `, none of ${not.join(', ')}` : ''}`, async () => {
    const clocks = await clockInstances(sandbox);
    if (clocks.length !== 2 || !clocks.every((c) => c.status === 'online' && c.pid > 0 && isAlive(c.pid) && !not.includes(c.pid))) return undefined;
    const heartbeat = heartbeatNow(sandbox);
    if (!heartbeat || heartbeat.phase !== 'ticking' || Date.now() - heartbeat.writtenAt > 1000 || heartbeat.waiters !== 1) return undefined;
    const active = clocks.find((c) => c.pid === heartbeat.pid);
    const standby = clocks.find((c) => c.pid !== heartbeat.pid);
    return active && standby ? { active: active.pid, standby: standby.pid } : undefined;
  }, timeoutMs);
}

/**
 * The pair, once the active has been ticking for over a second and the standby has said it waits
 * for it: ready for the next fault, which is then not a crash loop.
 */
async function settled(sandbox: Sandbox, not: number[] = []): Promise<Pair> {
  const found = await pair(sandbox, not);
  await waitFor(`clock pid ${found.active} to tick for over a second, with its standby waiting`, async () => {
    const heartbeat = heartbeatNow(sandbox);
    return heartbeat?.pid === found.active && heartbeat.readyAt !== null && Date.now() - heartbeat.readyAt > PAST_HEALTHY_MS &&
      standbyLinesFor(await sandbox.outLog(), found.active) > 0;
  });
  return pair(sandbox, not);
}

/**
 * Waits until thread-1 is in the middle of a run (its last tick the 2nd or 3rd of 5, so thread-2 is
 * at its 1st): a fault then leaves both threads mid-run, each to be carried on by the next clock.
 */
async function midRun(sandbox: Sandbox): Promise<void> {
  const ticksPerRun = Number(sandbox.env.CLOCK_TICKS);
  await waitFor('thread-1 in the middle of a run', async () => {
    const ticks = ticksOf(await sandbox.outLog());
    const thread1 = ticks.filter((tick) => tick.thread === 'thread-1').at(-1);
    return thread1 !== undefined && thread1.tick >= 2 && thread1.tick <= ticksPerRun - 2 && ticks.at(-1)?.run === thread1.run;
  });
}

/** The probe heals nothing when PM2 and the standby do the job: its heal lines are absent. */
async function assertProbeHealedNothing(sandbox: Sandbox): Promise<void> {
  const probeLog = (await sandbox.outLog('probe')) + (await sandbox.errLog('probe'));
  const heals = probeLog.split('\n').filter((line) => /restarting clock|killed hung|killed stalled|terminating duplicate|backing off/.test(line));
  assert.equal(heals, [], 'the probe healed what needed no healing');
}

/** A metric of the PM2 app instance with `pid`, once it has the value `check` accepts. */
async function metricOf(sandbox: Sandbox, pid: number, name: string, check: (value: unknown) => boolean): Promise<unknown> {
  return waitFor(`${name} of pid ${pid} in pm2 monit`, async () => {
    const value = (await sandbox.list()).find((p) => p.pid === pid)?.metrics[name]?.value;
    return value !== undefined && check(value) ? { value } : undefined;
  }).then(({ value }) => value);
}

async function probeMetric(sandbox: Sandbox, name: string, expected: unknown): Promise<void> {
  await waitFor(`the probe to publish ${name} = ${String(expected)}`, async () => {
    const probe = (await sandbox.list()).find((p) => p.name === 'probe');
    return probe?.metrics[name]?.value === expected;
  });
}

/**
 * Never two clocks ticking at once, as far as it can be seen from outside. The tick lines carry no
 * pid (one merged PM2 log), and both processes exist all the time (the standby is fully started,
 * worker threads included), so "how many clocks" alone says nothing about how many tick. What can be
 * seen, sampled every 25 ms:
 * - the process table: at most two clocks of this state at any moment (the active and its standby;
 *   a third would be a clock nobody accounts for);
 * - the heartbeat, which only the lock's owner writes, and which names its pid and each thread's
 *   last tick: the writer changes only once the previous writer is dead (a new writer beside a live
 *   one is two owners), a replaced writer never writes again, the write time never goes back, and
 *   each thread's progress never goes back, except by one tick at a change of writer (a tick
 *   printed but not yet checkpointed is printed again: the one allowed repeat);
 * and the log (see assertOneTickerInLog; it only grows, so reading it whole at the end sees every
 * line a sampler would): two clocks ticking one thread would print its tick numbers twice or out of
 * order, and two ticks of it within one interval.
 * "At most one heartbeat writer per sample" is true of any single file and is not asserted.
 */
class OneAtATime {
  most = 0;
  mostPids: number[] = [];
  samples = 0;
  longestGapMs = 0;
  readonly writers: number[] = [];
  readonly problems: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private lastSampleAt = 0;
  private lastWrittenAt = 0;
  private lastWrite = '';
  private readonly progress = new Map<string, number>();
  private readonly ticksPerRun: number;

  constructor(private readonly sandbox: Sandbox) {
    this.ticksPerRun = Number(sandbox.env.CLOCK_TICKS);
    this.sample();
    this.timer = setInterval(() => this.sample(), 25);
  }

  stop(): this {
    clearInterval(this.timer);
    this.sample();
    return this;
  }

  private sample(): void {
    const now = Date.now();
    if (this.lastSampleAt) this.longestGapMs = Math.max(this.longestGapMs, now - this.lastSampleAt);
    this.lastSampleAt = now;
    this.samples += 1;
    const pids = clocksInProcessTable(this.sandbox);
    if (pids.length > this.most) [this.most, this.mostPids] = [pids.length, pids];
    const heartbeat = heartbeatNow(this.sandbox);
    // Each write is judged once: a heartbeat not rewritten since the last sample says nothing new.
    if (!heartbeat || `${heartbeat.pid}@${heartbeat.writtenAt}` === this.lastWrite) return;
    this.lastWrite = `${heartbeat.pid}@${heartbeat.writtenAt}`;
    if (heartbeat.writtenAt < this.lastWrittenAt) {
      this.problems.push(`the heartbeat went back in time: written at ${heartbeat.writtenAt} by pid ${heartbeat.pid}, after one written at ${this.lastWrittenAt}`);
    }
    this.lastWrittenAt = Math.max(this.lastWrittenAt, heartbeat.writtenAt);
    const previous = this.writers.at(-1);
    const changed = previous !== undefined && heartbeat.pid !== previous;
    if (heartbeat.pid !== previous) {
      if (this.writers.includes(heartbeat.pid)) {
        this.problems.push(`clock pid ${heartbeat.pid} wrote the heartbeat again after clock pid ${previous} had taken over`);
      }
      if (previous !== undefined && isAlive(previous)) {
        this.problems.push(`clock pid ${heartbeat.pid} writes the heartbeat while clock pid ${previous}, its writer before, is alive`);
      }
      this.writers.push(heartbeat.pid);
    }
    if (heartbeat.run === null) return;
    for (const thread of heartbeat.threads) {
      // The thread's place since run 1 tick 1 (a new run's tick 0 is the last run's final tick).
      const place = (heartbeat.run - 1) * this.ticksPerRun + thread.tick;
      const before = this.progress.get(thread.name);
      const back = before === undefined ? 0 : before - place;
      if (back > (changed ? 1 : 0)) {
        this.problems.push(`${thread.name} went back ${back} tick(s), to run ${heartbeat.run} tick ${thread.tick}, in pid ${heartbeat.pid}'s heartbeat`);
      }
      this.progress.set(thread.name, Math.max(before ?? 0, place));
    }
  }

  assertHeld(writers: number): void {
    assert.equal(this.problems, [], 'the heartbeat showed two owners of the state');
    assert.ok(this.most <= 2, `${this.most} clocks of this state at once (pids ${this.mostPids.join(', ')}): more than the active and its standby`);
    assert.is(this.most, 2, 'the process table never showed the active and its standby: the sampler sees nothing');
    assert.is(this.writers.length, writers, `heartbeat writers seen: ${this.writers.join(' -> ')}`);
    assert.ok(this.longestGapMs < 1_000, `the samples were ${this.longestGapMs} ms apart at worst: too coarse to show anything`);
  }
}

/**
 * The log's side of "one ticking clock": every thread's ticks follow on (no number lost or gone
 * back, at most one repeat per thread and crash), and no two different ticks of one thread fall
 * within half its interval, which is what two clocks ticking it at once would print.
 */
function assertOneTickerInLog(sandbox: Sandbox, log: string, crashes: number): void {
  const continuity = checkContinuity(log);
  assert.equal([...continuity.threads.values()].flatMap((t) => t.breaks), [], 'a tick number was lost or went back');
  assert.ok(continuity.repeats <= crashes * 2, `${continuity.repeats} repeats for ${crashes} crash(es)`);
  const intervalsMs = (sandbox.env.CLOCK_INTERVALS ?? '').split(',').map((s) => Number(s) * 1000);
  const last = new Map<string, ReturnType<typeof ticksOf>[number]>();
  const crowded: string[] = [];
  for (const tick of ticksOf(log)) {
    const previous = last.get(tick.thread);
    last.set(tick.thread, tick);
    if (!previous || (previous.run === tick.run && previous.tick === tick.tick)) continue;
    const intervalMs = intervalsMs[Number(tick.thread.replace('thread-', '')) - 1] ?? 0;
    const gapMs = tickTimeMs(tick) - tickTimeMs(previous);
    if (gapMs < intervalMs / 2) crowded.push(`${tick.thread}: run ${previous.run} tick ${previous.tick} at ${previous.timestamp}, then run ${tick.run} tick ${tick.tick} at ${tick.timestamp}`);
  }
  assert.equal(crowded, [], 'two ticks of one thread within half its interval');
}

/** Starts the ecosystem in standby mode in a sandbox of its own, watched from the start. */
/** The first takeover line in the log (it must be from `active`), and the first tick printed after it. */
async function firstTickAfterTakeover(sandbox: Sandbox, active: number): Promise<{ tookOver: RegExpExecArray; firstTick: ReturnType<typeof ticksOf>[number] }> {
  const log = await waitFor('a tick from the clock that took over', async () => {
    const text = await sandbox.outLog();
    const line = lines(text, TOOK_OVER_LINE)[0];
    return line && ticksOf(text.slice(text.indexOf(line[0]))).length > 0 ? text : undefined;
  });
  const tookOver = lines(log, TOOK_OVER_LINE)[0] as RegExpExecArray;
  assert.is(Number(tookOver[1]), active);
  const firstTick = ticksOf(log.slice(log.indexOf(tookOver[0])))[0];
  assert.ok(firstTick);
  return { tookOver, firstTick };
}

async function startSandbox(context: Context, extra: NodeJS.ProcessEnv = {}): Promise<void> {
  context.sandbox = await createSandbox({ ...SETTINGS, ...extra });
  context.watch = new OneAtATime(context.sandbox);
  await context.sandbox.pm2('start', ECOSYSTEM);
}

async function stopSandbox({ sandbox, watch }: Context): Promise<void> {
  watch?.stop();
  await sandbox?.cleanup();
}

// ---

const Startup = suite<Context>('standby: startup', {} as Context);

Startup.before(startSandbox);
Startup.after(stopSandbox);

Startup('two clock instances online: one active, writing the heartbeat; the other the standby', async ({ sandbox }) => {
  const { active, standby } = await pair(sandbox);
  assert.is.not(active, standby);
  const log = await waitFor('the standby line', async () => {
    const text = await sandbox.outLog();
    return standbyLinesFor(text, active) > 0 ? text : undefined;
  });
  assert.is(lines(log, STANDBY_LINE).length, 1, 'one standby line, for one standby');
  assert.is(standbyLinesFor(log, active), 1, 'the standby names the active clock');
  assert.is(lines(log, TOOK_OVER_LINE).length, 0);
  assert.is(await metricOf(sandbox, active, 'role', (v) => v === 'active'), 'active');
  assert.is(await metricOf(sandbox, standby, 'role', (v) => v === 'standby'), 'standby');
  await probeMetric(sandbox, 'clock pid', active);
  await probeMetric(sandbox, 'clock standby pids', String(standby));
});

Startup('the active one ticks alone, with no gap; the heartbeat has one writer', async ({ sandbox, watch }) => {
  const { active } = await pair(sandbox);
  const log = await moreTicks(sandbox, tickCount(await sandbox.outLog()), 10);
  const continuity = checkContinuity(log);
  assert.is(continuity.breaks, 0);
  assert.is(continuity.repeats, 0);
  assertOneTickerInLog(sandbox, log, 0);
  assert.match(log, /clock: no checkpoint in .*; starting run 1/);
  watch.stop().assertHeld(1);
  assert.equal(watch.writers, [active]);
});

Startup.run();

// ---

const Takeover = suite<Context & { first?: Pair; second?: Pair }>('standby: SIGKILL of the active', {} as Context);

Takeover.before(startSandbox);
Takeover.after(stopSandbox);

Takeover('the standby takes over, and the ticks carry on with no tick lost', async (context) => {
  const { sandbox } = context;
  const first = await settled(sandbox);
  context.first = first;
  await midRun(sandbox);
  const count = tickCount(await sandbox.outLog());
  process.kill(first.active, 'SIGKILL');
  await waitFor(`the standby, pid ${first.standby}, to write the heartbeat`, () => {
    const heartbeat = heartbeatNow(sandbox);
    return heartbeat?.pid === first.standby && heartbeat.phase === 'ticking';
  });
  const tookOver = await waitFor('the takeover line', async () => {
    const match = lines(await sandbox.outLog(), TOOK_OVER_LINE)[0];
    return match ? { from: Number(match[1]), ms: Number(match[2]) } : undefined;
  });
  console.log(`    takeover after SIGKILL of the active: ${tookOver.ms} ms (the clock's own measure, its death to ticking)`);
  assert.is(tookOver.from, first.active, 'the takeover line names the killed clock');
  assert.ok(tookOver.ms < TAKEOVER_SANITY_MS, `took over in ${tookOver.ms} ms`);
  const log = await moreTicks(sandbox, count, 8);
  const continuity = checkContinuity(log);
  assert.is(continuity.breaks, 0, 'a tick number was lost');
  assert.ok(continuity.repeats <= 2, `${continuity.repeats} repeats for one kill`);
  assertOneTickerInLog(sandbox, log, 1);
});

Takeover('PM2 restarts the killed one, and it comes back as the new standby', async (context) => {
  const { sandbox, first } = context;
  assert.ok(first);
  const second = await pair(sandbox, [first.active]);
  context.second = second;
  assert.is(second.active, first.standby, 'the standby that took over is still the active one');
  const log = await waitFor('the new standby line', async () => {
    const text = await sandbox.outLog();
    return standbyLinesFor(text, second.active) > 0 ? text : undefined;
  });
  assert.is(lines(log, STANDBY_LINE).length, 2, 'a second standby line, for the restarted clock');
  assert.is(await metricOf(sandbox, second.active, 'role', (v) => v === 'active'), 'active');
  const tookOverIn = await metricOf(sandbox, second.active, 'took over in', (v) => typeof v === 'number');
  assert.ok(Number(tookOverIn) < TAKEOVER_SANITY_MS);
  assert.is(await metricOf(sandbox, second.standby, 'role', (v) => v === 'standby'), 'standby');
  await probeMetric(sandbox, 'clock pid', second.active);
  await probeMetric(sandbox, 'clock standby pids', String(second.standby));
});

Takeover('the restarted standby takes over in turn when the new active is killed', async (context) => {
  const { sandbox, first, second } = context;
  assert.ok(first && second);
  assert.equal(await settled(sandbox, [first.active]), second, 'the pair changed before the second kill');
  const count = tickCount(await sandbox.outLog());
  process.kill(second.active, 'SIGKILL');
  const tookOver = await waitFor('a second takeover line', async () => {
    const match = lines(await sandbox.outLog(), TOOK_OVER_LINE)[1];
    return match ? { from: Number(match[1]), ms: Number(match[2]) } : undefined;
  });
  console.log(`    takeover after SIGKILL of the active (the restarted standby): ${tookOver.ms} ms`);
  assert.is(tookOver.from, second.active);
  assert.ok(tookOver.ms < TAKEOVER_SANITY_MS, `took over in ${tookOver.ms} ms`);
  const third = await pair(sandbox, [first.active, second.active]);
  assert.is(third.active, second.standby);
  const log = await moreTicks(sandbox, count, 8);
  assertOneTickerInLog(sandbox, log, 2);
  await waitFor('the third standby line', async () => standbyLinesFor(await sandbox.outLog(), third.active) > 0);
  context.watch.stop().assertHeld(3);
  assert.equal(context.watch.writers, [first.active, second.active, third.active]);
  await assertProbeHealedNothing(sandbox);
});

Takeover.run();

// ---

const KillStandby = suite<Context>('standby: SIGKILL of the standby', {} as Context);

KillStandby.before(startSandbox);
KillStandby.after(stopSandbox);

KillStandby('does not disturb the ticking, and PM2 brings a new standby back', async ({ sandbox, watch }) => {
  const { active, standby } = await settled(sandbox);
  const count = tickCount(await sandbox.outLog());
  process.kill(standby, 'SIGKILL');
  const next = await pair(sandbox, [standby]);
  assert.is(next.active, active, 'the active clock changed');
  await waitFor('the new standby line', async () => standbyLinesFor(await sandbox.outLog(), active) >= 2);
  assert.is(await metricOf(sandbox, next.standby, 'role', (v) => v === 'standby'), 'standby');
  const log = await moreTicks(sandbox, count, 10);
  const continuity = checkContinuity(log);
  assert.is(continuity.breaks, 0, 'a tick number was lost');
  assert.is(continuity.repeats, 0, 'a tick was repeated');
  assertOneTickerInLog(sandbox, log, 0);
  assert.is(lines(log, TOOK_OVER_LINE).length, 0, 'a takeover without a dead active');
  assert.is((log.match(/clock: resumed run/g) ?? []).length, 0, 'the active clock was restarted');
  assert.is(heartbeatNow(sandbox)?.pid, active);
  watch.stop().assertHeld(1);
  await assertProbeHealedNothing(sandbox);
});

KillStandby.run();

// ---

const KillBoth = suite<Context>('standby: both clocks SIGKILLed at once', {} as Context);

KillBoth.before(startSandbox);
KillBoth.after(stopSandbox);

KillBoth('they come back by restart: one active, one standby, no tick lost', async ({ sandbox, watch }) => {
  const { active, standby } = await settled(sandbox);
  await midRun(sandbox);
  const count = tickCount(await sandbox.outLog());
  for (const pid of [active, standby]) process.kill(pid, 'SIGKILL');
  const next = await pair(sandbox, [active, standby], 15_000);
  const log = await moreTicks(sandbox, count, 8);
  assert.match(log, /clock: resumed run \d+ from the checkpoint/);
  const continuity = checkContinuity(log);
  assert.is(continuity.breaks, 0, 'a tick number was lost');
  assert.ok(continuity.repeats <= 2, `${continuity.repeats} repeats for one crash`);
  assertOneTickerInLog(sandbox, log, 1);
  await waitFor('the new standby line', async () => standbyLinesFor(await sandbox.outLog(), next.active) > 0);
  assert.is(await metricOf(sandbox, next.standby, 'role', (v) => v === 'standby'), 'standby');
  watch.stop().assertHeld(2);
  assert.equal(watch.writers, [active, next.active]);
  await assertProbeHealedNothing(sandbox);
});

KillBoth.run();

// ---

const KillDaemon = suite<Context>('standby: the PM2 daemon SIGKILLed, then pm2 resurrect', {} as Context);

KillDaemon.before(startSandbox);
KillDaemon.after(stopSandbox);

KillDaemon('both clocks leave with their daemon; the resurrected pair starts at once, with no tick lost', async ({ sandbox }) => {
  const { active, standby } = await settled(sandbox);
  await sandbox.pm2('save', '--force');
  await midRun(sandbox);
  const errBefore = (await sandbox.errLog()).length;
  process.kill(Number(readFileSync(join(sandbox.home, 'pm2.pid'), 'utf8')), 'SIGKILL');
  // Their IPC channel to the daemon closes: neither ticks into a dead pipe, nor takes over to do so.
  await waitFor('both clocks to leave with their daemon', () => !isAlive(active) && !isAlive(standby), 5_000);
  const count = tickCount(await sandbox.outLog());
  await sandbox.pm2('resurrect');
  const next = await pair(sandbox, [active, standby], 15_000);
  const log = await moreTicks(sandbox, count, 8);
  // The clocks took back the ticks of their last second, which may not have reached the dead
  // daemon's log: the resumed clock prints them again, as its resume line announces.
  const continuity = checkContinuity(log, { rewinds: true });
  assert.is(continuity.breaks, 0, 'a tick number was lost');
  // A daemon's death is not the clock's crash: the resurrected clock is not held back for it.
  const err = (await sandbox.errLog()).slice(errBefore);
  assert.not.match(err, /crash-loop back-off/, 'the resurrected clock waited out a crash-loop back-off');
  assert.is(await metricOf(sandbox, next.standby, 'role', (v) => v === 'standby'), 'standby');
});

KillDaemon.run();

// ---

const Once = suite<Context>('standby: never two clocks ticking at once, across takeovers', {} as Context);

Once.before(startSandbox);
Once.after(stopSandbox);

Once('kill after kill of the active and the standby: one heartbeat writer at a time, one tick sequence', async ({ sandbox, watch }) => {
  const killed: number[] = [];
  const faults: ('active' | 'standby')[] = ['active', 'standby', 'active'];
  for (const role of faults) {
    const now = await settled(sandbox, killed);
    const count = tickCount(await sandbox.outLog());
    process.kill(now[role], 'SIGKILL');
    killed.push(now[role]);
    await moreTicks(sandbox, count, 3);
  }
  const last = await settled(sandbox, killed);
  const log = await moreTicks(sandbox, tickCount(await sandbox.outLog()), 4);
  const takeovers = faults.filter((role) => role === 'active').length;
  assert.is(lines(log, TOOK_OVER_LINE).length, takeovers);
  for (const [, , ms] of lines(log, TOOK_OVER_LINE)) assert.ok(Number(ms) < TAKEOVER_SANITY_MS, `took over in ${ms} ms`);
  console.log(`    takeovers: ${lines(log, TOOK_OVER_LINE).map((m) => `${m[2]} ms`).join(', ')}`);
  assertOneTickerInLog(sandbox, log, takeovers);
  watch.stop().assertHeld(takeovers + 1);
  assert.is(watch.writers.at(-1), last.active);
  assert.ok(watch.writers.slice(0, -1).every((pid) => killed.includes(pid)), 'a heartbeat writer that was not killed was replaced');
  await assertProbeHealedNothing(sandbox);
});

Once.run();

// ---

const Hung = suite<Context>('standby: a hung active (kill -STOP)', {} as Context);

Hung.before(startSandbox);
Hung.after(stopSandbox);

Hung('the probe kills it, the standby takes over within PROBE_HANG_MS + 1 s, no tick lost', async ({ sandbox, watch }) => {
  const { active, standby } = await settled(sandbox);
  await waitFor('the probe to see the clock healthy', () => logSays(sandbox, 'probe', `clock pid ${active} is healthy`));
  const startTicks = readProcStat(active)?.startTicks;
  await midRun(sandbox);
  const count = tickCount(await sandbox.outLog());
  const stoppedAt = Date.now();
  process.kill(active, 'SIGSTOP');
  try {
    const { tookOver, firstTick } = await firstTickAfterTakeover(sandbox, active);
    console.log(`    takeover after the probe killed the hung active: ${tookOver[2]} ms`);
    assert.ok(Number(tookOver[2]) < TAKEOVER_SANITY_MS, `took over in ${tookOver[2]} ms`);
    const recoveredMs = tickTimeMs(firstTick) - stoppedAt;
    console.log(`    ticking again ${recoveredMs} ms after the kill -STOP`);
    assert.ok(recoveredMs < HANG_MS + 1000, `ticking again after ${recoveredMs} ms`);
    assert.ok(await logSays(sandbox, 'probe', `clock pid ${active} is hung: no heartbeat for`));
    assert.ok(await logSays(sandbox, 'probe', `killed hung clock pid ${active} (SIGKILL); PM2 restarts it`));
    const next = await pair(sandbox, [active]);
    assert.is(next.active, standby, 'the standby took over');
    await waitFor('the restarted clock to become the standby', async () => standbyLinesFor(await sandbox.outLog(), standby) > 0);
    const after = await moreTicks(sandbox, count, 8);
    const continuity = checkContinuity(after);
    assert.is(continuity.breaks, 0, 'a tick number was lost');
    assertOneTickerInLog(sandbox, after, 1);
    watch.stop().assertHeld(2);
    assert.equal(watch.writers, [active, standby]);
  } finally {
    // Never leave a stopped process behind: the probe should have killed it; if not, it goes now.
    const stat = readProcStat(active);
    if (stat && stat.state !== 'Z' && stat.startTicks === startTicks) process.kill(active, 'SIGKILL');
  }
});

Hung.run();

// ---

const Stalled = suite<Context>('standby: a stalled active (heartbeat on, ticks dropped)', {} as Context);

Stalled.before((context) => startSandbox(context, { CLOCK_FAULTS: '1' }));
Stalled.after(stopSandbox);

Stalled('the probe kills it as stalled, the standby takes over, no tick lost', async ({ sandbox, watch }) => {
  const { active, standby } = await settled(sandbox);
  await waitFor('the probe to see the clock healthy', () => logSays(sandbox, 'probe', `clock pid ${active} is healthy`));
  await midRun(sandbox);
  const count = tickCount(await sandbox.outLog());
  const pmId = (await clockInstances(sandbox)).find((instance) => instance.pid === active)?.pmId;
  assert.ok(pmId !== undefined, 'PM2 lists the active clock');
  const stalledAt = Date.now();
  await sandbox.pm2('trigger', String(pmId), 'fault', 'stall');
  const { tookOver, firstTick } = await firstTickAfterTakeover(sandbox, active);
  console.log(`    ticking again ${tickTimeMs(firstTick) - stalledAt} ms after the stall (takeover ${tookOver[2]} ms)`);
  assert.ok(await logSays(sandbox, 'probe', `clock pid ${active} is stalled: its heartbeat is fresh`));
  assert.ok(await logSays(sandbox, 'probe', `killed stalled clock pid ${active} (SIGKILL); PM2 restarts it`));
  const next = await pair(sandbox, [active]);
  assert.is(next.active, standby, 'the standby took over');
  const after = await moreTicks(sandbox, count, 8);
  assert.is(checkContinuity(after).breaks, 0, 'a tick number was lost');
  assertOneTickerInLog(sandbox, after, 1);
  watch.stop().assertHeld(2);
  assert.equal(watch.writers, [active, standby]);
  // The standby never wrote the heartbeat while it waited, and was never judged stalled.
  assert.not.ok(await logSays(sandbox, 'probe', `clock pid ${standby} is stalled`));
});

Stalled.run();
