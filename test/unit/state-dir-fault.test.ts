import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError } from '../../apps/shared/config.ts';
import { MachineFault, prepareStateDir, waitForStateDir } from '../../apps/shared/state-dir.ts';
import { waitFor } from '../../scripts/lib/wait.ts';

/**
 * A read-only file system under STATE_DIR is a fault of the machine, not a bad setting: waited out,
 * said once, and the clock carries on by itself once it passes. A real tmpfs, mounted read-only and
 * then read-write again (root only: elsewhere skipped, with the reason printed).
 */

const root = process.getuid?.() === 0 && process.platform === 'linux';
if (!root) console.log('  (skipped the read-only STATE_DIR tests: mounting a tmpfs needs root on Linux)');

const mount = (...args: string[]): void => void execFileSync('mount', args, { stdio: 'ignore' });

const ReadOnly = suite<{ dir: string; mounted: boolean }>('STATE_DIR on a read-only file system', { dir: '', mounted: false });

ReadOnly.before((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'estatus-ro-'));
  mount('-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', context.dir);
  context.mounted = true;
});

ReadOnly.after((context) => {
  if (context.mounted) execFileSync('umount', [context.dir], { stdio: 'ignore' });
  rmSync(context.dir, { recursive: true, force: true });
});

ReadOnly('prepareStateDir says EROFS is the machine\'s, not a bad setting (exit 78 is for good)', async ({ dir }) => {
  mount('-o', 'remount,ro', dir);
  try {
    await prepareStateDir(join(dir, 'state'));
    assert.unreachable('a read-only STATE_DIR was taken');
  } catch (error) {
    assert.instance(error, MachineFault);
    assert.not.instance(error, ConfigError);
    assert.is((error as MachineFault).code, 'EROFS');
  } finally {
    mount('-o', 'remount,rw', dir);
  }
});

ReadOnly('waitForStateDir waits it out, says so once, and goes on by itself once it is writable again', async ({ dir }) => {
  mount('-o', 'remount,ro', dir);
  const lines: string[] = [];
  const waited = waitForStateDir(join(dir, 'state2'), (line) => lines.push(line));
  let done = false;
  // Its failure is asserted below (await waited); here only whether it has ended, so that a rejection
  // can never go unhandled and end the run before after() unmounts the tmpfs.
  void waited.then(() => (done = true), () => (done = true));
  try {
    await waitFor('the fault to be said', () => lines.length > 0);
    // Three more tries of a second each, still read-only: nothing more said, still waiting.
    await waitFor('three more tries', () => false, 3_000).catch(() => {});
    assert.is(done, false, 'it went on while the disk was read-only');
  } finally {
    mount('-o', 'remount,rw', dir);
  }
  assert.is(await waited, true);
  assert.equal(lines, [
    `STATE_DIR=${JSON.stringify(join(dir, 'state2'))} cannot be written now (EROFS); waiting for that to pass, trying again every 1 s`,
    `STATE_DIR=${JSON.stringify(join(dir, 'state2'))} can be written again; starting`,
  ]);
});

ReadOnly('a bad setting is still one: ENOTDIR is a ConfigError, not waited on', async ({ dir }) => {
  execFileSync('touch', [join(dir, 'a-file')]);
  try {
    await waitForStateDir(join(dir, 'a-file', 'state'), () => assert.unreachable('waited on a bad setting'));
    assert.unreachable('a STATE_DIR under a file was taken');
  } catch (error) {
    assert.instance(error, ConfigError);
  }
});

if (root) ReadOnly.run();
