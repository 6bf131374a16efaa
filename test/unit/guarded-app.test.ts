import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Pm2App } from '../../apps/probe/pm2-client.ts';
import { guardedAppOf } from '../../apps/probe/probe.ts';
import { GuardSettingError } from '../../apps/shared/guard-contract.ts';

/** Which PM2 apps the probe guards, and how it will know an instance of each (probe.ts guardedAppOf). */

const app = (env: Record<string, string>, more: Partial<Pm2App> = {}): Pm2App => ({
  name: 'worker',
  pmId: 3,
  pid: 42,
  status: 'online',
  launchedAt: 1,
  restarts: 0,
  env,
  execPath: '/srv/app/worker.mjs',
  cwd: '/srv/app',
  ...more,
});

const Guarded = suite('guardedAppOf');

Guarded('an app without GUARD_HEARTBEAT is left alone', () => {
  assert.is(guardedAppOf(app({ OTHER: '1' }), '0'), undefined);
  assert.is(guardedAppOf(app({ GUARD_HEARTBEAT: '' }), '0'), undefined);
});

Guarded('its settings, and its state named by GUARD_HEARTBEAT unless GUARD_STATE_ENV says which variable', () => {
  const plain = guardedAppOf(app({ GUARD_HEARTBEAT: '/srv/state/worker.json', GUARD_HANG_MS: '2000' }), '0');
  assert.equal(plain?.settings, { heartbeat: '/srv/state/worker.json', hangMs: 2000, stallMs: 2000 });
  assert.equal(plain?.identity.state, { env: 'GUARD_HEARTBEAT', path: '/srv/state/worker.json', base: '/srv/app' });
  const clock = guardedAppOf(app({ GUARD_HEARTBEAT: '/s/heartbeat.json', GUARD_STATE_ENV: 'STATE_DIR', STATE_DIR: 'state', GUARD_STATE_DEFAULT: '/srv/app/state' }), '0');
  assert.equal(clock?.identity.state, { env: 'STATE_DIR', path: '/srv/app/state', base: '/srv/app', fallback: '/srv/app/state' });
});

Guarded('a bad setting is one GuardSettingError naming the app, the setting, expected and given', () => {
  try {
    guardedAppOf(app({ GUARD_HEARTBEAT: '/s/w.json', GUARD_STALL_MS: 'soon' }), '0');
    assert.unreachable('a bad GUARD_STALL_MS was taken');
  } catch (error) {
    assert.instance(error, GuardSettingError);
    assert.match((error as Error).message, /^app worker: GUARD_STALL_MS="soon" is not valid: expected whole milliseconds/);
  }
  assert.throws(() => guardedAppOf(app({ GUARD_HEARTBEAT: 'relative.json' }), '0'), /GUARD_HEARTBEAT="relative.json" is not valid: expected an absolute path/);
  assert.throws(() => guardedAppOf(app({ GUARD_HEARTBEAT: '/s/w.json', GUARD_STATE_ENV: 'NOPE' }), '0'), /GUARD_STATE_ENV="NOPE"/);
});

Guarded('the image its processes have, for the scan: node for a script PM2 runs with node (Windows leaves exec_interpreter unset)', () => {
  const beat = { GUARD_HEARTBEAT: '/s/w.json' };
  assert.is(guardedAppOf(app(beat), '0')?.image, 'node');
  assert.is(guardedAppOf(app(beat, { execPath: 'Z:\\app\\main.js' }), '0')?.image, 'node');
  assert.is(guardedAppOf(app(beat, { interpreter: 'python3', execPath: '/srv/app/worker.py' }), '0')?.image, 'python3');
  assert.is(guardedAppOf(app(beat, { interpreter: 'none', execPath: '/srv/app/server' }), '0')?.image, 'server');
  assert.is(guardedAppOf(app(beat, { execPath: '/srv/app/run.sh' }), '0')?.image, undefined, 'unknown: every command line is read');
});

Guarded.run();
