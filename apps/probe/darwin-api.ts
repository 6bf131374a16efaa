import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';
import { KINFO_PROC_SIZE, VNODE_PATH_INFO_SIZE } from './darwin-structs.ts';
import type { DarwinSource } from './proc-table-darwin.ts';

// <sys/sysctl.h>, <sys/proc_info.h>
const CTL_KERN = 1;
const KERN_ARGMAX = 8;
const KERN_PROC = 14;
const KERN_PROC_ALL = 0;
const KERN_PROC_PID = 1;
const KERN_PROCARGS2 = 49;
const PROC_PIDVNODEPATHINFO = 9;
// Processes may start between asking the size and reading: room for this many more.
const SPARE_PROCS = 64;

/**
 * The raw answers of macOS's kernel, through koffi: sysctl(KERN_PROC…) and libproc's proc_pidinfo.
 * Parsing is in darwin-structs.ts, so that tests can feed recorded bytes instead (no Mac here).
 */
export function liveDarwinSource(): DarwinSource {
  let koffi: typeof Koffi;
  try {
    // Required, not imported: a bundle must not load the native module on a platform that never uses it.
    koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  } catch (error) {
    throw new Error(`koffi could not load its macOS binary (@koromix/koffi-darwin-${process.arch}): ${(error as Error).message.split('\n')[0]}; run \`npm install\` on this Mac`);
  }
  const libSystem = koffi.load('/usr/lib/libSystem.B.dylib');
  const sysctl = libSystem.func('int sysctl(int *name, uint32_t namelen, void *oldp, _Inout_ size_t *oldlenp, void *newp, size_t newlen)');
  const procPidinfo = libSystem.func('int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize)');

  /** sysctl into a buffer of `size` bytes (undefined: the size the kernel asks for); the bytes written. */
  const read = (mib: number[], size?: number): Buffer | undefined => {
    const name = Int32Array.from(mib);
    const length = [size ?? 0];
    if (size === undefined && sysctl(name, mib.length, null, length, null, 0) !== 0) return undefined;
    const buffer = Buffer.alloc(length[0] ?? 0);
    if (sysctl(name, mib.length, buffer, length, null, 0) !== 0) return undefined;
    return buffer.subarray(0, length[0]);
  };
  const argMax = read([CTL_KERN, KERN_ARGMAX], 4)?.readInt32LE() ?? 1 << 20;

  return {
    allProcs: () => {
      const sized = read([CTL_KERN, KERN_PROC, KERN_PROC_ALL]);
      return sized && read([CTL_KERN, KERN_PROC, KERN_PROC_ALL], sized.length + SPARE_PROCS * KINFO_PROC_SIZE);
    },
    // A pid that does not exist answers with 0 bytes, not an error.
    proc: (pid) => read([CTL_KERN, KERN_PROC, KERN_PROC_PID, pid], KINFO_PROC_SIZE),
    procArgs: (pid) => read([CTL_KERN, KERN_PROCARGS2, pid], argMax),
    vnodePathInfo: (pid) => {
      const buffer = Buffer.alloc(VNODE_PATH_INFO_SIZE);
      return procPidinfo(pid, PROC_PIDVNODEPATHINFO, 0, buffer, buffer.length) === buffer.length ? buffer : undefined;
    },
    uid: () => process.getuid?.() ?? -1,
  };
}
