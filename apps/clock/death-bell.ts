import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../shared/config.ts';

/**
 * The death bell: a hot standby's earliest notice that the active clock died (built from
 * native/death_bell.c by `npm install`, optional). The active holds a process-shared robust mutex,
 * in a file of the state directory, on its main thread; a waiting clock blocks on it on a thread of
 * its own. When the holder dies, however it dies, the kernel releases that mutex as its first step
 * of tearing the process down, before it frees its memory; the lock socket closes only after that,
 * ~5-7 ms later for a 70 MB clock here (perf: the dead clock's exit_mmap). The state lock's socket
 * stays the lock itself: the bell only says when to look.
 */
interface Addon {
  hold(path: string): object;
  release(handle: object): void;
  wait(path: string, callback: (died: boolean) => void): void;
}

export interface HeldBell {
  path: string;
  /** Unlocks it (a waiter hears the holder letting go) and removes its file. */
  release(): void;
}

let addon: Addon | null | undefined;

function load(): Addon | null {
  if (addon !== undefined) return addon;
  try {
    addon = createRequire(import.meta.url)(join(PROJECT_ROOT, 'build', 'Release', 'death_bell.node')) as Addon;
  } catch {
    addon = null; // Not built (no C compiler, not Linux): the lock socket alone tells of a death.
  }
  return addon;
}

/** Creates the bell at `path` (owner-only, a new file) and holds it; undefined without the addon. */
export function holdBell(path: string): HeldBell | undefined {
  const bell = load();
  if (!bell) return undefined;
  const handle = bell.hold(path);
  return {
    path,
    release() {
      bell.release(handle);
      // A waiter that has the bell open keeps it; one that comes later finds none and waits on the socket.
      rmSync(path, { force: true });
    },
  };
}

/**
 * Resolves when the holder of the bell at `path` dies (true) or lets go (false); undefined if the
 * bell cannot be waited on (no addon, no such bell).
 */
export function waitForBell(path: string): Promise<boolean> | undefined {
  const bell = load();
  if (!bell) return undefined;
  let ring: (died: boolean) => void = () => {};
  const rang = new Promise<boolean>((resolve) => (ring = resolve));
  try {
    bell.wait(path, ring);
  } catch {
    return undefined; // No such bell (its holder is gone already, or never rang one).
  }
  return rang;
}
