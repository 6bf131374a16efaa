import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { waitForBell } from '../../apps/clock/death-bell.ts';

// The death bell between real processes: a holder in a child, this process the waiter.
const HOLDER = join(import.meta.dirname, '..', 'fixtures', 'bell-holder.ts');

const Bell = suite('the death bell', { dir: '', child: undefined as ChildProcess | undefined });

Bell.before.each(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-bell-'));
});
Bell.after.each(async (context) => {
  context.child?.kill('SIGKILL');
  await rm(context.dir, { recursive: true, force: true });
});

/** Starts a holder of the bell at `path`; resolves once it holds it. */
async function startHolder(context: { child: ChildProcess | undefined }, path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  context.child = child;
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the bell holder exited with ${code}`)));
  });
  return child;
}

/** Whether `promise` settles within `ms`. */
const settlesWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

Bell('rings "died" when its holder is SIGKILLed, and not before', async (context) => {
  const path = join(context.dir, 'clock.bell.1');
  const holder = await startHolder(context, path);
  assert.is(((await stat(path)).mode & 0o777).toString(8), '600', 'the bell is owner-only');
  const rang = waitForBell(path);
  assert.ok(rang, 'the bell can be waited on');
  assert.is(await settlesWithin(rang, 300), false, 'it rang while its holder lived');
  holder.kill('SIGKILL');
  assert.is(await rang, true);
});

Bell('rings "let go" when its holder releases it, the holder still alive', async (context) => {
  const path = join(context.dir, 'clock.bell.2');
  const holder = await startHolder(context, path);
  const rang = waitForBell(path);
  assert.ok(rang);
  holder.kill('SIGUSR2');
  assert.is(await rang, false);
  assert.is(holder.exitCode, null, 'the holder lives on');
});

Bell('no such bell: nothing to wait on', async (context) => {
  assert.is(waitForBell(join(context.dir, 'clock.bell.3')), undefined);
});

Bell.run();
