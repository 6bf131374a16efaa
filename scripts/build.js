// `npm run build`: compiles apps/ into dist/ (what PM2 runs) from scratch, then stamps the build so
// that build-if-stale.js can tell when a source has changed since.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

// From scratch, so that a source deleted from apps/ leaves no compiled ghost behind.
rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'apps')], { cwd: root, stdio: 'inherit' });
} catch {
  console.error('build: tsc -p apps failed (errors above); dist/ was not built');
  process.exit(1);
}
mkdirSync(dist, { recursive: true });
writeFileSync(join(dist, '.built'), `${new Date().toISOString()}\n`);
