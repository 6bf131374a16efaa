import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createWindowsSandbox, windowsAvailability, type WindowsSandbox } from '../../scripts/lib/windows-sandbox.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { toWindowsPath } from '../../scripts/windows/windows-path.ts';

// The Windows sandbox itself (scripts/lib/windows-sandbox.ts), on a plain script, not the clock:
// PM2 run by Windows Node under wine, a taskkill, PM2's restart, the log read from Linux, cleanup.

const availability = await windowsAvailability();

const Runner = suite('the Windows sandbox (Windows Node under wine)', { sandbox: undefined as WindowsSandbox | undefined });

Runner.after.each(async (context) => {
  await context.sandbox?.cleanup();
  context.sandbox = undefined;
});

const PLAIN = `console.log('plain up ' + process.pid + ' ' + process.platform);\nsetInterval(() => {}, 1000);\n`;

Runner('a plain script under PM2: online, taskkilled, restarted with a new pid, its log read from Linux, all ended by cleanup', async (context) => {
  if (!availability.ok) return console.log(`  (skipped: ${availability.reason})`);
  const sandbox = (context.sandbox = await createWindowsSandbox());
  const script = join(sandbox.dir, 'plain.js');
  await writeFile(script, PLAIN);
  const log = (stream: string) => toWindowsPath(join(sandbox.logDir, `plain.${stream}.log`));
  await sandbox.pm2('start', toWindowsPath(script), '--name', 'plain', '--output', log('out'), '--error', log('err'));

  const first = await sandbox.onlinePid('plain');
  await waitFor('the first start\'s line in plain.out.log', async () => (await sandbox.outLog('plain')).includes(`plain up ${first} win32`), 30_000);

  await sandbox.taskkill(first);
  const second = await sandbox.onlinePid('plain', first);
  const after = (await sandbox.list()).find((p) => p.name === 'plain');
  assert.ok(after && after.restarts >= 1, `PM2 counts the restart: ${JSON.stringify(after)}`);
  await waitFor('the restart\'s line in plain.out.log', async () => (await sandbox.outLog('plain')).includes(`plain up ${second} win32`), 30_000);

  const { dir } = sandbox;
  await sandbox.cleanup();
  context.sandbox = undefined;
  assert.not.ok(existsSync(dir), 'the temporary directory (PM2_HOME, logs, the prefix) is gone');
});

Runner('spawnNode: a Windows node started by hand prints to its file, says its Windows pid, and ends by taskkill', async (context) => {
  if (!availability.ok) return console.log(`  (skipped: ${availability.reason})`);
  const sandbox = (context.sandbox = await createWindowsSandbox());
  const child = sandbox.spawnNode(['-e', `console.log('by hand ' + process.pid + ' ' + process.env.STATE_DIR); setInterval(() => {}, 1000)`]);
  const line = await waitFor('the hand-started node\'s line', () => /^by hand (\d+) (.*)$/m.exec(child.output()) ?? undefined, 30_000);
  const pid = await child.windowsPid();
  assert.is(Number(line[1]), pid, 'windowsPid() is the pid the process itself sees');
  assert.is(line[2], toWindowsPath(sandbox.stateDir), 'STATE_DIR reaches Windows Node as a Z:\\ path');
  assert.ok(await sandbox.isRunning(pid), 'isRunning: it runs');
  await sandbox.taskkill(pid);
  // Its exit code is wine's, not Windows': wine's taskkill /F ends a process with 0, Windows' with 1.
  await waitFor('the hand-started node (its Linux process) to end', () => child.exitCode !== null || child.signalCode !== null, 15_000);
  assert.not.ok(await sandbox.isRunning(pid), 'isRunning: taskkilled, it no longer runs');
});

Runner.run();
