import { networkInterfaces } from 'node:os';
import { Etcd3, type IOptions } from 'etcd3';

/**
 * Cluster mode, on the leader: keeps etcd's own Raft leadership off the etcd member that runs on
 * this host, when one does (a CLOCK_ETCD address that is one of this host's own).
 *
 * Why: a host that loses power or its network while it holds both leaderships costs them one after
 * the other. etcd first elects a new Raft leader (an election timeout and more), whose lessor then
 * restarts every lease at its full TTL plus that election timeout; only then does the clock's lease
 * end and another host tick. Measured on the test cluster: 3.0-3.7 s from the fault to ticking when
 * both were on the host, 1.5-2.3 s when only the clock's lease was. It also keeps the frozen-host
 * fault clear of etcd-io/etcd#15247 (etcd < 3.4.28 / 3.5.11: an etcd leader that stalls and resumes
 * revokes the leases it did not see renewed meanwhile).
 *
 * The handover is etcd's own MoveLeader, asked of the member that leads (the local one), to a
 * member that answers and is the most caught up: no election timeout, and the new etcd leader
 * extends every lease rather than shortening any.
 */

// A handover that did not happen (no member answered, etcd was electing) is tried again this much later.
const RETRY_MS = 1_000;
// And a look now and then all the same: a new etcd leader shows as a new Raft term in the next answer,
// but one elected while this clock's first answers came in carries a term it had already seen.
const LOOK_AGAIN_MS = 5_000;

export class RaftPlacement {
  private localEndpoint: string | undefined;
  private local: Etcd3 | undefined;
  private active = false;
  private busy = false;
  /** A check asked for while one was under way: made right after it. */
  private again = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly endpoints: string[],
    /** The TLS settings of every connection to etcd (see etcdConnection). */
    private readonly connection: Pick<IOptions, 'credentials'>,
    private readonly deadlineMs: number,
    private readonly said: (line: string) => void,
  ) {}

  /** This clock leads: from now on etcd's Raft leader is kept off this host. */
  start(): void {
    this.active = true;
    this.check();
  }

  /** Looks again (a new Raft term: a new etcd leader, which may be this host's member). */
  check(): void {
    if (!this.active) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.again = false;
    clearTimeout(this.retry);
    // Looked for at each check, not once: an interface that is down (the host cut off when this
    // clock started) lists no address, and comes back with it.
    this.localEndpoint ??= this.endpoints.find(isThisHost);
    void (this.localEndpoint ? this.keepOff() : Promise.resolve(true))
      .then((done) => {
        this.busy = false;
        if (!this.active) return;
        if (this.again) return this.check();
        this.retry = setTimeout(() => this.check(), done ? LOOK_AGAIN_MS : RETRY_MS).unref();
      });
  }

  stop(): void {
    this.active = false;
    clearTimeout(this.retry);
    this.local?.close();
    this.local = undefined;
  }

  /** true when this host's member does not lead etcd (any more); false when that could not be made so, or not yet known. */
  private async keepOff(): Promise<boolean> {
    try {
      this.local ??= new Etcd3({ ...this.connection, hosts: [this.localEndpoint as string], dialTimeout: this.deadlineMs });
      const status = await this.local.maintenance.status(this.options());
      const self = status.header.member_id;
      // No leader yet: etcd is electing, and this host's member may be the one it elects.
      if (status.leader === '0') return false;
      if (status.leader !== self) return true;
      const { members } = await this.local.cluster.memberList({}, this.options());
      const candidates = await Promise.all(members.filter((member) => member.ID !== self).map(async (member) => ({ member, applied: await this.appliedIndex(member.clientURLs) })));
      const target = candidates.filter((candidate) => candidate.applied !== undefined).sort((a, b) => Number((b.applied as bigint) - (a.applied as bigint)))[0];
      if (!target || !this.active) return false;
      await this.local.maintenance.moveLeader({ targetID: target.member.ID }, this.options());
      this.said(`etcd's Raft leader was this host's member (${this.localEndpoint}); handed to ${target.member.name || target.member.ID}, so that losing this host costs one lease, not an etcd election as well`);
      return true;
    } catch {
      return false;
    }
  }

  /** How far a member has applied the log, or undefined when it does not answer in time (down, frozen, cut off). */
  private async appliedIndex(clientURLs: string[]): Promise<bigint | undefined> {
    if (clientURLs.length === 0) return undefined;
    const member = new Etcd3({ ...this.connection, hosts: clientURLs, dialTimeout: this.deadlineMs });
    try {
      return BigInt((await member.maintenance.status(this.options())).raftAppliedIndex);
    } catch {
      return undefined;
    } finally {
      member.close();
    }
  }

  private options(): { deadline: number } {
    return { deadline: Date.now() + this.deadlineMs };
  }
}

function isThisHost(endpoint: string): boolean {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  return Object.values(networkInterfaces()).some((addresses) => addresses?.some((address) => address.address === host));
}
