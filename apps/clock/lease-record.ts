import { rmSync } from 'node:fs';
import { writeFileWhole } from '../shared/atomic-write.ts';
import { moveAside, removedNote } from '../shared/state-dir.ts';
import { readStateFileSync } from '../shared/state-file.ts';

// {"cluster":…,"lease":"7587881242","holder":"host:pid"}: ~100 bytes with a long host name.
const LEASE_RECORD_CAP_BYTES = 4 * 1024;

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
      let file: ReturnType<typeof readStateFileSync>;
      try {
        file = readStateFileSync(path, LEASE_RECORD_CAP_BYTES);
      } catch {
        // A fault of the machine (EIO, EMFILE): not adopting costs nothing, as below.
        return undefined;
      }
      if (file.kind === 'missing') return undefined;
      let damage: string;
      if (file.kind === 'unusable') {
        damage = file.reason;
      } else {
        try {
          const noted = JSON.parse(file.text) as { cluster?: unknown; lease?: unknown; holder?: unknown };
          if (typeof noted.lease !== 'string' || !/^\d+$/.test(noted.lease) || typeof noted.holder !== 'string') throw new Error('no lease and holder');
          return noted.cluster === cluster ? { lease: noted.lease, holder: noted.holder } : undefined;
        } catch (error) {
          damage = error instanceof Error ? error.message : String(error);
        }
      }
      // Nothing is lost by not adopting: the lease then ends at etcd by itself.
      void moveAside(path).then(
        ({ movedTo, removed }) => trouble(`the cluster lease record ${path} is damaged (${damage}); moved aside to ${movedTo}${removedNote(removed)}`),
        () => {},
      );
      return undefined;
    },
    write(lease, holder) {
      return writeFileWhole(path, `${JSON.stringify({ cluster, lease, holder })}\n`).catch((error: unknown) => trouble(`could not note the lease in ${path}: ${String(error)}`));
    },
    clear() {
      rmSync(path, { force: true });
    },
  };
}
