import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A PM2 log as a whole: the copies pm2-logrotate rotated out beside it (<name>__<time>.log, e.g.
 * clock.out__2026-11-27_00-00-00.log), oldest first, then the live file. `name` is the log's file
 * name without .log, e.g. clock.out.
 */
export async function readWholeLog(logDir: string, name: string): Promise<string> {
  const rotated = (await readdir(logDir).catch(() => [] as string[])).filter((file) => file.startsWith(`${name}__`) && file.endsWith('.log'));
  const dated = await Promise.all(rotated.map(async (file) => ({ file, mtime: (await stat(join(logDir, file))).mtimeMs })));
  // By time of rotation; the name (its time, to the second) breaks a tie.
  dated.sort((a, b) => a.mtime - b.mtime || a.file.localeCompare(b.file));
  const parts = await Promise.all([...dated.map(({ file }) => file), `${name}.log`].map((file) => readFile(join(logDir, file), 'utf8').catch(() => '')));
  return parts.map((text) => (text === '' || text.endsWith('\n') ? text : `${text}\n`)).join('');
}

/** The bytes of a log file written since `offset` (all of it, should it have been rotated and emptied since). */
export async function readSince(path: string, offset: number): Promise<string> {
  const data = await readFile(path).catch(() => Buffer.alloc(0));
  return data.subarray(data.length < offset ? 0 : offset).toString('utf8');
}

export async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => ({ size: 0 }))).size;
}
