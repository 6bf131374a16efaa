import type { Checkpoint } from '../../apps/clock/checkpoint.ts';
import type { GuardBeat } from '../../apps/shared/guard-contract.ts';
import type { Heartbeat } from '../../apps/shared/heartbeat.ts';

/**
 * What `npm run status` reads (PM2's process list, the state files) and what it finds: the plain
 * Status object that judge.ts builds, render.ts lays out, and --json prints as it is.
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

/**
 * A guarded app's beat file as read: bounded, never through a symlink, parsed by the guard
 * contract's own parser; a file that is no beat of the contract is kept only as the reason.
 */
export interface BeatFile {
  /** The file's modification time (ms since the epoch); null when there is no file, or it is no beat. */
  mtimeMs: number | null;
  beat: GuardBeat | null;
  /** Why the file is not a beat of the contract (garbage, too large, a symlink, unreadable); null otherwise. */
  problem: string | null;
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
  /** The beat file of every guarded app, by its GUARD_HEARTBEAT path (absent: none read). */
  beats?: Record<string, BeatFile>;
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
 * One PM2 app under guard (GUARD_HEARTBEAT in its env: apps/shared/guard-contract.ts), the clock
 * included: PM2's view of it, its beat file, and what the probe last said of it.
 */
export interface GuardedApp {
  name: string;
  /**
   * PM2's status and pid of the instance that wrote the beat, else of the first online one, else of
   * the first (as the probe picks the instance it judges); pid null when that one is not online.
   */
  status: string;
  pid: number | null;
  /** PM2's instances of the app (more than one: a hot standby). */
  instances: number;
  /** Its guard settings (ms); null with a bad setting. */
  hangMs: number | null;
  stallMs: number | null;
  /** A bad guard setting, in the probe's one line (the app, the setting, expected, given); null when they are good. */
  settingError: string | null;
  /**
   * Other apps that declare the same GUARD_HEARTBEAT: one file can be one app's beat only. PM2 merges
   * the environment of the shell that ran `pm2 start` into every app it starts, so a GUARD_HEARTBEAT
   * exported there reaches each app that does not declare its own.
   */
  sharesBeatWith: string[];
  beat: {
    /** GUARD_HEARTBEAT; null when the settings could not be read. */
    path: string | null;
    /** ms since the file was last replaced (its modification time); null with no beat. */
    ageMs: number | null;
    /** The beat's own fields (null with no beat): as written, owedInMs relative to the write. */
    pid: number | null;
    seq: number | null;
    ready: boolean | null;
    owedInMs: number | null;
    progressAgoMs: number | null;
    /** ms from now to the owed progress (owedInMs less the file's age; negative: late by that); null: owes none. */
    owedFromNowMs: number | null;
    /** Whether it owes nothing (idle): an idle app is never stalled. Null with no beat. */
    idle: boolean | null;
    /** What holds it back, one `on: why (for N s)` each, joined by '; '; null when nothing does. */
    held: string | null;
    /** How long it is past the moment it owed progress, once that is more than GUARD_STALL_MS (stalled, as the probe judges); null otherwise. */
    stalledMs: number | null;
    /** The beat's pid is not PM2's instance of the app (a duplicate, or a leftover): not trusted as its pulse. */
    foreign: boolean;
    /** Why the file is no beat of the contract (said, never followed, nothing in it trusted); null otherwise. */
    problem: string | null;
  };
  /** The probe's last finding for it (its `<app> is` metric: healthy, hung, stalled, held, …); null until published. */
  verdict: string | null;
  /** The probe's heals of it since the probe started (its `<app> heals` metric); null until published. */
  heals: number | null;
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
    /**
     * A fresh heartbeat past the moment it owed progress by more than the clock's GUARD_STALL_MS, as the
     * probe judges it (overdueMs), with the thread furthest past the moment it owed its tick and for how
     * long (null when none can be named); null when not stalled.
     */
    stalled: { overdueMs: number; stallMs: number; thread: string | null; owedMs: number | null } | null;
    /**
     * What holds the clock's ticks (a full or read-only disk, a log that takes nothing), from a fresh
     * heartbeat or, while the file cannot be written, from the clock's PM2 metric; null when nothing does.
     */
    held: string | null;
    /** While the heartbeat file cannot be written: the clock's pulse as PM2's metric carries it; else null. */
    viaPm2: string | null;
  };
  /** The probe's heals since it started, by kind; null until the probe has published its metrics. */
  heals: Record<string, number> | null;
  /**
   * Cluster mode (CLOCK_ETCD): this host's part, from its clock's heartbeat: its role, who leads,
   * and how long ago etcd confirmed its lease. Null on a single host (or with no heartbeat).
   */
  cluster: NonNullable<Heartbeat['cluster']> | null;
  checkpoint: { path: string; ageMs: number | null; run: number | null; damage: string | null };
  stateDir: StateDirChoice;
  /** Every app of PM2's list under guard (the clock among them), in PM2's order; added without changing the fields above. */
  guarded: GuardedApp[];
}

/** What status found instead of a screen: each is said in one line and has its exit code. */
export type Absence =
  | { problem: 'no-daemon'; pm2Home: string }
  | { problem: 'not-started'; pm2Home: string; daemonPid: number; apps: string[] };

