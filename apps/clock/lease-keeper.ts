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
 * Why not the client's own keep-alive stream: it fires every TTL/3, says nothing for a whole TTL
 * when the member its stream went to freezes or is cut off, and pairs answers with sends by one
 * count across streams, which a stream torn down mid-flight leaves off by one, the wrong way round
 * (an answer credited to a later send). Here a keep-alive goes out every sixth of the TTL on one
 * stream, whose answers are paired with that stream's own sends (etcd answers a stream's requests
 * in order); a stream whose oldest keep-alive is unanswered past the call deadline is dropped, and
 * the next goes at once on a new one, to a member picked afresh. So the newest confirmation is at
 * most about a sixth of the TTL old while any member can reach etcd's leader, which leaves the
 * lease room to outlast an etcd election. (A new stream for every keep-alive did the same at 2.7
 * times the CPU: +0.99 % of a core on the leader against +0.37 %.)
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
/** One keep-alive stream, and the send times of its keep-alives still unanswered, oldest first. */
type KeepAliveStream = { duplex: Awaited<ReturnType<LeaseClient['leaseKeepAlive']>>; pending: Sent[] };
const now = (): Sent => ({ mono: performance.now(), wall: Date.now() });

export class LeaseKeeper {
  private confirmedMono: number;
  private confirmedWall: number;
  private timer: NodeJS.Timeout | undefined;
  private retrying = false;
  private released = false;
  private stream: KeepAliveStream | undefined;
  private readonly periodMs: number;

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
    this.periodMs = ttlMs / 6;
    this.timer = setInterval(() => this.keepAlive(), this.periodMs);
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
    if (this.stream) this.drop(this.stream);
  }

  /** Ends it at etcd now (bounded: a stop must not wait on an etcd that cannot answer). */
  async revoke(): Promise<void> {
    this.release();
    await this.client.leaseRevoke({ ID: this.id }, { deadline: Date.now() + this.deadlineMs }).catch(() => {});
  }

  private keepAlive(): void {
    if (this.released) return;
    const stream = this.stream;
    // The oldest keep-alive on this stream still unanswered at the next beat: that member is gone
    // for now (answers take ~1 ms here; a network whose round trips near a sixth of the lease wants a longer lease).
    const oldest = stream?.pending[0];
    if (stream && oldest && performance.now() - oldest.mono > this.periodMs * 0.9) this.drop(stream);
    void this.send();
  }

  /** Sends one keep-alive, on the current stream or (none) a new one. */
  private async send(): Promise<void> {
    try {
      const stream = this.stream ?? (await this.open());
      if (this.released || stream !== this.stream) return;
      stream.pending.push(now());
      stream.duplex.write({ ID: this.id });
    } catch {
      this.retrySoon();
    }
  }

  private async open(): Promise<KeepAliveStream> {
    const duplex = await this.client.leaseKeepAlive();
    // Another send opened one meanwhile: that one is the stream.
    if (this.stream) {
      duplex.end();
      return this.stream;
    }
    const stream: KeepAliveStream = { duplex, pending: [] };
    this.stream = stream;
    duplex.on('data', (answer: ILeaseKeepAliveResponse) => {
      const sent = stream.pending.shift();
      if (this.released || this.stream !== stream || !sent || !this.events.isCurrent(answer.header)) return;
      // TTL 0: etcd no longer has the lease (ended, revoked), said by a member of the current term.
      if (answer.TTL === '0') return this.events.gone();
      this.confirmedMono = Math.max(this.confirmedMono, sent.mono);
      this.confirmedWall = Math.max(this.confirmedWall, sent.wall);
    });
    const broken = (): void => {
      if (this.stream !== stream) return;
      this.drop(stream);
      this.retrySoon();
    };
    duplex.on('error', broken);
    duplex.on('end', broken);
    return stream;
  }

  private drop(stream: KeepAliveStream): void {
    if (this.stream === stream) this.stream = undefined;
    stream.duplex.end();
  }

  /** The next keep-alive RETRY_MS from now, on a new stream. */
  private retrySoon(): void {
    if (this.released || this.retrying) return;
    this.retrying = true;
    setTimeout(() => {
      this.retrying = false;
      void this.send();
    }, RETRY_MS);
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
