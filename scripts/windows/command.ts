import { join } from 'node:path';
import { toWindowsPath } from './windows-path.ts';

/** What to run on the Linux side: always wine, with the Windows program and its arguments. */
export interface Plan {
  file: 'wine';
  args: string[];
}

export interface Where {
  /** Windows Node's node.exe (a Linux path: wine takes those for the program it starts). */
  nodeExe: string;
  /** The project's root: the project's own pm2 lives under it. */
  root: string;
}

/** The first words that name a script of the project's own pm2, run by Windows Node. */
const PM2_SCRIPTS: Record<string, string> = { pm2: 'pm2', 'pm2-runtime': 'pm2-runtime' };

/**
 * The first word decides: pm2 / pm2-runtime run the project's own pm2 under Windows Node (so that
 * CLI and daemon versions match, as on Linux); node is Windows Node; anything else (taskkill,
 * tasklist, cmd, …) is a Windows program wine finds by name. Arguments pass unchanged: `/F` and
 * `/PID` are Windows switches, not paths, and a Linux path given to Windows Node already resolves
 * on drive Z:, the current drive of the project's root.
 */
export function planCommand(words: readonly string[], where: Where): Plan | undefined {
  const [first, ...rest] = words;
  if (first === undefined || first === '') return undefined;
  const pm2Script = PM2_SCRIPTS[first];
  if (pm2Script) {
    const bin = toWindowsPath(join(where.root, 'node_modules', 'pm2', 'bin', pm2Script));
    return { file: 'wine', args: [where.nodeExe, bin, ...rest] };
  }
  if (first === 'node') return { file: 'wine', args: [where.nodeExe, ...rest] };
  return { file: 'wine', args: [first, ...rest] };
}
