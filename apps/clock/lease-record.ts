import { readFileSync, rmSync } from 'node:fs';
import { writeFileWhole } from '../shared/atomic-write.ts';
import { moveAside } from '../shared/state-dir.ts';

/**
 * Cluster mode: the lease this host's leading clock holds, noted in the owner-only state directory,
 * so that the clock after it on this host (PM2's restart, or the hot standby taking over) can carry
 * on with the same lease rather than wait for etcd to end it. Only the holder of the state lock
 * reads it, and the lock is proof that the clock that wrote it has died: no other process anywhere
 * holds that lease, and whoever adopts it is the one clock of this host.
 */
export interface LeaseRecord {
  /** The lease a previous clock of this host led `cluster` with, if one was noted. */
  read(): { lease: string; holder: string } | undefined;
  /** Resolves once written (or failed, said): before the clock's sweep of half-written temp files. */
  write(lease: string, holder: string): Promise<void>;
  clear(): void;
}

export function leaseRecordAt(path: string, cluster: string, trouble: (line: string) => void): LeaseRecord {
  return {
    read() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
      try {
        const noted = JSON.parse(text) as { cluster?: unknown; lease?: unknown; holder?: unknown };
        if (typeof noted.lease !== 'string' || !/^\d+$/.test(noted.lease) || typeof noted.holder !== 'string') throw new Error('no lease and holder');
        return noted.cluster === cluster ? { lease: noted.lease, holder: noted.holder } : undefined;
      } catch (error) {
        // Nothing is lost by not adopting: the lease then ends at etcd by itself.
        void moveAside(path).then(
          (movedTo) => trouble(`the cluster lease record ${path} is damaged (${error instanceof Error ? error.message : String(error)}); moved aside to ${movedTo}`),
          () => {},
        );
        return undefined;
      }
    },
    write(lease, holder) {
      return writeFileWhole(path, `${JSON.stringify({ cluster, lease, holder })}\n`).catch((error: unknown) => trouble(`could not note the lease in ${path}: ${String(error)}`));
    },
    clear() {
      rmSync(path, { force: true });
    },
  };
}
