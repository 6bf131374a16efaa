import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ConfigError,
  PROJECT_ROOT,
  parseCluster,
  parseIntervals,
  parseSwitch,
  parseTicks,
  readClockConfig,
  resolveStateDir,
} from '../../apps/shared/config.ts';

/** Runs `fn`, which must throw a ConfigError, and returns that error. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, ConfigError);
    return error as ConfigError;
  }
  assert.unreachable('expected a ConfigError');
  throw new Error('unreachable');
}

/** The error names the variable, quotes the value, says what is expected, and is one line. */
function assertSaysWhy(error: ConfigError, variable: string, value: string): void {
  assert.is(error.variable, variable);
  assert.is(error.value, value);
  assert.is(error.name, 'ConfigError');
  assert.ok(error.message.startsWith(`${variable}=`), `names ${variable}: ${error.message}`);
  assert.ok(error.message.includes(JSON.stringify(value)), `quotes ${JSON.stringify(value)}: ${error.message}`);
  assert.ok(error.message.includes('expected'), `says what is expected: ${error.message}`);
  assert.not.ok(error.message.includes('\n'), `one line: ${JSON.stringify(error.message)}`);
}

const Defaults = suite('readClockConfig defaults');

Defaults('an empty environment gives 2 s and 4 s threads, 20 ticks, state/ in the project, no faults', () => {
  const config = readClockConfig({});
  assert.equal(config.intervalsMs, [2000, 4000]);
  assert.is(config.ticksPerRun, 20);
  assert.is(config.stateDir, join(PROJECT_ROOT, 'state'));
  assert.is(config.faults, false);
});

Defaults('every setting is read from the environment given', () => {
  const config = readClockConfig({
    CLOCK_INTERVALS: '0.2,0.4,1',
    CLOCK_TICKS: '5',
    STATE_DIR: '/tmp/estatus-state',
    CLOCK_FAULTS: '1',
  });
  assert.equal(config.intervalsMs, [200, 400, 1000]);
  assert.is(config.ticksPerRun, 5);
  assert.is(config.stateDir, '/tmp/estatus-state');
  assert.is(config.faults, true);
});

Defaults('the first bad setting throws', () => {
  const error = configError(() => readClockConfig({ CLOCK_TICKS: 'abc' }));
  assertSaysWhy(error, 'CLOCK_TICKS', 'abc');
});

Defaults.run();

// ---

const Intervals = suite('parseIntervals');

Intervals('unset gives the default 2,4', () => {
  assert.equal(parseIntervals(undefined), [2000, 4000]);
});

Intervals('decimal seconds become whole milliseconds', () => {
  assert.equal(parseIntervals('0.2,0.4'), [200, 400]);
  assert.equal(parseIntervals(' 1 , 2 '), [1000, 2000]);
  assert.equal(parseIntervals('.5'), [500]);
  assert.equal(parseIntervals('3'), [3000]);
  assert.equal(parseIntervals('1.'), [1000]);
  assert.equal(parseIntervals('0.01,86400'), [10, 86_400_000]);
});

for (const bad of ['0', '-1', 'abc', '', '   ', '1,,2', '1,abc', '1,', '0.001', '86401', '1e3', '0x10']) {
  Intervals(`rejects ${JSON.stringify(bad)}`, () => {
    assertSaysWhy(configError(() => parseIntervals(bad)), 'CLOCK_INTERVALS', bad);
  });
}

Intervals.run();

// ---

const Ticks = suite('parseTicks');

Ticks('unset gives the default 20', () => {
  assert.is(parseTicks(undefined), 20);
});

Ticks('a whole number, spaces around it allowed', () => {
  assert.is(parseTicks('1'), 1);
  assert.is(parseTicks(' 7 '), 7);
  assert.is(parseTicks('1000000'), 1_000_000);
});

for (const bad of ['0', '-1', 'abc', '', '1.5', '1e3', '1000001', '+3']) {
  Ticks(`rejects ${JSON.stringify(bad)}`, () => {
    assertSaysWhy(configError(() => parseTicks(bad)), 'CLOCK_TICKS', bad);
  });
}

Ticks.run();

// ---

const StateDir = suite('resolveStateDir');

StateDir('unset gives state/ in the project', () => {
  assert.is(resolveStateDir(undefined), join(PROJECT_ROOT, 'state'));
});

StateDir('an absolute path is kept, a relative one is taken from the project root', () => {
  assert.is(resolveStateDir('/var/tmp/clock'), '/var/tmp/clock');
  const relative = resolveStateDir('run/state');
  assert.ok(isAbsolute(relative));
  assert.is(relative, join(PROJECT_ROOT, 'run', 'state'));
});

for (const bad of ['', '  ']) {
  StateDir(`rejects ${JSON.stringify(bad)}`, () => {
    assertSaysWhy(configError(() => resolveStateDir(bad)), 'STATE_DIR', bad);
  });
}

StateDir.run();

// ---

const Switch = suite('parseSwitch');

Switch('unset, empty, 0 and false are off', () => {
  for (const off of [undefined, '', '0', 'false']) assert.is(parseSwitch('CLOCK_FAULTS', off), false, String(off));
});

Switch('1 and true are on', () => {
  assert.is(parseSwitch('CLOCK_FAULTS', '1'), true);
  assert.is(parseSwitch('CLOCK_FAULTS', 'true'), true);
});

for (const bad of ['yes', '2', 'TRUE']) {
  Switch(`rejects ${JSON.stringify(bad)}, naming the variable it was given`, () => {
    assertSaysWhy(configError(() => parseSwitch('CLOCK_FAULTS', bad)), 'CLOCK_FAULTS', bad);
  });
}

Switch.run();

// ---

const Cluster = suite('parseCluster (CLOCK_ETCD and its settings)');

Cluster('unset or empty CLOCK_ETCD: one host, no cluster, whatever else is set', () => {
  assert.is(parseCluster({}), undefined);
  assert.is(parseCluster({ CLOCK_ETCD: '  ', CLOCK_LEASE_S: 'abc' }), undefined);
  assert.is(readClockConfig({}).cluster, undefined);
});

Cluster('a list of http(s) URLs, with the cluster name, host and lease', () => {
  const config = parseCluster({ CLOCK_ETCD: 'http://10.1.0.11:2379, http://etcd.example:2379/', CLOCK_HOST: 'h1', CLOCK_CLUSTER: 'prod-clock', CLOCK_LEASE_S: '5' });
  assert.equal(config, { endpoints: ['http://10.1.0.11:2379', 'http://etcd.example:2379'], name: 'prod-clock', host: 'h1', leaseS: 5, tls: undefined });
  // https with no files: the system's roots.
  assert.equal(parseCluster({ CLOCK_ETCD: 'https://etcd.example:2379' })?.tls, { ca: undefined, cert: undefined, key: undefined });
  const defaults = parseCluster({ CLOCK_ETCD: 'http://10.1.0.11:2379' });
  assert.is(defaults?.name, 'estatus');
  assert.is(defaults?.leaseS, 2);
  assert.ok(defaults?.host);
});

for (const [variable, value] of [
  ['CLOCK_ETCD', '10.1.0.11:2379'],
  ['CLOCK_ETCD', 'http://10.1.0.11:2379,'],
  ['CLOCK_ETCD', 'ftp://10.1.0.11'],
  ['CLOCK_ETCD', 'http://10.1.0.11:2379/v3'],
  ['CLOCK_CLUSTER', 'a/b'],
  ['CLOCK_HOST', ''],
  ['CLOCK_LEASE_S', '1'],
  ['CLOCK_LEASE_S', '2.5'],
  ['CLOCK_LEASE_S', '61'],
  ['CLOCK_ETCD', 'http://10.1.0.11:2379,https://10.1.0.12:2379'],
  ['CLOCK_ETCD_CA', '/etc/hostname'],
] as const) {
  Cluster(`rejects ${variable}=${JSON.stringify(value)}, naming it`, () => {
    const env = { CLOCK_ETCD: 'http://10.1.0.11:2379', [variable]: value };
    assertSaysWhy(configError(() => parseCluster(env)), variable, value);
  });
}

Cluster('https: the CA and the client certificate read from PEM files; each bad one named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'estatus-etcd-tls-'));
  try {
    const pem = (kind: string): string => `-----BEGIN ${kind}-----\nAAAA\n-----END ${kind}-----\n`;
    writeFileSync(join(dir, 'ca.pem'), pem('CERTIFICATE'));
    writeFileSync(join(dir, 'client.pem'), pem('CERTIFICATE'));
    writeFileSync(join(dir, 'client-key.pem'), pem('PRIVATE KEY'));
    const https = { CLOCK_ETCD: 'https://10.1.0.11:2379' };
    const tls = parseCluster({ ...https, CLOCK_ETCD_CA: join(dir, 'ca.pem'), CLOCK_ETCD_CERT: join(dir, 'client.pem'), CLOCK_ETCD_KEY: join(dir, 'client-key.pem') })?.tls;
    assert.is(tls?.ca?.toString(), pem('CERTIFICATE'));
    assert.is(tls?.key?.toString(), pem('PRIVATE KEY'));
    // Over http the files mean nothing: said, not ignored.
    assertSaysWhy(configError(() => parseCluster({ CLOCK_ETCD: 'http://10.1.0.11:2379', CLOCK_ETCD_CA: join(dir, 'ca.pem') })), 'CLOCK_ETCD_CA', join(dir, 'ca.pem'));
    assertSaysWhy(configError(() => parseCluster({ ...https, CLOCK_ETCD_CERT: join(dir, 'client.pem') })), 'CLOCK_ETCD_KEY', '');
    assertSaysWhy(configError(() => parseCluster({ ...https, CLOCK_ETCD_CA: join(dir, 'missing.pem') })), 'CLOCK_ETCD_CA', join(dir, 'missing.pem'));
    assertSaysWhy(configError(() => parseCluster({ ...https, CLOCK_ETCD_CERT: join(dir, 'client.pem'), CLOCK_ETCD_KEY: join(dir, 'client.pem') })), 'CLOCK_ETCD_KEY', join(dir, 'client.pem'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Cluster.run();
