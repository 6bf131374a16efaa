import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';

/** The project's own pm2 (node_modules), so that CLI and daemon versions always match. */
export const PM2_BIN = join(PROJECT_ROOT, 'node_modules', 'pm2', 'bin', 'pm2');

export interface Pm2Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the pm2 CLI with `env` (PM2_HOME chooses the daemon) and returns what it said, whatever its exit code. */
export function pm2Cli(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 60_000): Promise<Pm2Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PM2_BIN, ...args], { env, cwd: PROJECT_ROOT, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The same, failing with what pm2 printed unless it exits 0. */
export async function pm2OrFail(env: NodeJS.ProcessEnv, args: string[], timeoutMs?: number): Promise<Pm2Result> {
  const result = await pm2Cli(env, args, timeoutMs);
  if (result.code !== 0) throw new Error(`pm2 ${args.join(' ')} exited with code ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}
