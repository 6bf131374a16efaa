import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/**
 * What a test runs as another user (nobody) must be readable by that user, wherever the checkout
 * sits: a clone under a 0700 folder (`mktemp -d`, /root) is not. So the files that user runs are
 * staged in a folder of their own that anyone may read, and checked before the test relies on them.
 */
export const NOBODY = 65534;

/** The setpriv arguments that run a command as `uid` (same group id, no supplementary groups). */
export function asUser(uid: number): string[] {
  return [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
}

/** Whether `uid` can read `path` (and so enter every folder above it), as the kernel decides for that user. */
export function canRead(uid: number, path: string): boolean {
  try {
    execFileSync('setpriv', [...asUser(uid), 'test', '-r', path], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export interface Staged {
  dir: string;
  /** Where `source` (one of the staged paths, by its base name) now is. */
  path(source: string): string;
  remove(): Promise<void>;
}

/**
 * Copies `sources` (files or folders) into a fresh world-readable folder under the temporary
 * directory. `filter` may leave parts of a folder out. The copies are owned by this user, readable
 * by all (the umask permitting), and removed by `remove`.
 */
export async function stageReadable(sources: string[], filter?: (source: string) => boolean): Promise<Staged> {
  const dir = await mkdtemp(join(tmpdir(), 'estatus-readable-'));
  await chmod(dir, 0o755);
  for (const source of sources) {
    await cp(source, join(dir, basename(source)), { recursive: true, verbatimSymlinks: true, ...(filter ? { filter } : {}) });
  }
  return { dir, path: (source) => join(dir, basename(source)), remove: () => rm(dir, { recursive: true, force: true }) };
}
