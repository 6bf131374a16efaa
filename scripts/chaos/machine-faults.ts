import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { readEnviron } from '../../apps/probe/proc-table.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { HELD_METRIC } from '../../apps/shared/pm2-pulse.ts';
import { lookAtProbePulse } from '../../apps/shared/probe-pulse.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';
import { formatTickLine, parseTickLine } from '../../apps/shared/tick-line.ts';
import { tickTimeMs } from '../lib/tick-continuity.ts';
import type { Machine, Stepped } from './machine.ts';
import { unstepped } from './overlap.ts';
import type { FaultKind } from './plan.ts';
import { readSince } from './pm2-logs.ts';
import { logPaths, look, type Before, type Look, type System } from './system.ts';

/**
 * The faults of the machine (--machine) that are more than a signal: a disk filled or made
 * read-only and, once the clock says it holds, given back; a process's wall clock stepped by an
 * hour and, after a while, back. None calls for a heal: from the fault until the system is healthy
 * again, the clock must stay the same process and the probe must heal nothing.
 */

/** How long a disk stays full or read-only at the least (the clock says it holds well before). */
export const DISK_FAULT_MS = 3_000;
/** How long the clock has to say it holds: the log's disk is full only once the log's last 4 KB page is (some 10 s of ticks). */
export const HELD_DEADLINE_MS = 20_000;
const POLL_MS = 100;
// A step is by a whole hour: a tick time this far from the true time was printed by a stepped clock.
const HOUR_MS = 3_600_000;
const STEPPED_BEYOND_MS = HOUR_MS / 2;
// The step must show in the stepped process's own stamps this soon (it re-reads its time file at every call).
const STEP_LANDS_WITHIN_MS = 3_000;

const HEAL_KINDS = ['hung', 'stalled', 'ghost', 'errored', 'duplicate'] as const;

/** The clock and the probe before a fault, and what the probe had healed: a machine fault calls for no heal. */
export interface Unhealed {
  clockPid: number;
  probePid: number;
  heals: Record<(typeof HEAL_KINDS)[number], number>;
}

/** What a machine fault did beyond its moment, and what went wrong while it was in force. */
export interface MachineInjected {
  unhealed: Unhealed;
  /** Disk faults: ms from the fault until PM2's `held` metric said the clock holds for it. */
  heldAfterMs?: number;
  /** Steps: whose wall clock, by how many ms; the step back came at `backAt` (ms since the epoch). */
  step?: { who: Stepped; ms: number; backAt: number };
  /** What went wrong while the fault was in force: it failed, whatever comes after. */
  problem?: string;
  /** Heals that no fault called for (one line each), seen while it was in force or until healthy. */
  falseHeals: string[];
}

export function unhealedNow(seen: Look, before: Before): Unhealed {
  return { clockPid: before.clockPid, probePid: before.probePid, heals: healCounts(seen) };
}

function healCounts(seen: Look): Unhealed['heals'] {
  const metrics = seen.probe?.metrics ?? {};
  return Object.fromEntries(HEAL_KINDS.map((kind) => [kind, Number(metrics[`heals: ${kind}`] ?? 0) || 0])) as Unhealed['heals'];
}

/**
 * Heals since `before` that nothing called for: the clock replaced, or the probe's counters (PM2
 * metrics `heals: hung` …) up. A new probe (one that replaced a hung one) starts its counters at 0.
 */
export function falseHealsSince(before: Unhealed, seen: Look): string[] {
  if (seen.pm2Error || !seen.clock || !seen.probe) return [];
  const heals: string[] = [];
  if (seen.clock.pid > 0 && seen.clock.pid !== before.clockPid) heals.push(`the clock was replaced (pid ${before.clockPid}, now ${seen.clock.pid})`);
  const was = seen.probe.pid === before.probePid ? before.heals : undefined;
  const now = healCounts(seen);
  for (const kind of HEAL_KINDS) {
    const more = now[kind] - (was?.[kind] ?? 0);
    if (more > 0) heals.push(`the probe pid ${seen.probe.pid} healed the clock as ${kind}${more > 1 ? ` ${more} times` : ''}`);
  }
  return heals;
}

/** Does a disk fault or a step, holds it, and undoes it; returns the moment recovery is timed from. */
export async function injectMachineFault(system: System, kind: FaultKind, before: Before, seen: Look): Promise<{ at: number; machine: MachineInjected }> {
  const { machine } = system;
  if (!machine) throw new Error(`${kind} is a fault of the machine: run with --machine`);
  const injected: MachineInjected = { unhealed: unhealedNow(seen, before), falseHeals: [] };
  if (kind === 'fill-log' || kind === 'fill-state' || kind === 'readonly-state') return { at: await diskFault(system, machine, kind, injected), machine: injected };
  if (kind.startsWith('step-')) return { at: await stepFault(system, machine, kind, before, injected), machine: injected };
  throw new Error(`${kind} is not a disk fault or a step`);
}

/**
 * Fills the disk (or makes it read-only), waits until the clock says it holds for it, DISK_FAULT_MS
 * at the least, then frees it: recovery is timed from that moment, the fault's `at`.
 */
async function diskFault(system: System, machine: Machine, kind: 'fill-log' | 'fill-state' | 'readonly-state', injected: MachineInjected): Promise<number> {
  const dir = kind === 'fill-log' ? machine.logDir : machine.stateDir;
  // What PM2's `held` metric says while the clock holds for this fault (apps/shared/pm2-pulse.ts).
  const says = { 'fill-log': /(^|; )log: /, 'fill-state': /(^|; )state: ENOSPC/, 'readonly-state': /(^|; )state: EROFS/ }[kind];
  const faultAt = performance.now();
  let undo: () => Promise<void>;
  if (kind === 'readonly-state') {
    await machine.readOnly(dir);
    undo = () => machine.readWrite(dir);
  } else {
    const filler = await machine.fill(dir);
    undo = () => machine.free(filler);
  }
  try {
    let held = '';
    for (;;) {
      const seen = await look(system);
      const elapsed = performance.now() - faultAt;
      if (noteFalseHeals(injected, seen)) return Date.now();
      held = String(seen.clock?.metrics?.[HELD_METRIC] ?? '');
      if (injected.heldAfterMs === undefined && says.test(held)) injected.heldAfterMs = Math.round(elapsed);
      if (injected.heldAfterMs !== undefined && elapsed >= DISK_FAULT_MS) break;
      if (injected.heldAfterMs === undefined && elapsed > HELD_DEADLINE_MS) {
        injected.problem = `the clock did not say it held within ${HELD_DEADLINE_MS / 1000} s (PM2's ${HELD_METRIC} metric: ${JSON.stringify(held || 'none')})`;
        break;
      }
      await sleep(POLL_MS);
    }
  } finally {
    await undo();
  }
  return Date.now();
}

/**
 * Steps one process's wall clock by an hour, watches (twice the probe's hang limit and two of its
 * periods: time enough for any misjudged age to be acted on) that nothing is healed and every thread
 * ticks on, steps it back, and watches as long again. Recovery is timed from the step.
 */
async function stepFault(system: System, machine: Machine, kind: FaultKind, before: Before, injected: MachineInjected): Promise<number> {
  const who: Stepped = kind.endsWith('-clock') ? 'clock' : 'probe';
  const ms = (kind.startsWith('step-back') ? -1 : 1) * HOUR_MS;
  const pid = who === 'clock' ? before.clockPid : before.probePid;
  const env = readEnviron(pid);
  if (env?.get('FAKETIME_TIMESTAMP_FILE') !== machine.timeFiles[who] || !env.get('LD_PRELOAD')?.includes('faketime')) {
    throw new Error(`the ${who} (pid ${pid}) does not run under libfaketime reading ${machine.timeFiles[who]}: its wall clock cannot be stepped`);
  }
  const watchMs = 2 * (system.probeHangMs + system.probePeriodMs);
  await machine.step(who, ms / HOUR_MS);
  const at = Date.now();
  injected.step = { who, ms, backAt: 0 };
  try {
    injected.problem = (await stepLanded(system, who, ms)) ?? (await watchUnhealed(system, injected, before, at, who === 'clock' ? ms : 0, watchMs, 'the step'));
  } finally {
    await machine.step(who, 0);
    injected.step.backAt = Date.now();
  }
  injected.problem ??= await watchUnhealed(system, injected, before, injected.step.backAt, 0, watchMs, 'the step back');
  return at;
}

/** Whether the stepped process's own stamps show the step: the clock's heartbeat, the probe's pulse (their write times). */
async function stepLanded(system: System, who: Stepped, ms: number): Promise<string | undefined> {
  const paths = statePaths(system.stateDir);
  const stamp = async (): Promise<number | undefined> => {
    if (who === 'clock') return (await readHeartbeat(paths.heartbeat))?.writtenAt;
    const pulse = await lookAtProbePulse(paths.probePulse);
    return pulse.kind === 'present' ? pulse.pulse?.writtenAt : undefined;
  };
  const deadline = performance.now() + STEP_LANDS_WITHIN_MS;
  let last: number | undefined;
  while (performance.now() < deadline) {
    last = await stamp();
    if (last !== undefined && Math.abs(last - Date.now() - ms) < STEPPED_BEYOND_MS) return undefined;
    await sleep(POLL_MS);
  }
  const off = last === undefined ? 'none readable' : `${Math.round((last - Date.now()) / 1000)} s off the true time`;
  return `the step did not reach the ${who} within ${STEP_LANDS_WITHIN_MS / 1000} s (its ${who === 'clock' ? 'heartbeat' : 'pulse'}'s stamp: ${off})`;
}

/** Watches for `forMs`: no heal, the probe not restarted; then every thread must have ticked since `from`. */
async function watchUnhealed(system: System, injected: MachineInjected, before: Before, from: number, offsetMs: number, forMs: number, what: string): Promise<string | undefined> {
  const until = performance.now() + forMs;
  while (performance.now() < until) {
    const seen = await look(system);
    if (noteFalseHeals(injected, seen)) return injected.problem;
    const replaced = await probeReplaced(system, before, seen);
    if (replaced) return `${replaced}, after ${what}`;
    await sleep(POLL_MS);
  }
  const ticked = ticksAfter(await readSince(logPaths(system).out, before.outSize), from, offsetMs, Date.now());
  const silent = Array.from({ length: system.threads }, (_, index) => `thread-${index + 1}`).filter((thread) => !ticked.has(thread));
  return silent.length > 0 ? `${silent.join(' and ')} printed no tick in the ${(forMs / 1000).toFixed(1)} s after ${what}` : undefined;
}

// The clock's line when it ends a probe that stopped beating (apps/clock/probe-watch.ts).
const PROBE_ENDED = /^clock: the probe pid \d+ has not beaten for .*$/m;

/**
 * Whether the probe is another process than before (which no fault but a hung probe calls for), in
 * a line that says so, with the clock's own line if it was the clock that ended it.
 */
export async function probeReplaced(system: System, before: Before, seen: Look): Promise<string | undefined> {
  if (!seen.probe || seen.probe.pid <= 0 || seen.probe.pid === before.probePid) return undefined;
  const ended = PROBE_ENDED.exec(await readSince(logPaths(system).err, before.errSize))?.[0];
  return `the probe was replaced (pid ${before.probePid}, now ${seen.probe.pid})${ended ? `: "${ended}"` : ''}`;
}

/** Notes the heals nothing called for in `seen`; true (and the fault's problem set) if there were any. */
export function noteFalseHeals(injected: MachineInjected, seen: Look): boolean {
  const heals = falseHealsSince(injected.unhealed, seen).filter((line) => !injected.falseHeals.includes(line));
  if (heals.length === 0) return false;
  injected.falseHeals.push(...heals);
  injected.problem ??= `false heal: ${heals.join('; ')}`;
  return true;
}

/**
 * Per thread, the true time of its first tick printed at or after `from` (true time, ms), in `text`.
 * `offsetMs`: how far the clock's wall clock was stepped when it printed the ticks wanted; a tick
 * whose own time is not that far from `now` was printed at another offset, and is not one of them.
 */
export function ticksAfter(text: string, from: number, offsetMs: number, now: number): Map<string, number> {
  const first = new Map<string, number>();
  for (const line of text.split('\n')) {
    const tick = parseTickLine(line);
    if (!tick || first.has(tick.thread)) continue;
    const at = tickTimeMs(tick) - offsetMs;
    if (Math.abs(at - now) < STEPPED_BEYOND_MS && at >= from) first.set(tick.thread, at);
  }
  return first;
}

/**
 * A clock log whose tick times were printed by a clock stepped by whole hours now and then, with
 * each tick time on the true time: off the tick before by about a whole number of hours, it is taken
 * back by them (ticks come well within half an hour of each other; the first came before any step).
 */
export function onTrueTime(text: string): string {
  let reference: number | undefined;
  return text
    .split('\n')
    .map((line) => {
      const tick = parseTickLine(line);
      if (!tick) return line;
      const printed = tickTimeMs(tick);
      const at = reference === undefined ? printed : unstepped(printed, reference);
      reference = at;
      return at === printed ? line : formatTickLine(tick.thread, tick.run, tick.tick, tick.ticksPerRun, at);
    })
    .join('\n');
}

/** The true time of the first tick, of any thread, printed at or after `from`; see ticksAfter. */
export function firstTickAfter(text: string, from: number, offsetMs: number, now: number): number | undefined {
  const times = [...ticksAfter(text, from, offsetMs, now).values()];
  return times.length > 0 ? Math.min(...times) : undefined;
}
