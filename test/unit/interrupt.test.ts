import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

// scripts/lib/interrupt.ts, in a real process sent real signals.
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'interruptible.ts');

const Interrupt = suite('watchInterrupts and cleanUpOnInterrupt', { dir: '' });

Interrupt.before.each(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-interrupt-'));
});
Interrupt.after.each(async (context) => rm(context.dir, { recursive: true, force: true }));

/** Runs the fixture, sends `signal` twice once it is ready (the second must not cut the cleanup short). */
async function interrupt(how: string, signal: NodeJS.Signals, marker: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, how, marker], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill(signal);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, stderr };
}

for (const [signal, code, word] of [['SIGINT', 130, 'interrupted'], ['SIGTERM', 143, 'terminated']] as const) {
  Interrupt(`'exit': ${signal} runs the registered cleanup once, then exits ${code}`, async ({ dir }) => {
    const marker = join(dir, 'marker');
    const run = await interrupt('exit', signal, marker);
    assert.is(run.code, code);
    assert.is(await readFile(marker, 'utf8'), 'cleaned up by the handler\n');
    assert.is(run.stderr, `\nfixture: ${word}; cleaning up\n`, 'one line, once, named for the program');
  });
}

Interrupt(`'unwind': the signal is aborted, and the script ends itself with the code`, async ({ dir }) => {
  const marker = join(dir, 'marker');
  const run = await interrupt('unwind', 'SIGTERM', marker);
  assert.is(run.code, 143);
  assert.is(await readFile(marker, 'utf8'), 'cleaned up by the script itself\n');
});

Interrupt.run();
