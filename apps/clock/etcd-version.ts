/**
 * etcd releases with a known flaw that bears on the clock's promises, and what the clock does about
 * it: said once, when a clock first leads, so that an operator on such a release learns it from the
 * log rather than from two hosts ticking at once.
 */

/** The line to say about etcd `version` (as its status reports it, e.g. "3.4.23"), or undefined for none. */
export function etcdLeaseWarning(version: string): string | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) return undefined;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  // etcd-io/etcd#15247, fixed by #16822 in 3.4.28 and 3.5.11; 3.6 and later have the fix.
  const affected = major < 3 || (major === 3 && (minor < 4 || (minor === 4 && patch < 28) || (minor === 5 && patch < 11)));
  if (!affected) return undefined;
  return (
    `etcd ${version} can end a lease early (etcd-io/etcd#15247: its Raft leader, stalled and resumed, revokes the leases it did not see renewed; fixed in 3.4.28 and 3.5.11). ` +
    'This clock stops ticking the moment its leader key goes, so the lead moves, but only an etcd with the fix keeps the promise of never two hosts at once on its own'
  );
}
