import { performance } from 'node:perf_hooks';
import { PROJECT_ROOT } from '../shared/config.ts';
import { GuardSettingError, guardSettingsOf } from '../shared/guard-contract.ts';
import { publishMetrics, type Metric } from '../shared/pm2-ipc.ts';
import { AppGuard, HEAL_KINDS, type GuardedApp } from './app-guard.ts';
import { pm2ContainerIn, realpathOrUndefined, type AppIdentity } from './identity.ts';
import { pathKey } from './proc-table.ts';
import type { Pm2App, Pm2Client } from './pm2-client.ts';
import { Pm2View } from './pm2-view.ts';
import { basename, isAbsolute, resolve } from 'node:path';

export interface ProbeOptions {
  periodMs: number;
  pm2: Pm2Client;
  /** The user every guarded app must run as (ProcessInfo.user's form): this probe's. */
  user: string;
  log(line: string): void;
  warn(line: string): void;
}

// PM2 shows the metrics; they need not change more often than this.
const PUBLISH_EVERY_MS = 1_000;

/**
 * One probe for every guarded app of its PM2 daemon: each period it takes PM2's view once, finds the
 * apps under guard (GUARD_HEARTBEAT in an app's env: apps/shared/guard-contract.ts), and looks at
 * each through an AppGuard of its own (its sightings, its heal budget). An app with a bad setting is
 * said once and left unguarded; every other app is guarded all the same.
 */
export class Probe {
  private readonly view: Pm2View;
  private readonly guards = new Map<string, AppGuard>();
  /** Per app, the bad-setting line last said (said again only if it changes). */
  private readonly badSettings = new Map<string, string>();
  private daemonPid: number | undefined;
  private saidNone = false;
  /** PM2's list the guards were last worked out from. */
  private lastApps: Pm2App[] | undefined;

  constructor(private readonly options: ProbeOptions) {
    this.view = new Pm2View(options.pm2, options.log, options.warn);
  }

  /** One round of looks: every guarded app once. */
  async check(): Promise<void> {
    const roundStart = performance.now();
    const daemonPid = this.options.pm2.daemonPid();
    if (daemonPid !== this.daemonPid) {
      this.daemonPid = daemonPid;
      this.view.invalidate();
    }
    const view = await this.view.get(false, roundStart);
    if (!view) return;
    this.updateGuards(view.apps);
    for (const guard of this.guards.values()) await guard.check(roundStart, daemonPid);
    this.publish(roundStart);
  }

  /**
   * The guards, one per app PM2 lists with a guard declared, as its declaration now says: worked out
   * again only when PM2's list was fetched again. Never the probe's own app, and never two apps on
   * one beat file: PM2 merges the environment of the shell that ran `pm2 start` into every app, so a
   * GUARD_HEARTBEAT exported there would put every app, the probe itself among them, on one file.
   */
  private updateGuards(apps: Pm2App[]): void {
    if (apps === this.lastApps) return;
    this.lastApps = apps;
    const declared = new Map<string, GuardedApp>();
    for (const name of new Set(apps.map((app) => app.name))) {
      const instance = apps.find((app) => app.name === name) as Pm2App;
      if (name === process.env.name || instance.pid === process.pid) continue;
      try {
        const guarded = guardedAppOf(instance, this.options.user);
        if (guarded) declared.set(name, guarded);
        else this.drop(name, `${name} is no longer under guard (no GUARD_HEARTBEAT in its env)`);
        this.badSettings.delete(name);
      } catch (error) {
        if (!(error instanceof GuardSettingError)) throw error;
        this.refuse(name, error.message);
      }
    }
    for (const [name, guarded] of declared) {
      const sharing = [...declared].filter(([other, app]) => other !== name && pathKey(app.settings.heartbeat) === pathKey(guarded.settings.heartbeat)).map(([other]) => other);
      if (sharing.length > 0) {
        this.refuse(name, new GuardSettingError(name, 'GUARD_HEARTBEAT', `a file of its own (${sharing.join(', ')} declare${sharing.length === 1 ? 's' : ''} the same: exported in the shell that ran pm2 start?)`, guarded.settings.heartbeat).message);
        continue;
      }
      this.badSettings.delete(name);
      const existing = this.guards.get(name);
      if (existing) {
        existing.update(guarded);
        continue;
      }
      const { settings } = guarded;
      this.options.log(`guarding ${name}: heartbeat ${settings.heartbeat}, hung after ${settings.hangMs} ms without one, stalled ${settings.stallMs} ms past the moment it owes progress`);
      this.guards.set(name, new AppGuard({ app: guarded, periodMs: this.options.periodMs, pm2: this.options.pm2, view: this.view, log: this.options.log, warn: this.options.warn }));
    }
    const names = new Set(apps.map((app) => app.name));
    for (const name of [...this.guards.keys()]) if (!names.has(name)) this.drop(name, `PM2 has no app named ${name} any more; no longer guarding it`);
    if (this.guards.size === 0 && !this.saidNone) this.options.log('no app in PM2 is under guard (GUARD_HEARTBEAT in its env); nothing to watch yet');
    this.saidNone = this.guards.size === 0;
  }

  /** An app with a bad guard setting: said once (and again if it changes), and not guarded until fixed. */
  private refuse(name: string, line: string): void {
    if (this.badSettings.get(name) !== line) this.options.warn(line);
    this.badSettings.set(name, line);
    this.drop(name, undefined);
  }

  private drop(name: string, line: string | undefined): void {
    if (!this.guards.delete(name)) return;
    if (line) this.options.log(line);
  }

  private lastPublished = '';
  private lastPublishedAt = -Infinity;
  private publish(now: number): void {
    if (now - this.lastPublishedAt < PUBLISH_EVERY_MS) return;
    const guards = [...this.guards.values()];
    const metrics: Record<string, Metric> = { 'guarded apps': { value: guards.length } };
    for (const guard of guards) Object.assign(metrics, guard.metrics());
    // Every app's heals, by kind: what `npm run status` and the chaos run read.
    for (const kind of HEAL_KINDS) metrics[`heals: ${kind}`] = { value: guards.reduce((sum, guard) => sum + guard.heals[kind], 0) };
    metrics['last scan'] = { value: Math.round(Math.max(0, ...guards.map((guard) => guard.scans.lastScanMs)) * 10) / 10, unit: 'ms' };
    metrics['full scans'] = { value: guards.reduce((sum, guard) => sum + guard.scans.scans, 0) };
    // Its own CPU time (user + system, ms): on Windows PM2 reads an app's CPU through wmic, or a
    // PowerShell per look where wmic is gone (Windows 11 24H2); this costs nothing and is the same
    // on every platform, so the bench reads the probe's cost here.
    metrics['cpu time'] = { value: Math.round(cpuMs()), unit: 'ms' };
    const text = JSON.stringify(metrics);
    if (text === this.lastPublished) return;
    this.lastPublished = text;
    this.lastPublishedAt = now;
    publishMetrics(metrics);
  }
}

/**
 * The guarded app PM2's instance declares, or undefined when it declares none. Its identity: its
 * script (PM2's pm_exec_path, by real path), this user, and the state an instance works on — the
 * path its GUARD_STATE_ENV variable names (GUARD_HEARTBEAT's by default), relative to PM2's cwd for
 * it, GUARD_STATE_DEFAULT where an instance lacks the variable. GuardSettingError for a bad setting.
 */
export function guardedAppOf(app: Pm2App, user: string): GuardedApp | undefined {
  const env = (name: string): string | undefined => app.env?.[name];
  const settings = guardSettingsOf(app.name, env);
  if (!settings) return undefined;
  const cwd = app.cwd ?? PROJECT_ROOT;
  const stateEnv = env('GUARD_STATE_ENV') || 'GUARD_HEARTBEAT';
  const statePath = env(stateEnv);
  if (!statePath) throw new GuardSettingError(app.name, 'GUARD_STATE_ENV', 'the name of a variable set in its env', stateEnv);
  const fallback = env('GUARD_STATE_DEFAULT');
  const execPath = app.execPath ?? '';
  const identity: AppIdentity = {
    name: app.name,
    entry: realpathOrUndefined(execPath) ?? execPath,
    user,
    state: { env: stateEnv, path: isAbsolute(statePath) ? statePath : resolve(cwd, statePath), base: cwd, ...(fallback ? { fallback } : {}) },
    container: pm2ContainerIn(PROJECT_ROOT),
  };
  return { identity, settings, image: imageOf(app.interpreter, execPath) };
}

/**
 * The image name an instance's process has, so that the process table's scan reads only those
 * command lines: the interpreter's (node for a node app: PM2 leaves exec_interpreter unset for a .js
 * script on Windows, and runs it with node), the program's own for `interpreter: 'none'`; undefined
 * (every command line read) when it cannot be known.
 */
function imageOf(interpreter: string | undefined, execPath: string): string | undefined {
  const image = interpreter === 'none' ? execPath : interpreter ?? (/\.[cm]?js$/i.test(execPath) ? 'node' : undefined);
  return image === undefined ? undefined : basename(image).replace(/\.exe$/i, '') || undefined;
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
