// Compiles apps/ to dist/ when any source is newer than the last build, so that what PM2 runs is never
// stale. Plain JavaScript because ecosystem.config.js (loaded by PM2 with require) runs it.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** @param {string} root the project's root */
export function buildIfStale(root) {
  const stamp = join(root, 'dist', '.built');
  const builtAt = mtimeOf(stamp);
  const newest = Math.max(newestSource(join(root, 'apps')), mtimeOf(join(root, 'tsconfig.json')) ?? 0);
  if (builtAt !== undefined && newest <= builtAt) return;
  execFileSync(process.execPath, [join(root, 'scripts', 'build.js')], { cwd: root, stdio: 'inherit' });
}

/** @param {string} path */
function mtimeOf(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** @param {string} dir @returns {number} */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json')) newest = Math.max(newest, mtimeOf(path) ?? 0);
  }
  return newest;
}
