import { isAbsolute, resolve } from 'node:path';
import * as util from 'node:util';
import dayjs from 'dayjs';
import type { Checkpoint } from '../../apps/clock/checkpoint.ts';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import type { Heartbeat } from '../../apps/shared/heartbeat.ts';
import { stalledThread } from '../../apps/probe/stall.ts';

/**
 * `npm run status`, minus the I/O: what was read (PM2's process list, the state files) goes in, a
 * plain Status object comes out, and that becomes text lines or JSON. Nothing here reads a clock.
 */

export const APPS = ['clock', 'probe'] as const;
export type AppName = (typeof APPS)[number];

/** One entry of `pm2 jlist` (PM2's getMonitorData), only the fields status reads. */
export interface RawApp {
  name: string;
  pid: number;
  /** PM2's id of this instance: two `clock` entries (hot standby) share the name, not the id. */
  pm_id?: number;
  monit?: { memory?: number; cpu?: number };
  pm2_env: {
    status: string;
    /** When PM2 last launched it (ms since the epoch). */
    pm_uptime?: number;
    restart_time?: number;
    /** The app's environment as it was launched: its `env` block merged over the CLI's environment. */
    [variable: string]: unknown;
    env?: Record<string, unknown>;
    axm_monitor?: Record<string, { value: unknown; unit?: string }>;
  };
}

/** The checkpoint file as read: never moved aside or repaired, whatever its state. */
export interface CheckpointFile {
  path: string;
  /** The file's modification time (ms since the epoch), or null when there is no file. */
  mtimeMs: number | null;
  checkpoint: Checkpoint | null;
  /** Why the file could not be used, in a few words (null when it could, or does not exist). */
  damage: string | null;
}

export interface StateDirChoice {
  path: string;
  from: 'clock' | 'probe' | 'environment' | 'default';
}

/** Everything one screen is made of, read at `now`. */
export interface Gathered {
  now: number;
  pm2Home: string;
  daemonPid: number;
  apps: RawApp[];
  stateDir: StateDirChoice;
  heartbeatPath: string;
  heartbeat: Heartbeat | undefined;
  checkpoint: CheckpointFile;
}

export interface AppStatus {
  name: AppName;
  /** PM2's status (online, stopped, errored, …), or null when the app is not in PM2's list. */
  status: string | null;
  pid: number | null;
  uptimeMs: number | null;
  restarts: number | null;
  memoryBytes: number | null;
}

export interface ThreadStatus {
  name: string;
  /** The last tick printed in the run; 0 before the first. */
  tick: number;
  ticksPerRun: number | null;
  at: number | null;
  ageMs: number | null;
  /** The thread's interval, from the clock's CLOCK_INTERVALS in PM2: an older last tick is late. */
  intervalMs: number | null;
}

export const HEAL_KINDS = ['hung', 'stalled', 'ghost', 'errored', 'duplicate'] as const;

/** In hot-standby mode, what a clock instance is: the one that owns the state and ticks, or the one waiting to. */
export type ClockRole = 'active' | 'standby';

/** One PM2 instance of the clock app: PM2's columns, and its role in hot-standby mode. */
export interface ClockInstance extends AppStatus {
  name: 'clock';
  /** PM2's id for this instance (the name is the same for both in hot-standby mode). */
  pmId: number | null;
  /** Decided only in hot-standby mode; null otherwise, and for an instance that is neither (not online, no metric). */
  role: ClockRole | null;
  /**
   * How the role was decided: 'heartbeat' when an online instance's pid is the heartbeat's (the
   * active writes it; every other online instance then waits on the lock, a standby); 'metric' when
   * no online instance wrote the heartbeat and the instance's own `role` metric in PM2 said so.
   */
  roleFrom: 'heartbeat' | 'metric' | null;
  /** This instance's own takeover from a dead active, in ms (its `took over in` metric); null if it never took over. */
  tookOverMs: number | null;
}

/**
 * What `npm run status` found. The JSON (--json) is this object as it is. Hot standby added fields
 * without changing the old ones: `apps.clock` is still one clock with the same fields, the one that
 * ticks (in hot-standby mode the active one: the heartbeat's writer, else the role metric's, else
 * the first online instance), so a reader written for one clock keeps reading the right one;
 * `standby` says whether PM2 runs the clock in hot-standby mode, and `clocks` lists every PM2
 * instance of the clock, the active first, each with its pmId, role and where the role came from.
 * With one instance, `clocks` holds it alone, with role null.
 */
export interface Status {
  at: number;
  pm2Home: string;
  daemonPid: number;
  apps: Record<AppName, AppStatus>;
  /** Hot-standby mode: PM2 lists more than one clock instance, or the clock was launched with CLOCK_STANDBY on. */
  standby: boolean;
  /** Every PM2 instance of the clock: active first, then standby, then any other; in PM2's order within each. */
  clocks: ClockInstance[];
  /** The clock's progress: from the heartbeat while it is ticking, else from the checkpoint. */
  progress: { source: 'heartbeat' | 'checkpoint' | null; run: number | null; threads: ThreadStatus[] };
  heartbeat: {
    path: string;
    ageMs: number | null;
    pid: number | null;
    phase: Heartbeat['phase'] | null;
    /** Other clocks of this state, waiting for its lock (null in a heartbeat from before they were counted). */
    waiters: number | null;
    hangMs: number;
    /** A fresh heartbeat whose thread has owed a tick too long, as the probe judges it (null when on time). */
    stalled: { thread: string; owedMs: number } | null;
  };
  /** The probe's heals since it started, by kind; null until the probe has published its metrics. */
  heals: Record<string, number> | null;
  checkpoint: { path: string; ageMs: number | null; run: number | null; damage: string | null };
  stateDir: StateDirChoice;
}

/** What status found instead of a screen: each is said in one line and has its exit code. */
export type Absence =
  | { problem: 'no-daemon'; pm2Home: string }
  | { problem: 'not-started'; pm2Home: string; daemonPid: number; apps: string[] };

// The probe's default: a heartbeat older than this is a hung clock (ecosystem.config.js, PROBE_HANG_MS).
const DEFAULT_HANG_MS = 3_000;
// The supervisor restarts a worker with no tick for one interval plus this: a later tick is late.
const WORKER_GRACE_MS = 500;
// A heartbeat is written every 250 ms: one older than a few periods is worth a look.
const HEARTBEAT_STALE_MS = 1_000;

/** The state directory the running clock uses, as PM2 launched it; else the one this shell would give it. */
export function chooseStateDir(apps: RawApp[], env: NodeJS.ProcessEnv): StateDirChoice {
  for (const name of ['clock', 'probe'] as const) {
    const app = apps.find((candidate) => candidate.name === name);
    const value = app ? stringOf(app.pm2_env.STATE_DIR) ?? stringOf(app.pm2_env.env?.STATE_DIR) : undefined;
    if (value) return { path: absolute(value), from: name };
  }
  if (env.STATE_DIR?.trim()) return { path: absolute(env.STATE_DIR), from: 'environment' };
  return { path: resolve(PROJECT_ROOT, 'state'), from: 'default' };
}

/** Whether status has a screen to show, or one line to say instead. */
export function absence(pm2Home: string, daemonPid: number | undefined, apps: RawApp[] | undefined): Absence | undefined {
  if (daemonPid === undefined || apps === undefined) return { problem: 'no-daemon', pm2Home };
  if (!apps.some((app) => (APPS as readonly string[]).includes(app.name))) {
    return { problem: 'not-started', pm2Home, daemonPid, apps: apps.map((app) => app.name) };
  }
  return undefined;
}

export function describeAbsence(found: Absence): string {
  if (found.problem === 'no-daemon') {
    return `status: no PM2 daemon runs for PM2_HOME=${found.pm2Home} (start one with npm start)`;
  }
  const others = found.apps.length > 0 ? ` (its list holds only ${found.apps.join(', ')})` : ' (its list is empty)';
  return `status: the PM2 daemon (pid ${found.daemonPid}, PM2_HOME=${found.pm2Home}) runs neither clock nor probe${others}; start them with npm start`;
}

/**
 * Each clock instance's role in hot-standby mode, in the order given. The heartbeat decides first:
 * only the owner of the state lock writes it, so the online instance with the heartbeat's pid is the
 * active one and every other online instance is waiting on the lock, a standby. When no online
 * instance wrote it (none yet, or the writer just died), each instance's own `role` metric decides.
 * An instance that is not online has no role.
 */
export function clockRoles(instances: RawApp[], heartbeatPid: number | undefined): Pick<ClockInstance, 'role' | 'roleFrom'>[] {
  const online = (app: RawApp) => app.pm2_env.status === 'online' && app.pid > 0;
  const active = heartbeatPid === undefined ? undefined : instances.find((app) => online(app) && app.pid === heartbeatPid);
  return instances.map((app) => {
    if (!online(app)) return { role: null, roleFrom: null };
    if (active) return { role: app === active ? 'active' : 'standby', roleFrom: 'heartbeat' };
    const metric = app.pm2_env.axm_monitor?.role?.value;
    return metric === 'active' || metric === 'standby' ? { role: metric, roleFrom: 'metric' } : { role: null, roleFrom: null };
  });
}

/** Whether PM2 runs the clock in hot-standby mode: two instances, or one launched with CLOCK_STANDBY on. */
export function isStandbyMode(instances: RawApp[]): boolean {
  return instances.length > 1 || instances.some((app) => /^(1|true)$/i.test(envOf(app, 'CLOCK_STANDBY')?.trim() ?? ''));
}

const ROLE_ORDER = { active: 0, standby: 1 } as const;

/** The clock instances with their roles (in hot-standby mode), active first, each beside its entry in PM2's list. */
function clockInstances(instances: RawApp[], heartbeat: Heartbeat | undefined, now: number): { app: RawApp; instance: ClockInstance }[] {
  const standby = isStandbyMode(instances);
  const roles = standby ? clockRoles(instances, heartbeat?.pid) : [];
  const rank = (instance: ClockInstance) => (instance.role ? ROLE_ORDER[instance.role] : 2);
  return instances
    .map((app, index) => {
      const tookOver = Number(app.pm2_env.axm_monitor?.['took over in']?.value);
      const instance: ClockInstance = {
        ...appStatus('clock', app, now),
        name: 'clock',
        pmId: typeof app.pm_id === 'number' ? app.pm_id : null,
        ...(roles[index] ?? { role: null, roleFrom: null }),
        tookOverMs: standby && app.pm2_env.status === 'online' && Number.isFinite(tookOver) ? tookOver : null,
      };
      return { app, instance };
    })
    .sort((a, b) => rank(a.instance) - rank(b.instance)); // stable: PM2's order within a role
}

export function buildStatus(gathered: Gathered): Status {
  const { now, apps, heartbeat, checkpoint } = gathered;
  const clockApps = apps.filter((app) => app.name === 'clock');
  const clocks = clockInstances(clockApps, heartbeat, now);
  // apps.clock is the one that ticks: in hot-standby mode the active one, failing that the first
  // online instance (as the probe picks it); with one instance that one, as before hot standby.
  const active = clocks.find(({ instance }) => instance.role === 'active');
  const clockApp = active?.app ?? clockApps.find((app) => app.pm2_env.status === 'online') ?? clockApps[0];
  const probeApp = apps.find((app) => app.name === 'probe');
  const clockEnv = clockApp ? (name: string) => envOf(clockApp, name) : () => undefined;
  const intervals = (clockEnv('CLOCK_INTERVALS') ?? '').split(',').map((part) => Math.round(Number(part) * 1000));
  const ticksPerRun = wholeNumber(clockEnv('CLOCK_TICKS'));
  const hangMs = (probeApp && wholeNumber(envOf(probeApp, 'PROBE_HANG_MS'))) || DEFAULT_HANG_MS;
  const heartbeatAgeMs = heartbeat ? age(now, heartbeat.writtenAt) : null;
  const ticking = heartbeat?.phase === 'ticking' && heartbeat.run !== null && Array.isArray(heartbeat.threads);
  // A clock that died or hung saved its last ticks in the checkpoint after its last heartbeat.
  const fromHeartbeat = ticking && ((heartbeatAgeMs ?? Infinity) <= hangMs || !checkpoint.checkpoint);
  const source = fromHeartbeat ? 'heartbeat' : checkpoint.checkpoint ? 'checkpoint' : null;
  const progress = fromHeartbeat ? heartbeat : checkpoint.checkpoint;
  return {
    at: now,
    pm2Home: gathered.pm2Home,
    daemonPid: gathered.daemonPid,
    apps: { clock: appStatus('clock', clockApp, now), probe: appStatus('probe', probeApp, now) },
    standby: isStandbyMode(clockApps),
    clocks: clocks.map(({ instance }) => instance),
    progress: {
      source,
      run: progress?.run ?? null,
      threads: (progress?.threads ?? []).map((thread, index) => {
        const intervalMs = intervals[index];
        return {
          name: thread.name,
          tick: thread.tick,
          ticksPerRun: ticksPerRun ?? null,
          at: thread.at,
          ageMs: thread.at === null ? null : age(now, thread.at),
          intervalMs: intervalMs !== undefined && intervalMs > 0 ? intervalMs : null,
        };
      }),
    },
    heartbeat: {
      path: gathered.heartbeatPath,
      ageMs: heartbeatAgeMs,
      pid: heartbeat?.pid ?? null,
      phase: heartbeat?.phase ?? null,
      waiters: typeof heartbeat?.waiters === 'number' ? heartbeat.waiters : null,
      hangMs,
      stalled: heartbeat && (heartbeatAgeMs ?? Infinity) <= hangMs && Array.isArray(heartbeat.threads) ? (stalledThread(heartbeat, now, hangMs) ?? null) : null,
    },
    heals: probeApp ? healsOf(probeApp) : null,
    checkpoint: {
      path: checkpoint.path,
      ageMs: checkpoint.mtimeMs === null ? null : age(now, checkpoint.mtimeMs),
      run: checkpoint.checkpoint?.run ?? null,
      damage: checkpoint.damage,
    },
    stateDir: gathered.stateDir,
  };
}

/** Exactly one line per refresh for machines: the Status as it is, times in ms since the epoch. */
export function statusJson(status: Status | Absence): string {
  return JSON.stringify(status);
}

export type Tone = 'good' | 'warn' | 'bad' | 'dim' | 'head' | undefined;
interface Cell {
  text: string;
  tone?: Tone;
}

export interface RenderOptions {
  /** ANSI colour: only when stdout is a terminal that takes it. */
  color: boolean;
}

/** The screen, as lines without trailing newlines. */
export function renderStatus(status: Status, { color }: RenderOptions): string[] {
  const paint = painter(color);
  const { apps, progress, heartbeat, checkpoint } = status;
  const lines = [
    `${paint('head', 'estatus')}  ${dayjs(status.at).format('YYYY-MM-DD HH:mm:ss')}  PM2 daemon pid ${status.daemonPid}, PM2_HOME=${status.pm2Home}`,
    '',
  ];

  lines.push(
    ...table(paint, [
      ['APP', 'STATUS', 'PID', 'UPTIME', 'RESTARTS', 'MEMORY'].map((text) => ({ text, tone: 'head' as const })),
      // In hot-standby mode, one row per clock instance, named by its role; otherwise one per app.
      ...(status.standby
        ? [...status.clocks.map((clock) => ({ label: instanceLabel(clock), app: clock as AppStatus })), { label: 'probe', app: apps.probe }]
        : APPS.map((name) => ({ label: name, app: apps[name] }))
      ).map(({ label, app }) => [
        { text: label },
        { text: app.status ?? 'not started', tone: statusTone(app.status) },
        { text: app.pid ? String(app.pid) : '-' },
        { text: app.uptimeMs === null ? '-' : formatDuration(app.uptimeMs) },
        { text: app.restarts === null ? '-' : String(app.restarts) },
        { text: app.memoryBytes === null ? '-' : formatBytes(app.memoryBytes) },
      ]),
    ]),
    '',
  );

  if (progress.threads.length > 0) {
    lines.push(
      ...table(paint, [
        ['THREAD', 'TICK', 'AT', 'AGE'].map((text) => ({ text, tone: 'head' as const })),
        ...progress.threads.map((thread) => [
          { text: thread.name },
          { text: thread.ticksPerRun === null ? String(thread.tick) : `${thread.tick}/${thread.ticksPerRun}` },
          { text: thread.at === null ? '-' : dayjs(thread.at).format('HH:mm:ss.SSS') },
          { text: thread.ageMs === null ? '-' : formatDuration(thread.ageMs), tone: threadTone(thread, apps.clock.status) },
        ]),
      ]),
      '',
    );
  }

  const run: Cell[] =
    progress.run === null
      ? [{ text: 'unknown: no heartbeat while ticking and no checkpoint yet', tone: 'warn' }]
      : [{ text: String(progress.run) }, { text: ` (from ${progress.source === 'heartbeat' ? 'the heartbeat' : 'the checkpoint'})`, tone: 'dim' }];
  const beat: Cell[] =
    heartbeat.ageMs === null
      ? [{ text: 'none', tone: 'bad' }, { text: `  ${heartbeat.path}`, tone: 'dim' }]
      : [
          { text: `${formatDuration(heartbeat.ageMs)} old`, tone: heartbeatTone(heartbeat.ageMs, heartbeat.hangMs) },
          { text: `, pid ${heartbeat.pid}, ${heartbeat.phase}` },
          ...(heartbeat.stalled ? [{ text: ` but STALLED: ${heartbeat.stalled.thread} has owed a tick for ${formatDuration(heartbeat.stalled.owedMs)}`, tone: 'bad' as const }] : []),
          ...(apps.clock.pid && heartbeat.pid !== apps.clock.pid ? [{ text: ` (not PM2's clock)`, tone: 'warn' as const }] : []),
          ...(status.standby ? standbyWaiters(heartbeat.waiters, status.clocks) : heartbeat.waiters ? [{ text: `, ${heartbeat.waiters} more waiting for the state lock`, tone: 'warn' as const }] : []),
        ];
  const heals: Cell[] =
    status.heals === null
      ? [{ text: apps.probe.status === null ? 'probe not started' : 'no metrics from the probe yet', tone: 'warn' }]
      : Object.entries(status.heals).flatMap(([kind, count], index) => [
          { text: `${index > 0 ? '  ' : ''}${kind} ` },
          { text: String(count), tone: count > 0 ? ('warn' as const) : undefined },
        ]);
  const saved: Cell[] =
    checkpoint.ageMs === null
      ? [{ text: checkpoint.damage ?? 'none yet', tone: checkpoint.damage ? 'bad' : 'warn' }, { text: `  ${checkpoint.path}`, tone: 'dim' }]
      : [
          { text: `${formatDuration(checkpoint.ageMs)} old` },
          ...(checkpoint.damage ? [{ text: ` (damaged: ${checkpoint.damage})`, tone: 'bad' as const }] : []),
          { text: `  ${checkpoint.path}`, tone: 'dim' },
        ];
  const stateFrom = {
    clock: "the clock's STATE_DIR in PM2",
    probe: "the probe's STATE_DIR in PM2",
    environment: 'STATE_DIR here',
    default: "the project's default",
  }[status.stateDir.from];
  const active = status.clocks.find((clock) => clock.role === 'active');
  const takeover: Cell[] =
    active?.tookOverMs != null
      ? [{ text: `${active.tookOverMs} ms` }, { text: ` (pid ${active.pid} took over: from the old active's death to ticking here)`, tone: 'dim' }]
      : [{ text: active ? `none: the active (pid ${active.pid}) started first, it did not take over` : 'no active clock', tone: active ? 'dim' : 'warn' }];
  lines.push(
    ...fields(paint, [
      ['run', run],
      ['heartbeat', beat],
      ...(status.standby ? [['takeover', takeover] as [string, Cell[]]] : []),
      ['probe heals', heals],
      ['checkpoint', saved],
      ['state dir', [{ text: status.stateDir.path }, { text: ` (${stateFrom})`, tone: 'dim' }]],
    ]),
  );
  return lines;
}

/** `1.2 s`, `42 s`, `3m 04s`, `2h 05m`, `3d 04h`: short enough for a column, exact enough to compare. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const pad = (value: number) => String(value).padStart(2, '0');
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ${pad(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h ${pad(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${pad(Math.floor(seconds / 3_600) % 24)}h`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `clock (active)`, `clock (standby)`; `clock (pm2 id 2)` for an instance with no role (not online, or undecided). */
function instanceLabel(instance: ClockInstance): string {
  if (instance.role) return `clock (${instance.role})`;
  return instance.pmId === null ? 'clock (no role)' : `clock (pm2 id ${instance.pmId})`;
}

/** The waiters on the state lock in hot-standby mode: the online standbys are expected, any more is a clock PM2 does not own. */
function standbyWaiters(waiters: number | null, clocks: ClockInstance[]): Cell[] {
  if (waiters === null) return [];
  const standbys = clocks.filter((clock) => clock.role === 'standby').length;
  if (waiters > standbys) return [{ text: `, ${waiters} waiting for the state lock (${waiters - standbys} more than the standby)`, tone: 'warn' }];
  if (waiters < standbys) return [{ text: `, the standby is not waiting for the state lock`, tone: 'warn' }];
  return [{ text: `, ${waiters} waiting for the state lock (the standby)` }];
}

function appStatus(name: AppName, app: RawApp | undefined, now: number): AppStatus {
  if (!app) return { name, status: null, pid: null, uptimeMs: null, restarts: null, memoryBytes: null };
  const online = app.pm2_env.status === 'online';
  const launchedAt = app.pm2_env.pm_uptime;
  return {
    name,
    status: app.pm2_env.status,
    // PM2 keeps the last pid and memory of a stopped app: they describe nothing that runs.
    pid: online && app.pid > 0 ? app.pid : null,
    uptimeMs: online && typeof launchedAt === 'number' ? age(now, launchedAt) : null,
    restarts: typeof app.pm2_env.restart_time === 'number' ? app.pm2_env.restart_time : null,
    memoryBytes: online && typeof app.monit?.memory === 'number' ? app.monit.memory : null,
  };
}

// Whole milliseconds, and never negative: file times and clocks of other processes may be a little ahead.
function age(now: number, then: number): number {
  return Math.max(0, Math.round(now - then));
}

/** The probe's `heals: <kind>` metrics, the known kinds first; null before it has published any. */
function healsOf(probe: RawApp): Record<string, number> | null {
  const metrics = probe.pm2_env.axm_monitor ?? {};
  const kinds = Object.keys(metrics)
    .filter((key) => key.startsWith('heals: '))
    .map((key) => key.slice('heals: '.length));
  if (kinds.length === 0) return null;
  const ordered = [...HEAL_KINDS.filter((kind) => kinds.includes(kind)), ...kinds.filter((kind) => !(HEAL_KINDS as readonly string[]).includes(kind))];
  return Object.fromEntries(ordered.map((kind) => [kind, Number(metrics[`heals: ${kind}`]?.value) || 0]));
}

/** A variable of the app's environment as PM2 launched it (the merged top level wins over `env`). */
function envOf(app: RawApp, name: string): string | undefined {
  return stringOf(app.pm2_env[name]) ?? stringOf(app.pm2_env.env?.[name]);
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function wholeNumber(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text.trim()) ? Number(text) : undefined;
}

// The clock resolves a relative STATE_DIR against the project root (apps/shared/config.ts).
function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(PROJECT_ROOT, path);
}

function statusTone(status: string | null): Tone {
  if (status === 'online') return 'good';
  if (status === 'stopped' || status === 'stopping' || status === 'launching' || status === 'waiting restart') return 'warn';
  return 'bad';
}

function threadTone(thread: ThreadStatus, clockStatus: string | null): Tone {
  if (thread.ageMs === null || thread.intervalMs === null || clockStatus !== 'online') return undefined;
  // A thread done with its run waits, without ticking, for the slower ones.
  if (thread.ticksPerRun !== null && thread.tick >= thread.ticksPerRun) return undefined;
  return thread.ageMs > thread.intervalMs + WORKER_GRACE_MS ? 'warn' : 'good';
}

function heartbeatTone(ageMs: number, hangMs: number): Tone {
  if (ageMs > hangMs) return 'bad';
  return ageMs > HEARTBEAT_STALE_MS ? 'warn' : 'good';
}

export type Paint = (tone: Tone, text: string) => string;

type Format = Extract<Parameters<typeof util.styleText>[0], unknown[]>;

const STYLES: Record<Exclude<Tone, undefined>, Format> = {
  good: ['green'],
  warn: ['yellow'],
  bad: ['red', 'bold'],
  dim: ['dim'],
  head: ['bold'],
};

const ANSI: Record<Exclude<Tone, undefined>, [string, string]> = {
  good: ['\x1b[32m', '\x1b[39m'],
  warn: ['\x1b[33m', '\x1b[39m'],
  bad: ['\x1b[1m\x1b[31m', '\x1b[39m\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  head: ['\x1b[1m', '\x1b[22m'],
};

/** Colours text by its meaning, or leaves it plain when `color` is false. */
export function painter(color: boolean): Paint {
  if (!color) return (_, text) => text;
  // util.styleText came with Node 20.12; Node 20.11 gets the same codes by hand.
  const styleText = (util as { styleText?: typeof util.styleText }).styleText;
  return (tone, text) => {
    if (!tone || text === '') return text;
    // Whether to colour was decided once, for stdout; styleText must not decide again for itself.
    if (styleText) return styleText(STYLES[tone], text, { validateStream: false });
    const [open, close] = ANSI[tone];
    return `${open}${text}${close}`;
  };
}

/** Rows of cells in aligned columns: padded by their visible text, so colour never shifts a column. */
function table(paint: Paint, rows: Cell[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.text.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => {
        const padding = column === row.length - 1 ? '' : ' '.repeat((widths[column] ?? 0) - cell.text.length + 2);
        return paint(cell.tone, cell.text) + padding;
      })
      .join(''),
  );
}

/** Labelled lines, the values aligned after the longest label. */
function fields(paint: Paint, entries: [string, Cell[]][]): string[] {
  const width = Math.max(...entries.map(([label]) => label.length)) + 2;
  return entries.map(([label, cells]) => label.padEnd(width) + cells.map((cell) => paint(cell.tone, cell.text)).join(''));
}
