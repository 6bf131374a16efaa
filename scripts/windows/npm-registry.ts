import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const NPM_TIMEOUT_MS = 120_000;

/**
 * Runs npm from the PATH: its registry, proxy and cache settings are the user's own. One retry, not
 * npm's default two with back-off: an unreachable registry is then said in ~10 s, not ~70 s.
 */
function npm(args: string[], cwd: string): Promise<string> {
  const options = ['--fetch-retries=1', '--fetch-retry-mintimeout=2000', '--fetch-retry-maxtimeout=5000'];
  return new Promise((resolve, reject) => {
    execFile('npm', [...args, ...options], { cwd, timeout: NPM_TIMEOUT_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      reject(new Error(`npm ${args.join(' ')}: ${npmReason(stderr) ?? `exit code ${String(error.code)}`}`));
    });
  });
}

/** npm's own line for what went wrong (the fetch's reason, the 404), not its stack or log path. */
function npmReason(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .filter((line) => line.startsWith('npm error ') && !/^npm error +at |complete log/.test(line))
    .map((line) => line.slice('npm error '.length).trim());
  return lines.find((line) => /reason:|No match found/.test(line)) ?? lines[0];
}

/** The published versions of `spec` (`name@range`), as npm view lists them. */
export async function publishedVersions(spec: string, cwd: string): Promise<string[]> {
  const listed = JSON.parse(await npm(['view', spec, 'version', '--json'], cwd)) as string | string[];
  return Array.isArray(listed) ? listed : [listed];
}

/**
 * Fetches the tarball of `spec` (npm pack, through npm's cache) and unpacks its `package/` folder
 * as `into`, which must not exist yet. Not npm install: it refuses a package made for another OS.
 * Unpacked beside `into` and renamed into place, so that a run cut short (or two at once) never
 * leaves a half-unpacked package where the next run would take it for a whole one.
 */
export async function unpackPackage(spec: string, into: string): Promise<void> {
  const scratch = await mkdtemp(join(dirname(into), '.unpack-'));
  try {
    await npm(['pack', spec, '--pack-destination', scratch], scratch);
    const tarball = (await readdir(scratch)).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${spec} left no tarball in ${scratch}`);
    await run('tar', ['-xzf', join(scratch, tarball), '-C', scratch]);
    await rename(join(scratch, 'package'), into);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(file, args, (error, _stdout, stderr) => (error ? reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`)) : resolve())),
  );
}

/** Highest first, by numeric major.minor.patch (npm view lists versions in publication order). */
export function byVersionDescending(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split(/[.-]/).slice(0, 3).map(Number));
  for (let i = 0; i < 3; i++) {
    const diff = (y?.[i] ?? 0) - (x?.[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
