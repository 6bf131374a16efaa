import { performance } from 'node:perf_hooks';
import { PROJECT_ROOT } from '../shared/config.ts';
import { GuardSettingError, guardSettingsOf } from '../shared/guard-contract.ts';
import { publishMetrics, type Metric } from '../shared/pm2-ipc.ts';
import { AppGuard, HEAL_KINDS, type GuardedApp } from './app-guard.ts';
import { pm2ContainerIn, realpathOrUndefined, type AppIdentity } from './identity.ts';
import { findAny, pathKey } from './proc-table.ts';
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
// Beyond the scans an app calls for (app-guard.ts), the process table is scanned for instances PM2
// does not own this often, as a safety net: one scan for every guarded app at once.
const SAFETY_SCAN_EVERY_MS = 60_000;
// Looks at a limit's moment come no closer together than this: a moment is never a reason to spin.
const MIN_LOOK_GAP_MS = 20;

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
  /** Per app, what its last launch declares (declarationOf). */
  private readonly declarations = new Map<string, { env: Pm2App['env']; execPath: string | undefined; cwd: string | undefined; interpreter: string | undefined; outcome: GuardedApp | undefined | GuardSettingError }>();
  /** The full scans of the process table: when the last safety net ran, the last one's cost (ms), how many. */
  private lastSafetyScanAt = -Infinity;
  private lastScanMs = 0;
  private scans = 0;
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
    await this.scanIfWanted(roundStart);
    this.publish(roundStart);
  }

  /**
   * ms from `now` until the next look: the end of the period that began at `roundStart`, or sooner
   * where an app's unchanged beat is about to cross one of its limits (AppGuard.nextLimitInMs), but
   * never sooner than MIN_LOOK_GAP_MS after this one.
   */
  nextLookInMs(roundStart: number, now: number): number {
    let next = roundStart + this.options.periodMs - now;
    for (const guard of this.guards.values()) {
      const limit = guard.nextLimitInMs(now);
      if (limit !== undefined && limit > 0) next = Math.min(next, limit);
    }
    return Math.max(MIN_LOOK_GAP_MS, next);
  }

  /**
   * One full scan of the process table for every app that wants one this round (or for all, when
   * the safety net is due), each app then picking its own instances from it: a scan costs tens of ms
   * with thousands of processes, and one per app was most of the probe's CPU with 20 apps. PM2's
   * view is fetched fresh first, so that an instance PM2 has just restarted is not taken for one it
   * does not own.
   */
  private async scanIfWanted(roundStart: number): Promise<void> {
    const now = performance.now();
    const safetyDue = now - this.lastSafetyScanAt >= SAFETY_SCAN_EVERY_MS;
    const wanting = [...this.guards.values()].flatMap((guard) => {
      const wanted = guard.scanTarget(now, safetyDue);
      return wanted ? [{ guard, wanted }] : [];
    });
    if (wanting.length === 0) return;
    const view = await this.view.get(true, roundStart);
    if (!view) return;
    const started = performance.now();
    const scanned = findAny(wanting.map(({ wanted }) => wanted));
    this.lastScanMs = performance.now() - started;
    this.scans += 1;
    if (safetyDue) this.lastSafetyScanAt = now;
    for (const { guard } of wanting) guard.afterScan(scanned, view.apps);
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
      const guarded = this.declarationOf(instance);
      if (guarded instanceof GuardSettingError) {
        this.refuse(name, guarded.message);
        continue;
      }
      if (guarded) declared.set(name, guarded);
      else this.drop(name, `${name} is no longer under guard (no GUARD_HEARTBEAT in its env)`);
      this.badSettings.delete(name);
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
    for (const name of [...this.declarations.keys()]) if (!names.has(name)) this.declarations.delete(name);
    for (const name of [...this.guards.keys()]) if (!names.has(name)) this.drop(name, `PM2 has no app named ${name} any more; no longer guarding it`);
    if (this.guards.size === 0 && !this.saidNone) this.options.log('no app in PM2 is under guard (GUARD_HEARTBEAT in its env); nothing to watch yet');
    this.saidNone = this.guards.size === 0;
  }

  /**
   * What an app declares, worked out again only when PM2 launched it again (a new env object: see
   * pm2AppOf) or runs another script: the list is fetched every few seconds, and resolving the
   * script's real path for every app each time was a tenth of the probe's CPU with 20 apps. A bad
   * setting is returned as its GuardSettingError, to be said (once) by the caller.
   */
  private declarationOf(app: Pm2App): GuardedApp | undefined | GuardSettingError {
    const known = this.declarations.get(app.name);
    if (known && known.env === app.env && known.execPath === app.execPath && known.cwd === app.cwd && known.interpreter === app.interpreter) return known.outcome;
    let outcome: GuardedApp | undefined | GuardSettingError;
    try {
      outcome = guardedAppOf(app, this.options.user);
    } catch (error) {
      if (!(error instanceof GuardSettingError)) throw error;
      outcome = error;
    }
    this.declarations.set(app.name, { env: app.env, execPath: app.execPath, cwd: app.cwd, interpreter: app.interpreter, outcome });
    return outcome;
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
    metrics['last scan'] = { value: Math.round(this.lastScanMs * 10) / 10, unit: 'ms' };
    metrics['full scans'] = { value: this.scans };
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
