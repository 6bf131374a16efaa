import { posix } from 'node:path';

/**
 * A Linux path as Windows programs under wine see it: wine maps the whole file system to drive Z:.
 * Anything that is not an absolute Linux path (a Windows path, a relative path, a URL) is returned
 * as it was.
 */
export function toWindowsPath(path: string): string {
  if (!path.startsWith('/')) return path;
  return `Z:${posix.normalize(path).replaceAll('/', '\\')}`;
}
