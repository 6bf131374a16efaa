import { LatestWriter } from '../shared/atomic-write.ts';
import type { ClusterConfig } from '../shared/config.ts';
import type { Heartbeat } from '../shared/heartbeat.ts';
import { serializeCheckpoint, type Checkpoint } from './checkpoint.ts';
import type { Cluster } from './cluster.ts';
import { log, warn } from './log.ts';

/** What cluster mode asks of the clock that composes it. */
export interface ClusterModeHooks {
  /** The clock follows (waits for the leadership): ready for PM2, beating, owing no tick. */
  following(): void;
  /** The leadership is lost: not one more tick; the process leaves and PM2 starts a follower in its place. */
  deposed(line: string): void;
  /** Thread `index`'s tick was held back (etcd lacks the one before it): fire it again a moment later. */
  retry(index: number): void;
  /** Whether the clock is stopping (a stop while following is no failure to start). */
  stopping(): boolean;
}

/**
 * Cluster mode (CLOCK_ETCD), as a part the clock composes: before ticking it campaigns for the
 * leadership (following meanwhile) and resumes from the cluster's fenced checkpoint; while ticking,
 * a tick is printed only while the lease surely holds and etcd has the tick before it, and each
 * checkpoint goes to etcd too, fenced on the leader key. The election and the fence themselves are
 * cluster.ts's; this is what they mean for the clock's ticks.
 */
export class ClusterMode {
  /** The election's client: made while a standby waits (warm), or at the campaign. */
  private cluster: Cluster | undefined;
  /** Waiting for the leadership, and who leads meanwhile. */
  private isFollowing = false;
  private leader: string | undefined;
  /** The checkpoint in etcd, written only while this clock leads (fenced). */
  private fenced: LatestWriter | undefined;
  /** The newest checkpoint etcd has confirmed; a thread prints a tick only once the one before it is there. */
  private confirmed: Checkpoint | undefined;
  private leaving = false;

  constructor(
    private readonly config: ClusterConfig,
    /** Where this host keeps its lease between its clocks (lease-record.ts). */
    private readonly leaseRecordPath: string,
    private readonly hooks: ClusterModeHooks,
  ) {}

  /** Following: beating and ready, but not ticking. */
  get following(): boolean {
    return this.isFollowing;
  }

  /** Deposed: the process is on its way out. */
  get left(): boolean {
    return this.leaving;
  }

  /**
   * Campaigns until this clock leads (following meanwhile), then returns the cluster's fenced
   * checkpoint, if it has one: it is newer than this host's own whenever another host led since.
   */
  async lead(): Promise<Checkpoint | undefined> {
    this.cluster ??= await this.make();
    this.isFollowing = true;
    const { checkpoint } = await this.cluster.campaign();
    this.isFollowing = false;
    this.leader = this.cluster.me;
    this.fenced = new LatestWriter(
      async (data) => {
        if (await this.cluster?.writeCheckpoint(data)) this.confirmed = JSON.parse(data) as Checkpoint;
      },
      (error) => warn(`could not write the checkpoint to etcd: ${String(error)}; ticks wait until it is there`),
    );
    log(`cluster ${this.config.name}: this clock (${this.cluster.me}) leads; resuming from ${checkpoint ? "the cluster's checkpoint" : 'this host\'s checkpoint (the cluster has none yet)'}`);
    return checkpoint;
  }

  /**
   * Before the first tick, etcd must hold the progress this clock starts from: what it holds already
   * (`fromCluster`, unchanged but for the resume count) needs no write. False (and leaving) if the
   * fence says no, or the write cannot be made before the lease could run out.
   */
  async confirmStart(start: Checkpoint, fromCluster: Checkpoint | undefined): Promise<boolean> {
    const snapshot = serializeCheckpoint(start);
    if (fromCluster && snapshot === serializeCheckpoint({ ...fromCluster, resumes: start.resumes })) {
      this.confirmed = fromCluster;
      return true;
    }
    let lastError: unknown;
    // Tried again for as long as the lease holds: a call that went to a member cut off fails, and
    // the next one goes to another member.
    while (this.cluster?.holds() && !this.hooks.stopping()) {
      try {
        if (!(await this.cluster.writeCheckpoint(snapshot))) return false;
        this.confirmed = start;
        return true;
      } catch (error) {
        lastError = error;
      }
    }
    this.lose(`the first checkpoint could not be written to etcd before the lease could run out (${String(lastError ?? 'no lease')})`);
    return false;
  }

  /**
   * Before a tick is printed: the lease must be sure to hold, and etcd must have the checkpoint of
   * this thread's previous tick, so that a successor repeats at most this one tick. A tick held back
   * is fired again by its worker a moment later; `current`, the progress now, is written again
   * meanwhile (the write that would let it print failed or is slow; the newest wins).
   */
  mayPrint(index: number, run: number, tick: number, current: () => Checkpoint | undefined): boolean {
    if (!this.cluster?.holds()) {
      this.lose('its lease may have run out at etcd');
      return false;
    }
    if (this.isConfirmed(index, run, tick - 1)) return true;
    const progress = current();
    if (progress) this.fenced?.set(serializeCheckpoint(progress));
    this.hooks.retry(index);
    return false;
  }

  /** A checkpoint saved on this host: to etcd too (fenced). */
  saved(snapshot: string): void {
    this.fenced?.set(snapshot);
  }

  /** This host's part in the election, for the heartbeat. */
  pulse(): NonNullable<Heartbeat['cluster']> {
    const leaseAgeMs = this.cluster?.leaseAgeMs();
    return {
      name: this.config.name,
      host: this.config.host,
      role: this.cluster?.leads ? 'leader' : 'follower',
      leader: this.leader ?? null,
      leaseAgeMs: leaseAgeMs === undefined ? null : Math.round(leaseAgeMs),
    };
  }

  /** A standby: etcd's client made and connected while it waits, so that its takeover does not pay for it (~0.2 s). */
  async warm(): Promise<void> {
    try {
      const cluster = await this.make();
      if (this.cluster || this.hooks.stopping()) return;
      this.cluster = cluster;
      await cluster.connect();
    } catch {
      // Nothing lost: the takeover makes it then.
    }
  }

  /** On a stop: what etcd is still owed is written (not by a deposed leader: the fence would refuse it), and the lease revoked, not left to run out, so that a follower takes over at once. */
  async close(): Promise<void> {
    if (!this.leaving) await this.fenced?.flush();
    await this.cluster?.close();
  }

  /** Whether etcd holds thread `index` at `tick` of `run` or later (tick 0: the run's start). */
  private isConfirmed(index: number, run: number, tick: number): boolean {
    const confirmed = this.confirmed;
    if (!confirmed || confirmed.run < run) return false;
    return confirmed.run > run || (confirmed.threads[index]?.tick ?? 0) >= tick;
  }

  private lose(reason: string): void {
    if (this.leaving) return;
    this.leaving = true;
    this.hooks.deposed(`cluster ${this.config.name}: lost the leadership (${reason}); no more ticks here, leaving to come back as a follower`);
  }

  /** etcd's client, loaded and connected (~0.2 s), but no campaign yet: that waits for the state lock. */
  private async make(): Promise<Cluster> {
    const { name } = this.config;
    const [{ Cluster }, { leaseRecordAt }] = await Promise.all([import('./cluster.ts'), import('./lease-record.ts')]);
    const trouble = (line: string): void => warn(`cluster ${name}: ${line}`);
    // Read and written only in a campaign, under the state lock (see lease-record.ts).
    const record = leaseRecordAt(this.leaseRecordPath, name, trouble);
    return new Cluster(this.config, {
      following: (leader, why) => {
        this.isFollowing = true;
        this.leader = leader;
        log(`cluster ${name}: following (${why}); this clock ticks only once it leads`);
        this.hooks.following();
      },
      lost: (reason) => this.lose(reason),
      trouble,
      said: (line) => log(`cluster ${name}: ${line}`),
    }, record);
  }
}
