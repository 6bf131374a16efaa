import { performance } from 'node:perf_hooks';
import type { Etcd3, ILeaseKeepAliveResponse, LeaseClient } from 'etcd3';

/**
 * One etcd lease, kept alive by keep-alives of its own, each with its own send time and deadline,
 * and the one answer to "does it surely still hold?".
 *
 * etcd counts a lease from a keep-alive it received, so from the moment the newest acknowledged
 * keep-alive was *sent* the lease lasts at least its TTL. This side counts it SAFETY_MS shorter, on
 * two clocks at once: the monotonic one (a step of the system clock cannot stretch it) and the wall
 * clock (the monotonic one stands still while the machine is suspended; the wall clock catches up).
 *
 * Why not the client's own keep-alive stream: it holds one stream to one member, fires every TTL/3,
 * and says nothing for a whole TTL when that member freezes or is cut off; and it pairs answers with
 * sends by counting, which a stream torn down mid-flight leaves off by one, the wrong way round
 * (an answer credited to a later send). Here each keep-alive is a call of its own, to a member
 * picked afresh, every sixth of the TTL and again at once after one fails: at any moment the newest
 * confirmation is at most ~a sixth of the TTL old while any member can forward to etcd's leader,
 * which leaves the lease room to outlast an etcd election.
 */

// The part of the lease never used: scheduling delays, a keep-alive's way to etcd.
export const SAFETY_MS = 500;
// After a keep-alive that failed, the next one this soon (not at once: a member refusing every call
// would make it a busy loop).
const RETRY_MS = 20;

export interface LeaseKeeperEvents {
  /** Whether an answer is of the newest Raft term seen: a stale etcd leader's answer confirms nothing. */
  isCurrent(header: { raft_term?: string } | null | undefined): boolean;
  /** etcd (in the current term) says the lease no longer exists. */
  gone(): void;
}

type Sent = { mono: number; wall: number };
const now = (): Sent => ({ mono: performance.now(), wall: Date.now() });

export class LeaseKeeper {
  private confirmedMono: number;
  private confirmedWall: number;
  private timer: NodeJS.Timeout | undefined;
  private retrying = false;
  private released = false;

  private constructor(
    private readonly client: LeaseClient,
    readonly id: string,
    sent: Sent,
    private readonly ttlMs: number,
    private readonly deadlineMs: number,
    private readonly events: LeaseKeeperEvents,
  ) {
    this.confirmedMono = sent.mono;
    this.confirmedWall = sent.wall;
    this.timer = setInterval(() => this.keepAlive(), ttlMs / 6);
  }

  /** Grants a lease of `ttlS` seconds; rejects when etcd does not answer in time. */
  static async grant(client: Etcd3, ttlS: number, deadlineMs: number, events: LeaseKeeperEvents): Promise<LeaseKeeper> {
    const sent = now();
    const { ID } = await client.leaseClient.leaseGrant({ TTL: ttlS }, { deadline: Date.now() + deadlineMs });
    return new LeaseKeeper(client.leaseClient, ID, sent, ttlS * 1_000, deadlineMs, events);
  }

  /**
   * Takes over lease `id`, granted to another process, if etcd (in the current term) still has it:
   * from this keep-alive's send on it lasts a TTL. undefined when it has ended; rejects when etcd
   * does not answer in time.
   */
  static async adopt(client: Etcd3, id: string, ttlS: number, deadlineMs: number, events: LeaseKeeperEvents): Promise<LeaseKeeper | undefined> {
    const sent = now();
    const answer = await keepAliveOnce(client.leaseClient, id, deadlineMs);
    if (!events.isCurrent(answer.header)) throw new Error('a keep-alive was answered in an old Raft term');
    if (answer.TTL === '0') return undefined;
    return new LeaseKeeper(client.leaseClient, id, sent, ttlS * 1_000, deadlineMs, events);
  }

  /** Whether the lease surely still holds at etcd (with SAFETY_MS to spare), by both clocks. */
  holds(): boolean {
    const usable = this.ttlMs - SAFETY_MS;
    return performance.now() < this.confirmedMono + usable && Date.now() < this.confirmedWall + usable;
  }

  /** ms since the newest acknowledged keep-alive was sent. */
  ageMs(): number {
    return performance.now() - this.confirmedMono;
  }

  /** Stops keeping it alive; etcd ends it after its TTL. */
  release(): void {
    this.released = true;
    clearInterval(this.timer);
  }

  /** Ends it at etcd now (bounded: a stop must not wait on an etcd that cannot answer). */
  async revoke(): Promise<void> {
    this.release();
    await this.client.leaseRevoke({ ID: this.id }, { deadline: Date.now() + this.deadlineMs }).catch(() => {});
  }

  private keepAlive(): void {
    if (this.released) return;
    const sent = now();
    keepAliveOnce(this.client, this.id, this.deadlineMs)
      .then((answer) => {
        if (this.released || !this.events.isCurrent(answer.header)) return;
        // TTL 0: etcd no longer has the lease (ended, revoked), said by a member of the current term.
        if (answer.TTL === '0') return this.events.gone();
        this.confirmedMono = Math.max(this.confirmedMono, sent.mono);
        this.confirmedWall = Math.max(this.confirmedWall, sent.wall);
      })
      .catch(() => {
        // That member did not answer in time: the next try, at once, goes to a member picked afresh.
        if (this.released || this.retrying) return;
        this.retrying = true;
        setTimeout(() => {
          this.retrying = false;
          this.keepAlive();
        }, RETRY_MS);
      });
  }
}

/** One keep-alive of lease `id` on a stream of its own, with a deadline; the answer, whatever member gave it. */
async function keepAliveOnce(client: LeaseClient, id: string, deadlineMs: number): Promise<ILeaseKeepAliveResponse> {
  const stream = await client.leaseKeepAlive({ deadline: Date.now() + deadlineMs });
  try {
    return await new Promise<ILeaseKeepAliveResponse>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
      stream.on('end', () => reject(new Error('the keep-alive stream ended unanswered')));
      stream.write({ ID: id });
    });
  } finally {
    stream.end();
  }
}
