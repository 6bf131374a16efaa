import { ensureNativeBuilds } from './native-builds.ts';
import { choosePrefix } from './places.ts';
import { ensurePrefix } from './prefix.ts';
import { ensureWindowsNode } from './windows-node.ts';
import { ensureWine } from './wine.ts';

/** What a run needs, once made sure of: Windows Node's node.exe and a ready wine prefix. */
export interface WindowsSetup {
  nodeExe: string;
  /** WINEPREFIX when set, else the project's own (.windows/prefix). */
  prefix: string;
}

let preparing: Promise<WindowsSetup> | undefined;

/**
 * Makes sure of wine, Windows Node, the Windows builds of native dependencies and the prefix, in
 * that order (each later one needs the earlier), once per process; says each thing it fetches or
 * creates in one line through `say`. Fails with a WindowsUnavailable that says why.
 */
export function prepareWindows(say: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<WindowsSetup> {
  preparing ??= (async () => {
    await ensureWine(say);
    const nodeExe = await ensureWindowsNode(say);
    await ensureNativeBuilds(say);
    const prefix = choosePrefix(env);
    await ensurePrefix(prefix, env, say);
    return { nodeExe, prefix };
  })();
  preparing.catch(() => (preparing = undefined));
  return preparing;
}
