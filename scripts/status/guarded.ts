import { GuardSettingError, guardSettingsOf, overdueMs, type GuardSettings } from '../../apps/shared/guard-contract.ts';
import { envOf } from './pm2-env.ts';
import type { BeatFile, GuardedApp, RawApp } from './types.ts';

/**
 * `npm run status`'s view of every app under guard, minus the I/O: which apps PM2 lists with a guard
 * declared (read exactly as the probe reads it, so a bad setting is the probe's own line), then each
 * one's row from PM2, its beat file and the probe's metrics.
 */

/** An app's guard declaration as PM2 launched it: its settings, or the line saying which one is bad. */
export type Declaration = { name: string; instances: RawApp[] } & ({ settings: GuardSettings; error?: undefined } | { settings?: undefined; error: string });

/** The apps under guard, one per name, in PM2's order; apps that declare none are left out. */
export function guardDeclarations(apps: RawApp[]): Declaration[] {
  const names = [...new Set(apps.map((app) => app.name))];
  return names.flatMap((name): Declaration[] => {
    const instances = apps.filter((app) => app.name === name);
    // PM2 launches every instance of an app with the same env.
    const first = instances[0] as RawApp;
    try {
      const settings = guardSettingsOf(name, (variable) => envOf(first, variable));
      return settings ? [{ name, instances, settings }] : [];
    } catch (error) {
      if (!(error instanceof GuardSettingError)) throw error;
      return [{ name, instances, error: error.message }];
    }
  });
}

const online = (app: RawApp) => app.pm2_env.status === 'online' && app.pid > 0;

/** Each guarded app's row; `beats` holds the beat files read, by path. */
export function guardedApps(apps: RawApp[], beats: Record<string, BeatFile>, now: number): GuardedApp[] {
  const metrics = apps.find((app) => app.name === 'probe')?.pm2_env.axm_monitor ?? {};
  const declarations = guardDeclarations(apps);
  return declarations.map(({ name, instances, settings, error }) => {
    const file = settings ? beats[settings.heartbeat] : undefined;
    const beat = file?.beat ?? null;
    // The instance the probe judges: the beat's writer, else the first online one.
    const app = instances.find((instance) => online(instance) && instance.pid === beat?.pid) ?? instances.find(online) ?? (instances[0] as RawApp);
    const ageMs = beat && file?.mtimeMs != null ? Math.max(0, Math.round(now - file.mtimeMs)) : null;
    const foreign = beat !== null && !instances.some((instance) => online(instance) && instance.pid === beat.pid);
    // Judged only on a fresh beat of PM2's own instance: an old one is a hang, a foreign one no pulse of this app.
    const judged = beat && ageMs !== null && settings && !foreign && ageMs <= settings.hangMs;
    const verdict = metrics[`${name} is`]?.value;
    const heals = metrics[`${name} heals`]?.value;
    return {
      name,
      status: app.pm2_env.status,
      pid: online(app) ? app.pid : null,
      instances: instances.length,
      hangMs: settings?.hangMs ?? null,
      stallMs: settings?.stallMs ?? null,
      settingError: error ?? null,
      sharesBeatWith: declarations.filter((other) => other.name !== name && settings && other.settings?.heartbeat === settings.heartbeat).map((other) => other.name),
      beat: {
        path: settings?.heartbeat ?? null,
        ageMs,
        pid: beat?.pid ?? null,
        seq: beat?.seq ?? null,
        ready: beat?.ready ?? null,
        owedInMs: beat?.owedInMs ?? null,
        progressAgoMs: beat?.progressAgoMs ?? null,
        owedFromNowMs: beat && beat.owedInMs !== null && ageMs !== null ? Math.round(beat.owedInMs - ageMs) : null,
        idle: beat ? beat.owedInMs === null : null,
        held: beat?.held?.length ? beat.held.map((hold) => `${hold.on}: ${hold.why} (for ${Math.round(hold.forMs / 100) / 10} s)`).join('; ') : null,
        stalledMs: judged ? (overdueMs(beat, ageMs, settings.stallMs) ?? null) : null,
        foreign,
        problem: file?.problem ?? null,
      },
      // An app with a bad setting is not guarded: whatever the probe said of it before is stale.
      verdict: !error && typeof verdict === 'string' ? verdict : null,
      heals: !error && typeof heals === 'number' ? heals : null,
    };
  });
}
