import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { planCommand } from '../../scripts/windows/command.ts';
import { windowsEnv, wineSettings } from '../../scripts/windows/env.ts';
import { byVersionDescending } from '../../scripts/windows/npm-registry.ts';
import { toWindowsPath } from '../../scripts/windows/windows-path.ts';
import { parseJlist } from '../../scripts/lib/pm2-sandbox.ts';

// npm run windows: its pure parts (path translation, the environment, command planning).

const Paths = suite('toWindowsPath');

Paths('an absolute Linux path is the same path on drive Z:', () => {
  assert.is(toWindowsPath('/tmp/x'), 'Z:\\tmp\\x');
  assert.is(toWindowsPath('/tmp/estatus-test-a/pm2'), 'Z:\\tmp\\estatus-test-a\\pm2');
  assert.is(toWindowsPath('/'), 'Z:\\');
});

Paths('a messy absolute path is normalised first', () => {
  assert.is(toWindowsPath('/tmp//a/./b/../c/'), 'Z:\\tmp\\a\\c\\');
});

Paths('anything else is left as it was', () => {
  for (const value of ['C:\\x', 'Z:\\tmp\\x', 'relative/dir', 'state', 'http://127.0.0.1:2379', '', '0.2,0.4']) {
    assert.is(toWindowsPath(value), value);
  }
});

Paths.run();

// ---

const Env = suite('windowsEnv');

const exists = (existing: string[]) => (path: string) => existing.includes(path);

Env('PM2_HOME, STATE_DIR, LOG_DIR and the etcd certificate settings become Windows paths, existing or not', () => {
  const env = windowsEnv(
    { PM2_HOME: '/tmp/t/pm2', STATE_DIR: '/tmp/t/state', LOG_DIR: '/tmp/t/logs', CLOCK_ETCD_CA: '/c/ca.pem', CLOCK_ETCD_CERT: '/c/cert.pem', CLOCK_ETCD_KEY: '/c/key.pem' },
    exists([]),
  );
  assert.equal(env, {
    PM2_HOME: 'Z:\\tmp\\t\\pm2',
    STATE_DIR: 'Z:\\tmp\\t\\state',
    LOG_DIR: 'Z:\\tmp\\t\\logs',
    CLOCK_ETCD_CA: 'Z:\\c\\ca.pem',
    CLOCK_ETCD_CERT: 'Z:\\c\\cert.pem',
    CLOCK_ETCD_KEY: 'Z:\\c\\key.pem',
  });
});

Env('a CLOCK_* / PROBE_* value becomes a Windows path only when it is an existing absolute path', () => {
  const env = windowsEnv(
    { CLOCK_SOMETHING: '/tmp/there', PROBE_SOMETHING: '/tmp/not-there', CLOCK_INTERVALS: '0.2,0.4', PROBE_PERIOD_MS: '500', CLOCK_ETCD: 'http://10.0.0.1:2379' },
    exists(['/tmp/there']),
  );
  assert.is(env.CLOCK_SOMETHING, 'Z:\\tmp\\there');
  assert.is(env.PROBE_SOMETHING, '/tmp/not-there');
  assert.is(env.CLOCK_INTERVALS, '0.2,0.4');
  assert.is(env.PROBE_PERIOD_MS, '500');
  assert.is(env.CLOCK_ETCD, 'http://10.0.0.1:2379');
});

Env('every other variable passes through unchanged, even one that holds a path; undefined ones are dropped', () => {
  const env = windowsEnv({ HOME: '/root', PATH: '/usr/bin:/bin', OTHER_DIR: '/tmp', EMPTY: undefined, STATE_DIR: 'relative' }, exists(['/root', '/tmp']));
  assert.equal(env, { HOME: '/root', PATH: '/usr/bin:/bin', OTHER_DIR: '/tmp', STATE_DIR: 'relative' });
});

Env('wineSettings: the prefix, debug output off unless the user chose some, Node allowed on wine', () => {
  assert.equal(wineSettings('/p', {}), { WINEPREFIX: '/p', WINEDEBUG: '-all', NODE_SKIP_PLATFORM_CHECK: '1' });
  assert.is(wineSettings('/p', { WINEDEBUG: 'err+all' }).WINEDEBUG, 'err+all');
});

Env.run();

// ---

const Plan = suite('planCommand');

const where = { nodeExe: '/work/p/.windows/node-v20.20.2/bin/node.exe', root: '/work/p' };

Plan('pm2 and pm2-runtime: the project\'s own pm2 scripts, run by Windows Node', () => {
  assert.equal(planCommand(['pm2', 'start', 'ecosystem.config.js'], where), {
    file: 'wine',
    args: [where.nodeExe, 'Z:\\work\\p\\node_modules\\pm2\\bin\\pm2', 'start', 'ecosystem.config.js'],
  });
  assert.equal(planCommand(['pm2-runtime', 'ecosystem.config.js'], where), {
    file: 'wine',
    args: [where.nodeExe, 'Z:\\work\\p\\node_modules\\pm2\\bin\\pm2-runtime', 'ecosystem.config.js'],
  });
});

Plan('node: Windows Node with the arguments as given', () => {
  assert.equal(planCommand(['node', '-e', 'console.log(1)'], where), { file: 'wine', args: [where.nodeExe, '-e', 'console.log(1)'] });
});

Plan('taskkill and any other word: a Windows program through wine; switches are not taken for paths', () => {
  assert.equal(planCommand(['taskkill', '/F', '/PID', '42'], where), { file: 'wine', args: ['taskkill', '/F', '/PID', '42'] });
  assert.equal(planCommand(['cmd', '/c', 'echo', 'hi'], where), { file: 'wine', args: ['cmd', '/c', 'echo', 'hi'] });
});

Plan('no command: nothing to plan (a usage error)', () => {
  assert.is(planCommand([], where), undefined);
  assert.is(planCommand([''], where), undefined);
});

Plan.run();

// ---

const Versions = suite('byVersionDescending');

Versions('numeric, not textual, highest first (npm view lists in publication order)', () => {
  assert.equal(['20.18.1', '20.9.0', '20.20.2', '20.18.0', '20.20.0'].sort(byVersionDescending), ['20.20.2', '20.20.0', '20.18.1', '20.18.0', '20.9.0']);
});

Versions.run();

// ---

const Jlist = suite('parseJlist');

Jlist('the list after PM2\'s banner (a jlist that also started the daemon), Windows pids as they are', () => {
  const raw = [{ name: 'plain', pm_id: 0, pid: 384, pm2_env: { status: 'online', restart_time: 1, exit_code: 1 } }];
  const stdout = `\n   PM2 banner [with brackets]\n\u001b[32m[PM2] \u001b[39mPM2 Successfully daemonized\n${JSON.stringify(raw)}\n`;
  assert.equal(parseJlist(stdout), [{ name: 'plain', pmId: 0, pid: 384, status: 'online', restarts: 1, exitCode: 1, metrics: {} }]);
});

Jlist('an empty list, and output that holds no list at all', () => {
  assert.equal(parseJlist('[]\n'), []);
  assert.throws(() => parseJlist('[PM2] Spawning PM2 daemon\n'), /printed no list/);
});

Jlist.run();
