import { execFile } from 'node:child_process';
import { copyFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(file, args, (error, _stdout, stderr) => (error ? reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`)) : resolve())),
  );
}

/**
 * A prefix of its own, made from a ready one in ~0.03 s instead of wineboot's ~6 s: every file
 * hard-linked (the ~700 MB of DLLs under drive_c are only read), except the registry, which
 * wineserver writes while it runs and so is copied. Where hard links cannot be made (another file
 * system), a full copy (~1.4 s).
 */
export async function clonePrefix(from: string, to: string): Promise<void> {
  try {
    await run('cp', ['-al', from, to]);
  } catch {
    await rm(to, { recursive: true, force: true });
    await run('cp', ['-a', from, to]);
    return;
  }
  for (const name of await readdir(to)) {
    if (!name.endsWith('.reg')) continue;
    await rm(join(to, name));
    await copyFile(join(from, name), join(to, name));
  }
}
