import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { runWindows } from '../../scripts/windows/run.ts';
import { prepareWindows } from '../../scripts/windows/setup.ts';
import { toWindowsPath } from '../../scripts/windows/windows-path.ts';

/**
 * Runs a TypeScript entry under Windows Node in wine, through `npm run windows`'s runner: bundled
 * first (tsx's esbuild under Windows Node wants its own Windows binary), packages left as installed
 * (koffi finds its Windows build in node_modules).
 */

const OUT_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'estatus-wine');

/** Bundles `entry` and runs it under Windows Node; its exit code and everything it printed. */
export async function runUnderWine(entry: string, args: string[] = [], timeoutMs = 120_000): Promise<{ code: number; output: string }> {
  mkdirSync(OUT_DIR, { recursive: true });
  const name = entry.split('/').at(-1)?.replace(/\.ts$/, '') ?? 'entry';
  const bundle = join(OUT_DIR, `${name}.mjs`);
  await build({ entryPoints: [entry], outfile: bundle, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
  const setup = await prepareWindows((line) => process.stderr.write(`${line}\n`));
  const { code, stdout, stderr } = await runWindows(setup, ['node', toWindowsPath(bundle), ...args], { timeoutMs });
  return { code, output: stdout + stderr };
}
