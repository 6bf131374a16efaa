import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT } from '../../apps/shared/exit-codes.ts';
import { ticksOf } from '../helpers/clock-log.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

type Context = { sandbox: Sandbox };

async function exitOf(child: ReturnType<Sandbox['spawnClock']>): Promise<number | null> {
  return child.exitCode ?? new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

// ---

const BadConfig = suite<Context>('bad configuration', {} as Context);

BadConfig.before(async (context) => {
  context.sandbox = await createSandbox();
});
BadConfig.after(async ({ sandbox }) => sandbox.cleanup());

const badValues: [string, string][] = [
  ['CLOCK_INTERVALS', '0'],
  ['CLOCK_INTERVALS', '-1'],
  ['CLOCK_INTERVALS', 'abc'],
  ['CLOCK_INTERVALS', ''],
  ['CLOCK_TICKS', '0'],
  ['CLOCK_TICKS', 'abc'],
  ['CLOCK_ETCD', 'etcd1:2379'],
  ['CLOCK_ETCD', 'http://10.0.0.1:2379,ftp://10.0.0.2'],
  ['CLOCK_LEASE_S', '1'],
];

for (const [variable, value] of badValues) {
  BadConfig(`${variable}=${JSON.stringify(value)}: one line naming it, exit ${EXIT.config}`, async ({ sandbox }) => {
    // CLOCK_LEASE_S is read only in cluster mode: a good CLOCK_ETCD goes with it.
    const clusterMode = variable === 'CLOCK_LEASE_S' ? { CLOCK_ETCD: 'http://10.0.0.1:2379' } : {};
    const clock = sandbox.spawnClock({ ...clusterMode, [variable]: value });
    assert.is(await exitOf(clock), EXIT.config);
    const lines = clock.output().trimEnd().split('\n');
    assert.is(lines.length, 1, clock.output());
    assert.match(lines[0] ?? '', `${variable}=${JSON.stringify(value)} is not valid: expected `);
  });
}

BadConfig(`an unwritable STATE_DIR: one line naming it, exit ${EXIT.config}`, async ({ sandbox }) => {
  const file = join(sandbox.dir, 'a-file');
  await writeFile(file, '');
  const clock = sandbox.spawnClock({ STATE_DIR: join(file, 'state') });
  assert.is(await exitOf(clock), EXIT.config);
  assert.match(clock.output(), /^clock: STATE_DIR=".*a-file\/state" is not valid: expected a directory .*\(ENOTDIR\)\n$/);
});

BadConfig('under PM2, a bad setting stops the clock instead of restarting it', async ({ sandbox }) => {
  // ecosystem.config.js reads the settings from the environment of `pm2 start`.
  await sandbox.pm2With({ CLOCK_TICKS: 'abc' }, 'start', ECOSYSTEM, '--only', 'clock');
  const clock = await waitFor('PM2 to mark the clock stopped', async () =>
    (await sandbox.list()).find((p) => p.name === 'clock' && p.status === 'stopped'),
  );
  assert.is(clock.restarts, 0);
  assert.is(clock.exitCode, EXIT.config);
  assert.is(await sandbox.errLog(), 'clock: CLOCK_TICKS="abc" is not valid: expected a whole number of ticks per run from 1 to 1000000, e.g. CLOCK_TICKS=20\n');
});

BadConfig.run();

// ---

const BadState = suite<Context>('a damaged checkpoint', {} as Context);

BadState.before(async (context) => {
  context.sandbox = await createSandbox();
});
BadState.after(async ({ sandbox }) => sandbox.cleanup());

BadState('is moved aside, never deleted, and the clock starts a fresh run', async ({ sandbox }) => {
  await mkdir(sandbox.stateDir, { recursive: true, mode: 0o700 });
  const damaged = '{"version":1,"run":7,"runStartedAt":17';
  await writeFile(join(sandbox.stateDir, 'checkpoint.json'), damaged);
  const clock = sandbox.spawnClock();
  await waitFor('ticks', () => ticksOf(clock.output()).length >= 2);
  assert.match(clock.output(), /clock: the checkpoint was damaged \(not JSON \(truncated\?\)\); moved it aside to .*checkpoint\.json\.damaged-.*; starting a fresh run 1\n/);
  const aside = (await readdir(sandbox.stateDir)).filter((name) => name.startsWith('checkpoint.json.damaged-'));
  assert.is(aside.length, 1);
  assert.is(await readFile(join(sandbox.stateDir, aside[0] ?? ''), 'utf8'), damaged);
  assert.is(ticksOf(clock.output())[0]?.run, 1);
  clock.kill('SIGTERM');
  assert.is(await exitOf(clock), 0);
  assert.ok(existsSync(join(sandbox.stateDir, 'checkpoint.json')));
});

BadState('a FIFO at its name (a plain read waits for a writer for ever): moved aside, said, and the clock ticks a fresh run 1', async ({ sandbox }) => {
  await rm(sandbox.stateDir, { recursive: true, force: true });
  await mkdir(sandbox.stateDir, { recursive: true, mode: 0o700 });
  execFileSync('mkfifo', ['-m', '600', join(sandbox.stateDir, 'checkpoint.json')]);
  const clock = sandbox.spawnClock();
  await waitFor('a tick, the start not blocked on the FIFO', () => ticksOf(clock.output()).length >= 1, 10_000);
  assert.match(clock.output(), /clock: the checkpoint was damaged \(not a regular file: a FIFO \(named pipe\)\); moved it aside to .*checkpoint\.json\.damaged-[^;]*; starting a fresh run 1\n/);
  const aside = (await readdir(sandbox.stateDir)).filter((name) => name.startsWith('checkpoint.json.damaged-'));
  assert.is(aside.length, 1);
  assert.ok((await lstat(join(sandbox.stateDir, aside[0] ?? ''))).isFIFO(), 'the FIFO itself was moved aside');
  assert.is(ticksOf(clock.output())[0]?.run, 1);
  assert.not.match(clock.output(), /\n\s+at /, 'no stack trace');
  clock.kill('SIGTERM');
  assert.is(await exitOf(clock), 0);
  assert.ok((await lstat(join(sandbox.stateDir, 'checkpoint.json'))).isFile(), 'a real checkpoint took its place');
});

BadState.run();
