import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';

/**
 * Runs a TypeScript entry under Windows Node in wine, from Linux, until `npm run windows` does it
 * for tests: bundled first (tsx's esbuild under Windows Node wants its Windows binary), packages
 * left as installed (koffi finds its Windows build in node_modules), output to a file (a pipe to
 * Windows Node's stdout fails under wine with EBADF).
 */
export interface Wine {
  nodeExe: string;
  prefix: string;
}

const WINDOWS_DIR = join(PROJECT_ROOT, '.windows');
const OUT_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'estatus-wine');

/** wine and Windows Node, or why they cannot be had here. */
export function findWine(): Wine | string {
  if (process.platform !== 'linux') return `wine runs Windows Node from Linux; this is ${process.platform}`;
  if (spawnSync('wine', ['--version'], { stdio: 'ignore' }).status !== 0) return 'wine is not installed (npm run windows installs it as root)';
  const nodeExe = process.env.ESTATUS_WINDOWS_NODE ?? newestWindowsNode();
  if (!nodeExe || !existsSync(nodeExe)) return 'no Windows Node in .windows/ (npm run windows fetches it), and ESTATUS_WINDOWS_NODE is not set';
  const prefix = process.env.WINEPREFIX ?? join(WINDOWS_DIR, 'prefix');
  if (!existsSync(prefix)) return `no wine prefix at ${prefix} (npm run windows makes one)`;
  if (!existsSync(join(PROJECT_ROOT, 'node_modules', '@koromix', `koffi-win32-x64`))) return 'koffi\'s Windows binary is not installed (npm run windows installs it)';
  return { nodeExe, prefix };
}

function newestWindowsNode(): string | undefined {
  if (!existsSync(WINDOWS_DIR)) return undefined;
  const major = process.versions.node.split('.')[0];
  const name = readdirSync(WINDOWS_DIR).filter((entry) => entry.startsWith(`node-v${major}.`)).sort().at(-1);
  return name && join(WINDOWS_DIR, name, 'bin', 'node.exe');
}

export const windowsPath = (path: string): string => `Z:${path.replaceAll('/', '\\')}`;

/** Bundles `entry` and runs it under Windows Node; its exit code and everything it printed. */
export async function runUnderWine(wine: Wine, entry: string, args: string[] = [], timeoutMs = 120_000): Promise<{ code: number | null; output: string }> {
  mkdirSync(OUT_DIR, { recursive: true });
  const name = entry.split('/').at(-1)?.replace(/\.ts$/, '') ?? 'entry';
  const bundle = join(OUT_DIR, `${name}.mjs`);
  await build({ entryPoints: [entry], outfile: bundle, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
  const outputFile = join(OUT_DIR, `${name}.${process.pid}.out`);
  const fd = openSync(outputFile, 'w');
  const child = spawn('wine', [wine.nodeExe, windowsPath(bundle), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, WINEPREFIX: wine.prefix, WINEDEBUG: '-all', NODE_SKIP_PLATFORM_CHECK: '1' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output: readFileSync(outputFile, 'utf8') };
}
