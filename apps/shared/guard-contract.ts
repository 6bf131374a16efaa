import { isAbsolute } from 'node:path';

/**
 * The guard contract: what any app, in any language, writes so that the probe can guard it — and
 * what the probe reads, nothing else. The README's "Guard any app" section says the same for people;
 * keep the two in step.
 *
 * Declared in the ecosystem file through the app's `env` (PM2 drops an app's unknown keys, and keeps
 * its env): GUARD_HEARTBEAT (required: the file the app writes), GUARD_HANG_MS, GUARD_STALL_MS.
 *
 * The file: one JSON object, replaced atomically (written to a temporary file in the same folder,
 * then renamed over the old one), owner-only, at least every GUARD_HANG_MS / 4. No field holds a wall
 * clock time that the probe compares: the probe times how long it has seen the file unchanged on its
 * own monotonic clock, and the app's durations are measured on the app's monotonic clock, relative to
 * the write. So a step of either process's system clock changes nothing.
 */
export interface GuardBeat {
  /** The contract's version: 1. */
  guard: 1;
  /** The pid of the process that writes: a beat of another process is not this one's. */
  pid: number;
  /** Grows with every write, so that no two writes are the same file. */
  seq: number;
  /** Whether the app is ready (PM2's wait_ready apps also say so with process.send('ready')). */
  ready: boolean;
  /**
   * ms from this write until the app owes progress (negative: it is overdue by that much); null when
   * it owes none (idle, waiting for work): an idle app is never stalled.
   */
  owedInMs: number | null;
  /** ms, at this write, since the app last made progress; null before the first. For people. */
  progressAgoMs?: number | null;
  /**
   * What holds the app back through no fault of its own (a full or read-only disk, a log that takes
   * nothing): a held app is alive and owes nothing; restarting it would not help.
   */
  held?: { on: string; why: string; forMs: number }[];
}

export const GUARD_VERSION = 1;
/** The most a beat can be: anything larger is no beat, and is not read every period. */
export const GUARD_BEAT_CAP_BYTES = 64 * 1024;

/** The guard settings of one app, as its env gives them. */
export interface GuardSettings {
  heartbeat: string;
  /** Silent (the file unchanged) for longer than this: hung. */
  hangMs: number;
  /** Owed progress later than this past its moment: stalled. */
  stallMs: number;
}

export const GUARD_ENV = { heartbeat: 'GUARD_HEARTBEAT', hangMs: 'GUARD_HANG_MS', stallMs: 'GUARD_STALL_MS' } as const;
export const DEFAULT_HANG_MS = 3_000;

/** A guard setting that is wrong: the app, the setting, what was expected, what was given. */
export class GuardSettingError extends Error {
  constructor(readonly app: string, readonly setting: string, readonly expected: string, readonly given: string) {
    super(`app ${app}: ${setting}=${JSON.stringify(given)} is not valid: expected ${expected}; this app is not guarded until it is fixed (ecosystem.config.js, then pm2 restart ${app} --update-env)`);
    this.name = 'GuardSettingError';
  }
}

/**
 * The guard settings in an app's env; undefined when the app is not under guard (no GUARD_HEARTBEAT);
 * GuardSettingError for a bad one (the probe says it and guards every other app).
 */
export function guardSettingsOf(app: string, env: (name: string) => string | undefined): GuardSettings | undefined {
  const heartbeat = env(GUARD_ENV.heartbeat);
  if (heartbeat === undefined || heartbeat.trim() === '') return undefined;
  if (!isAbsolute(heartbeat)) throw new GuardSettingError(app, GUARD_ENV.heartbeat, 'an absolute path', heartbeat);
  const hangMs = milliseconds(app, GUARD_ENV.hangMs, env(GUARD_ENV.hangMs), DEFAULT_HANG_MS);
  const stallMs = milliseconds(app, GUARD_ENV.stallMs, env(GUARD_ENV.stallMs), hangMs);
  return { heartbeat, hangMs, stallMs };
}

const MIN_MS = 200;
const MAX_MS = 3_600_000;

function milliseconds(app: string, name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || parsed < MIN_MS || parsed > MAX_MS) {
    throw new GuardSettingError(app, name, `whole milliseconds from ${MIN_MS} to ${MAX_MS}`, value);
  }
  return parsed;
}

/** A beat as read, or why the text is none (said once by the probe, never trusted). */
/** `raw`: the whole object as written, with fields beyond the contract's (an app's own, such as the clock's `waiters`). */
export type ParsedBeat = { kind: 'beat'; beat: GuardBeat; raw: Record<string, unknown> } | { kind: 'not-a-beat'; reason: string };

export function parseGuardBeat(text: string): ParsedBeat {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'not-a-beat', reason: text.trim() === '' ? 'empty file' : 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'not-a-beat', reason: 'not a JSON object' };
  const beat = value as Record<string, unknown>;
  if (beat.guard !== GUARD_VERSION) return { kind: 'not-a-beat', reason: `"guard" is ${JSON.stringify(beat.guard)}, not ${GUARD_VERSION}` };
  if (!isWhole(beat.pid) || (beat.pid as number) < 1) return { kind: 'not-a-beat', reason: '"pid" is not a pid' };
  if (!isWhole(beat.seq)) return { kind: 'not-a-beat', reason: '"seq" is not a whole number' };
  if (typeof beat.ready !== 'boolean') return { kind: 'not-a-beat', reason: '"ready" is not true or false' };
  if (!(beat.owedInMs === null || isFiniteNumber(beat.owedInMs))) return { kind: 'not-a-beat', reason: '"owedInMs" is not a number or null' };
  const held = Array.isArray(beat.held) ? beat.held.filter((hold) => typeof hold?.on === 'string' && typeof hold?.why === 'string') : undefined;
  return {
    kind: 'beat',
    raw: beat,
    beat: {
      guard: GUARD_VERSION,
      pid: beat.pid as number,
      seq: beat.seq as number,
      ready: beat.ready,
      owedInMs: beat.owedInMs as number | null,
      ...(isFiniteNumber(beat.progressAgoMs) || beat.progressAgoMs === null ? { progressAgoMs: beat.progressAgoMs as number | null } : {}),
      ...(held && held.length > 0 ? { held: held.map((hold) => ({ on: String(hold.on), why: String(hold.why), forMs: isFiniteNumber(hold.forMs) ? hold.forMs : 0 })) } : {}),
    },
  };
}

/**
 * Whether `beat`, seen unchanged for `unchangedMs`, is stalled: it owed progress `owedInMs` after its
 * write, and that moment has passed by more than `stallMs`. Returns by how much it is overdue, or
 * undefined when it is not stalled (owes nothing, not yet due, or held).
 */
export function overdueMs(beat: GuardBeat, unchangedMs: number, stallMs: number): number | undefined {
  if (!beat.ready || beat.owedInMs === null || (beat.held?.length ?? 0) > 0) return undefined;
  const overdue = Math.max(0, unchangedMs) - beat.owedInMs;
  return overdue > stallMs ? overdue : undefined;
}

/**
 * How long `beat` can stay unchanged before it is judged hung (more than `hangMs`) or stalled
 * (overdueMs defined): the moment, counted from the first sight of this beat, at which the probe's
 * next look decides. The same rules as above, told as a time.
 */
export function unchangedLimitMs(beat: GuardBeat, hangMs: number, stallMs: number): number {
  if (!beat.ready || beat.owedInMs === null || (beat.held?.length ?? 0) > 0) return hangMs;
  return Math.min(hangMs, beat.owedInMs + stallMs);
}

function isWhole(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
