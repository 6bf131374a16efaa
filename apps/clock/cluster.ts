import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3, type IOptions, type Watcher } from 'etcd3';
import type { ClusterConfig } from '../shared/config.ts';
import { parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { etcdLeaseWarning } from './etcd-version.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import type { LeaseRecord } from './lease-record.ts';
import { RaftPlacement } from './raft-placement.ts';

/**
 * Cluster mode (CLOCK_ETCD): the clocks of several hosts elect one leader through etcd, and only the
 * leader ticks. Loaded only in that mode (its gRPC client costs ~100 ms at start).
 *
 * The election is one key, `/<cluster>/leader`, created only if absent and bound to the candidate's
 * lease: whoever creates it leads until its lease ends (etcd deletes the key), and the followers,
 * watching it, race to create it again. The checkpoint lives under `/<cluster>/checkpoint`, written
 * only in a transaction that holds while the leader key is still the one the writer's win wrote
 * (fencing): a deposed or partitioned leader can never overwrite its successor's progress.
 *
 * A leader stops ticking before its lease can end at etcd (LeaseKeeper says until when it surely
 * holds), and at once if its leader key goes before that. A leader frozen (SIGSTOP) and thawed
 * checks holds() before printing anything.
 */

// etcd calls that are not streams: one still unanswered after a sixth of the lease counts as failed
// (333 ms at 2 s), and the next try goes to another member. A slower network wants a longer lease.
const callDeadlineMs = (leaseS: number): number => Math.max(250, (leaseS * 1_000) / 6);
// The back-off while etcd does not answer. Capped low: a member that is merely cut off or frozen
// fails a call that the next try, on another member, answers; a long back-off would be a long failover.
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 1_000;
// A follower looks again this often even if its watch saw nothing: a watch opened on a member that
// is cut off or frozen never says anything, and the follower must not wait on it.
const RECHECK_MS = 250;

export interface ClusterEvents {
  /** Following: `leader` leads (undefined: no one, or etcd is out of reach, `why` says which). */
  following(leader: string | undefined, why: string): void;
  /** Leadership is lost (the lease ran out, the key is another's): stop ticking at once. */
  lost(reason: string): void;
  /** Something worth a line in the error log that changes nothing here (a damaged checkpoint in etcd). */
  trouble(line: string): void;
  /** Something worth a line in the log (etcd's Raft leadership handed off this host). */
  said(line: string): void;
}

export class Cluster {
  private readonly client: Etcd3;
  private readonly leaderKey: string;
  private readonly checkpointKey: string;
  private lease: LeaseKeeper | undefined;
  private leading = false;
  private closed = false;
  private lostSaid = false;
  private checker: NodeJS.Timeout | undefined;
  private guard: Watcher | undefined;
  /** The revision at which this clock wrote the leader key (its win): what every checkpoint write is fenced on. */
  private wonAt: string | undefined;
  private readonly placement: RaftPlacement;
  /** callDeadlineMs of this cluster's lease. */
  private readonly deadlineMs: number;
  /**
   * The highest Raft term any etcd answer has shown. A member that was etcd's leader, frozen and
   * thawed, answers keep-alives from its own lessor until it learns it was replaced: such an answer
   * carries its old term, and renews nothing at the real leader. It is not counted as a confirmation.
   */
  private term = 0n;
  /** This clock's name in the election: host and pid, so that a restarted clock is not taken for its predecessor. */
  readonly me: string;

  constructor(
    private readonly config: ClusterConfig,
    private readonly events: ClusterEvents,
    /** Where the leader notes its lease for the clock after it on this host (read only under the state lock). */
    private readonly record: LeaseRecord,
  ) {
    this.deadlineMs = callDeadlineMs(config.leaseS);
    this.client = new Etcd3({
      ...etcdConnection(config),
      hosts: config.endpoints,
      dialTimeout: this.deadlineMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + this.deadlineMs }),
    });
    this.leaderKey = `/${config.name}/leader`;
    this.checkpointKey = `/${config.name}/checkpoint`;
    this.me = `${config.host}:${process.pid}`;
    this.placement = new RaftPlacement(config.endpoints, etcdConnection(config), this.deadlineMs, (line) => this.events.said(line));
  }

  /** Whether this clock won the leadership and has not lost it. */
  get leads(): boolean {
    return this.leading;
  }

  /** Opens the way to etcd ahead of need (a standby's takeover then starts with it open): one read, its answer unused. */
  async connect(): Promise<void> {
    await this.client.get(this.leaderKey).catch(() => undefined);
  }

  /** Whether this clock leads and its lease is sure to hold: the one test before every tick. */
  holds(): boolean {
    return this.leading && this.lease !== undefined && this.lease.holds();
  }

  /** ms since etcd last acknowledged this clock's lease, or undefined while it has none. */
  leaseAgeMs(): number | undefined {
    return this.lease?.ageMs();
  }

  /**
   * Campaigns until this clock leads; resolves then, with the fenced checkpoint (undefined when the
   * cluster has none yet). Unreachable etcd is retried with back-off, said once per outage.
   */
  async campaign(): Promise<{ checkpoint: Checkpoint | undefined }> {
    let retryMs = RETRY_FIRST_MS;
    // Said once per change of state, not per retry: `key` names the state, `why` says it.
    let lastKey = '';
    const follow = (leader: string | undefined, key: string, why: string): void => {
      if (key !== lastKey) this.events.following(leader, why);
      lastKey = key;
    };
    while (!this.closed) {
      try {
        const carriedOn = await this.carryOn();
        if (carriedOn) return carriedOn;
        const lease = await this.ensureLease();
        const result = await this.client
          .if(this.leaderKey, 'Create', '==', 0)
          // The checkpoint comes with the win: one round trip fewer between the old leader's end and ticking here.
          .then(this.client.put(this.leaderKey).value(this.me).lease(lease.id), this.client.get(this.checkpointKey))
          .else(this.client.get(this.leaderKey), this.client.get(this.checkpointKey))
          .commit();
        this.isCurrent(result.header);
        const holder = result.responses[0]?.response_range?.kvs[0];
        const leader = holder?.value.toString();
        // The client sends a call again, to another member, when an answer is late: the try that
        // won may have been the one before this, and this one found the key already ours.
        if (result.succeeded || (leader === this.me && holder?.lease === lease.id)) {
          // Won by an earlier try: the key's own revision is that win's, not this answer's.
          const revision = result.succeeded ? result.header.revision : (holder?.mod_revision ?? result.header.revision);
          return this.won(lease, revision, result.responses[1]?.response_range?.kvs[0]?.value.toString());
        }
        // Ours, but bound to a lease this clock let go after a failed call: ended now, not in a TTL.
        if (leader === this.me && holder) {
          await this.client.leaseClient.leaseRevoke({ ID: holder.lease });
          continue;
        }
        retryMs = RETRY_FIRST_MS;
        follow(leader, `leader ${leader ?? ''}`, leader ? `${leader} leads` : 'no leader yet');
        await this.leaderGone(result.header.revision);
      } catch (error) {
        this.dropLease();
        follow(undefined, 'unreachable', `etcd does not answer (${oneLine(error)}); retrying with back-off, up to every ${RETRY_MAX_MS / 1000} s`);
        await sleep(retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
    throw new Error('the cluster connection was closed');
  }

  /** Leading from `revision` on with `lease`: guarded, noted for the clock after this one, etcd's leadership kept off. */
  private async won(lease: LeaseKeeper, revision: string, checkpoint: string | undefined): Promise<{ checkpoint: Checkpoint | undefined }> {
    this.leading = true;
    // The win's own revision: its put of the leader key is the one write of that revision.
    this.wonAt = revision;
    this.guardLeaderKey(revision);
    await this.record.write(lease.id, this.me);
    this.placement.start();
    void this.warnOfEtcdRelease();
    return { checkpoint: this.checkpointOf(checkpoint) };
  }

  /**
   * The lease this host's previous clock led with, if etcd still has it and the leader key is still
   * bound to it: this clock takes both over, with no election and no wait for the lease to end (a
   * restart by PM2, or the hot standby, keeps the lead on this host). A lease noted but no longer
   * the leader's is ended at once. Rejects when etcd does not answer (the campaign retries).
   */
  private async carryOn(): Promise<{ checkpoint: Checkpoint | undefined } | undefined> {
    const noted = this.record.read();
    if (!noted || noted.holder === this.me) return undefined;
    const lease = await LeaseKeeper.adopt(this.client, noted.lease, this.config.leaseS, this.deadlineMs, this.leaseEvents(() => lease));
    if (!lease) {
      this.record.clear();
      return undefined;
    }
    const result = await this.client
      .if(this.leaderKey, 'Lease', '==', noted.lease)
      .then(this.client.put(this.leaderKey).value(this.me).lease(noted.lease), this.client.get(this.checkpointKey))
      .commit()
      .catch(async (error: unknown) => {
        lease.release();
        throw error;
      });
    this.isCurrent(result.header);
    if (!result.succeeded) {
      await lease.revoke();
      this.record.clear();
      return undefined;
    }
    this.dropLease();
    this.lease = lease;
    this.watchLease();
    this.events.said(`carried on with the lease of this host's previous clock (${noted.holder}), which etcd still held: no election, no wait`);
    return this.won(lease, result.header.revision, result.responses[1]?.response_range?.kvs[0]?.value.toString());
  }

  /** Writes the checkpoint, only while this clock still leads; false when the fence says it does not. */
  async writeCheckpoint(text: string): Promise<boolean> {
    if (!this.lease || this.wonAt === undefined) return false;
    // The fence is the leader key exactly as this clock's win left it (its revision), not merely its
    // lease: a clock that carried on with its predecessor's lease rewrote the key, so a write of the
    // dead predecessor's still on its way cannot land over its successor's progress.
    const result = await this.client
      .if(this.leaderKey, 'Mod', '==', this.wonAt)
      .then(this.client.put(this.checkpointKey).value(text))
      .commit();
    this.isCurrent(result.header);
    if (!result.succeeded) this.lose(`the leader key ${this.leaderKey} is no longer the one this clock wrote`);
    return result.succeeded;
  }

  /** Gives the leadership up (a clean stop): the lease is revoked, so a follower takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopLeading();
    // Bounded: a stop must not wait on an etcd that cannot answer; the lease then runs out by itself.
    // A clean stop hands nothing on: the lead goes to whichever host is quickest. Only a clock that
    // led clears the record: a standby stopping must not take the active leader's away.
    if (this.wonAt !== undefined) this.record.clear();
    await this.lease?.revoke();
    this.client.close();
  }

  /** The cluster's checkpoint; one that cannot be read is said once and left in etcd for a look, and a fresh run starts. */
  private checkpointOf(text: string | undefined): Checkpoint | undefined {
    if (text === undefined) return undefined;
    try {
      return parseCheckpoint(text);
    } catch (error) {
      this.events.trouble(`the cluster's checkpoint ${this.checkpointKey} is damaged (${oneLine(error)}); this host's own is used instead, and the damaged one is left in etcd until overwritten`);
      return undefined;
    }
  }

  private async ensureLease(): Promise<LeaseKeeper> {
    if (this.lease) return this.lease;
    const lease = await LeaseKeeper.grant(this.client, this.config.leaseS, this.deadlineMs, this.leaseEvents(() => lease));
    if (this.closed) {
      lease.release();
      throw new Error('the cluster connection was closed');
    }
    this.lease = lease;
    this.watchLease();
    return lease;
  }

  /** What a lease tells this clock; `which` names the lease they are for, once it exists. */
  private leaseEvents(which: () => LeaseKeeper | undefined) {
    return {
      isCurrent: (header: { raft_term?: string } | null | undefined) => this.isCurrent(header),
      gone: () => {
        if (this.lease !== which()) return;
        if (this.leading) this.lose('etcd says its lease no longer exists');
        this.dropLease();
      },
    };
  }

  /** Says once, in the error log, when the etcd it leads through has a flaw that bears on its promises. */
  private async warnOfEtcdRelease(): Promise<void> {
    const status = await this.client.maintenance.status().catch(() => undefined);
    const line = status && etcdLeaseWarning(status.version);
    if (line) this.events.trouble(line);
  }

  /** Whether an answer is of the newest Raft term seen (and notes a newer one). */
  private isCurrent(header: { raft_term?: string } | null | undefined): boolean {
    const term = BigInt(header?.raft_term ?? '0');
    if (term < this.term) return false;
    // A new term is a new etcd leader, which may be this host's member.
    if (term > this.term && this.leading) this.placement.check();
    this.term = term;
    return true;
  }

  private dropLease(): void {
    const lease = this.lease;
    this.lease = undefined;
    lease?.release();
  }

  /**
   * Resolves once the leader key is deleted after `revision`, or after RECHECK_MS, whichever is
   * first: the watch may be opened on a member that is cut off and never answer, and the follower
   * must look again all the same.
   */
  private async leaderGone(revision: string): Promise<void> {
    let watcher: Watcher | undefined;
    let cancelled = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, RECHECK_MS);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.client.watch().key(this.leaderKey).startRevision(String(BigInt(revision) + 1n)).create().then(
        (created) => {
          watcher = created;
          if (cancelled) void created.cancel().catch(() => {});
          created.on('delete', done);
          created.on('error', done);
          created.on('disconnected', done);
        },
        done,
      );
    });
    cancelled = true;
    // Not awaited: the cancel waits for the member the watch went to, which may never answer.
    void watcher?.cancel().catch(() => {});
  }

  /**
   * While leading, the leader key is watched: deleted or bound to another, the leadership is lost
   * at once, however long the lease should still hold. A lease does end early: etcd before 3.4.28
   * and 3.5.11 (etcd-io/etcd#15247) lets an etcd leader that stalled (frozen, starved of CPU or
   * disk) and resumed revoke every lease it did not see renewed meanwhile. A successor needs one
   * more round trip through Raft after that deletion before it can tick; this clock needs none.
   */
  private guardLeaderKey(revision: string): void {
    const won = BigInt(revision);
    const guard = this.client.watch().key(this.leaderKey).startRevision(String(won + 1n)).watcher();
    this.guard = guard;
    // Only what happened after the win: the client, reconnecting the watch to a member that is
    // behind, asks again from that member's revision, and replays the deletion of the key's last
    // holder (seen here as a leader deposed when a follower's etcd member was killed).
    const after = (kv: { mod_revision: string }): boolean => BigInt(kv.mod_revision) > won;
    guard.on('delete', (kv) => {
      if (after(kv)) this.lose(`the leader key ${this.leaderKey} was deleted at etcd: its lease ended before its time`);
    });
    guard.on('put', (kv) => {
      if (after(kv) && kv.value.toString() !== this.me) this.lose(`the leader key ${this.leaderKey} now names ${kv.value.toString()}`);
    });
    // A watch that breaks is opened again by the client; meanwhile the lease's deadline still decides.
    guard.on('error', () => {});
  }

  /** While leading, the moment the lease could end it is lost, whatever else is late. */
  private watchLease(): void {
    if (this.checker) return;
    this.checker = setInterval(() => {
      if (this.leading && !this.holds()) this.lose(`etcd has not confirmed its lease for ${Math.round(this.leaseAgeMs() ?? 0)} ms (lease ${this.config.leaseS} s)`);
    }, 50);
  }

  /** No longer leading (lost, or a clean stop): what only a leader runs ends with it. */
  private stopLeading(): void {
    this.leading = false;
    clearInterval(this.checker);
    void this.guard?.cancel().catch(() => {});
    this.placement.stop();
  }

  private lose(reason: string): void {
    this.stopLeading();
    if (this.lostSaid) return;
    this.lostSaid = true;
    this.events.lost(reason);
  }
}

/** How to reach etcd: for https, the CA to trust and this client's certificate, when given (else the system's roots). */
export function etcdConnection(config: ClusterConfig): Pick<IOptions, 'credentials'> {
  const tls = config.tls;
  if (!tls || (!tls.ca && !tls.cert)) return {};
  // grpc's createSsl takes a missing CA as "the system's roots"; the client's type wants one anyway.
  return { credentials: { rootCertificate: tls.ca as Buffer, privateKey: tls.key, certChain: tls.cert } };
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
