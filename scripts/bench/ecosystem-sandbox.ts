import { cleanUpOnInterrupt } from '../lib/interrupt.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../lib/pm2-sandbox.ts';

/**
 * Runs `work` on the ecosystem file's apps (clock + probe), started under a PM2 daemon of their own
 * (createSandbox: its own PM2_HOME, state and logs, the clock at test speed, then `settings`), and
 * removes that daemon afterwards however `work` ends, on Ctrl-C or SIGTERM too (call
 * watchInterrupts(…, 'exit') first): a bench that measures one case leaves nothing running.
 *
 * `beforeCleanup`: what the bench itself did that would hold the daemon's end up (a probe it stopped
 * with SIGSTOP is not ended by `pm2 kill` before its kill_timeout), undone first.
 */
export async function withEcosystem<T>(
  settings: NodeJS.ProcessEnv,
  work: (sandbox: Sandbox) => Promise<T>,
  { beforeCleanup }: { beforeCleanup?: () => void } = {},
): Promise<T> {
  const sandbox = await createSandbox(settings);
  const cleanUp = cleanUpOnInterrupt(async () => {
    beforeCleanup?.();
    await sandbox.cleanup();
  });
  try {
    await sandbox.pm2('start', ECOSYSTEM);
    return await work(sandbox);
  } finally {
    await cleanUp();
  }
}
