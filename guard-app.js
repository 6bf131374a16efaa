// Puts an app of an ecosystem file under guard (README: "Guard any app"), so that a guarded app is
// still one readable object:
//
//   import { guarded } from './guard-app.js';
//   export const apps = [guarded({ name: 'worker', script: 'worker.mjs' }, { hangMs: 2000, stallMs: 2000 })];
//
// PM2 drops an app's unknown keys (a `guard: {…}` key never reaches pm2 jlist) and keeps its env,
// which reaches both the app and the probe: the settings travel there. Plain JavaScript, as
// ecosystem.config.js, which PM2 loads with require(); the probe validates the values and says a
// bad one in one line naming the app, so this helper only places them.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = import.meta.dirname;

/**
 * `app` with GUARD_HEARTBEAT, GUARD_HANG_MS and GUARD_STALL_MS merged into its env (the app's own
 * settings of those names, if any, give way). heartbeat: the file the app writes its beats to, an
 * absolute path, by default <STATE_DIR>/guard/<app name>.json, whose folder is made owner-only here,
 * when the ecosystem loads. hangMs, stallMs: whole milliseconds (the probe's defaults: 3000, and hangMs).
 *
 * @template {{ name?: string, env?: Record<string, string | number | boolean> }} App
 * @param {App} app
 * @param {{ hangMs?: number, stallMs?: number, heartbeat?: string }} [guard]
 * @returns {App & { env: Record<string, string | number | boolean> }}
 */
export function guarded(app, guard = {}) {
  if (typeof app?.name !== 'string' || !/^[\w.-]+$/.test(app.name)) {
    throw new Error(`guarded(app): expected an app with a name of letters, digits, '.', '_' or '-' (its beat file is named after it), got ${JSON.stringify(app?.name)}`);
  }
  const heartbeat = guard.heartbeat ?? defaultHeartbeat(app.name);
  /** @type {Record<string, string>} */
  const settings = { GUARD_HEARTBEAT: heartbeat };
  if (guard.hangMs !== undefined) settings.GUARD_HANG_MS = String(guard.hangMs);
  if (guard.stallMs !== undefined) settings.GUARD_STALL_MS = String(guard.stallMs);
  return { ...app, env: { ...app.env, ...settings } };
}

/** Where the beats of every guarded app go unless told otherwise: one folder, owner-only, beside the clock's state. */
export function guardDir(env = process.env) {
  return join(resolve(env.STATE_DIR ?? join(root, 'state')), 'guard');
}

/** @param {string} name */
function defaultHeartbeat(name) {
  const dir = guardDir();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Tightened only if it is this user's: another user's folder is not ours to change.
    const info = statSync(dir);
    if (process.platform !== 'win32' && info.uid === process.getuid?.() && (info.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch {
    // A read-only or full disk must not fail `pm2 start` of every app: the app makes the folder at
    // its first beat that can be written, and says until then that it cannot write.
  }
  return join(dir, `${name}.json`);
}
