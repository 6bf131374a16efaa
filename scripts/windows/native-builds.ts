import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { WINDOWS_EXIT, WindowsUnavailable } from './exit-codes.ts';
import { unpackPackage } from './npm-registry.ts';

/**
 * Native dependencies whose Windows x64 build ships as a package of its own, which npm installs
 * only on Windows (and `npm install` of it here refuses the OS): dependency → that package.
 */
const WINDOWS_BUILDS: Record<string, string> = {
  koffi: '@koromix/koffi-win32-x64',
};

interface PackageJson {
  version: string;
}

function readPackage(dir: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/**
 * The Windows build of each installed native dependency, at the installed dependency's version (its
 * per-platform packages are published with it, at the same version),
 * unpacked into node_modules beside the Linux one (where the dependency looks for it). A build of
 * another version (the dependency was upgraded) is replaced.
 */
export async function ensureNativeBuilds(say: (line: string) => void, root = PROJECT_ROOT): Promise<void> {
  for (const [dependency, windowsPackage] of Object.entries(WINDOWS_BUILDS)) {
    const installed = readPackage(join(root, 'node_modules', dependency));
    if (!installed) continue;
    const version = installed.version;
    const target = join(root, 'node_modules', windowsPackage);
    const present = readPackage(target);
    if (present?.version === version) continue;
    say(`windows: fetching ${windowsPackage}@${version} (${dependency}'s Windows build, once) into node_modules`);
    try {
      if (present) await rm(target, { recursive: true, force: true });
      await mkdir(dirname(target), { recursive: true });
      await unpackPackage(`${windowsPackage}@${version}`, target);
    } catch (error) {
      if (readPackage(target)?.version === version) continue;
      throw new WindowsUnavailable(
        `windows: ${dependency}'s Windows build ${windowsPackage}@${version} cannot be had from the npm registry (${(error as Error).message}); run again with the registry reachable`,
        WINDOWS_EXIT.noNativeBuild,
      );
    }
  }
}
