import { isAbsolute, resolve } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { GuardSettingError, guardSettingsOf, overdueMs, parseGuardBeat } from '../../apps/shared/guard-contract.ts';
import type { Heartbeat } from '../../apps/shared/heartbeat.ts';
import { lateThread } from '../../apps/probe/stall.ts';
import { HEARTBEAT_METRIC, HELD_METRIC } from '../../apps/shared/pm2-pulse.ts';
import { guardedApps } from './guarded.ts';
import { envOf, stringOf } from './pm2-env.ts';
import { APPS, HEAL_KINDS, type Absence, type AppName, type AppStatus, type ClockInstance, type Gathered, type RawApp, type StateDirChoice, type Status } from './types.ts';

/**
 * `npm run status`'s judgement, minus the I/O: what was read goes in, a plain Status comes out.
 * Nothing here reads a clock or lays out a line.
 */

// The probe's default: a heartbeat older than this is a hung clock (ecosystem.config.js, PROBE_HANG_MS).
const DEFAULT_HANG_MS = 3_000;


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
      // A heartbeat older than the hang limit is a hang (or a dead clock), not a stall.
      stalled: heartbeat && heartbeatAgeMs !== null && heartbeatAgeMs <= hangMs ? stallOf(heartbeat, heartbeatAgeMs, clockStallMs(clockApp, hangMs)) : null,
      ...heldOf(clockApp, heartbeat, (heartbeatAgeMs ?? Infinity) <= hangMs),
    },
    heals: probeApp ? healsOf(probeApp) : null,
    cluster: heartbeat?.cluster ?? null,
    checkpoint: {
      path: checkpoint.path,
      ageMs: checkpoint.mtimeMs === null ? null : age(now, checkpoint.mtimeMs),
      run: checkpoint.checkpoint?.run ?? null,
      damage: checkpoint.damage,
    },
    stateDir: gathered.stateDir,
    guarded: guardedApps(apps, gathered.beats ?? {}, now),
  };
}

/**
 * Whether the clock is stalled, by the guard contract's one rule (overdueMs), as the probe judges it
 * and every other guarded app; then which thread is late, for the wording. A heartbeat without the
 * contract's fields (an older clock) is never judged stalled.
 */
function stallOf(heartbeat: Heartbeat, ageMs: number, stallMs: number): Status['heartbeat']['stalled'] {
  // The contract's own reader decides what counts as a beat, so status judges the heartbeats the probe judges.
  const parsed = parseGuardBeat(JSON.stringify(heartbeat));
  if (parsed.kind !== 'beat') return null;
  const overdue = overdueMs(parsed.beat, ageMs, stallMs);
  if (overdue === undefined) return null;
  const late = lateThread(heartbeat, ageMs);
  return { overdueMs: overdue, stallMs, thread: late?.thread ?? null, owedMs: late?.owedMs ?? null };
}

/**
 * The clock's stall limit as the probe reads it (GUARD_STALL_MS in its PM2 env, through the contract's
 * own reading of the settings); the hang limit when the clock declares no guard or a bad setting.
 */
function clockStallMs(clockApp: RawApp | undefined, hangMs: number): number {
  if (!clockApp) return hangMs;
  try {
    return guardSettingsOf('clock', (name) => envOf(clockApp, name))?.stallMs ?? hangMs;
  } catch (error) {
    if (!(error instanceof GuardSettingError)) throw error;
    return hangMs;
  }
}

/** What holds the clock, from its heartbeat while fresh, else from its PM2 metrics (pm2-pulse.ts). */
function heldOf(app: RawApp | undefined, heartbeat: Heartbeat | undefined, fresh: boolean): { held: string | null; viaPm2: string | null } {
  const metrics = app?.pm2_env.axm_monitor ?? {};
  const pulse = stringOf(metrics[HEARTBEAT_METRIC]?.value);
  const viaPm2 = pulse?.startsWith('via PM2') ? pulse : null;
  if (fresh && !viaPm2) {
    const holds = heartbeat?.held ?? [];
    return { held: holds.length === 0 ? null : holds.map((hold) => `${hold.on}: ${hold.why} (for ${Math.round(hold.forMs / 100) / 10} s)`).join('; '), viaPm2 };
  }
  const held = stringOf(metrics[HELD_METRIC]?.value);
  return { held: viaPm2 && held && held !== 'no' ? held : null, viaPm2 };
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

function wholeNumber(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text.trim()) ? Number(text) : undefined;
}

// The clock resolves a relative STATE_DIR against the project root (apps/shared/config.ts).
function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(PROJECT_ROOT, path);
}

