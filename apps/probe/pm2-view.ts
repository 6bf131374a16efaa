import { performance } from 'node:perf_hooks';
import type { Pm2App, Pm2Client } from './pm2-client.ts';

// PM2 is asked again at least this often; at once whenever what the probe sees disagrees with it
// (a process gone, a silent heartbeat, a scan: findings.ts needsFreshView). Not more often: PM2 sends
// every app's whole environment each time (~170 KB for 20 apps), and decoding it every 2 s was 0.16 %
// of a core with 20 apps, a sixth of the probe's cost; what only this refresh shows (an app added,
// a new declaration) can wait 4 s.
export const PM2_REFRESH_MS = 4_000;

/**
 * PM2's process list, shared by every guarded app of one probe: fetched at most once per round of
 * looks however many apps ask for a fresh one, and at least every PM2_REFRESH_MS. Every time is the
 * probe's monotonic clock.
 */
export class Pm2View {
  private apps: Pm2App[] = [];
  private fetchedAt = -Infinity;
  private reachable = true;

  constructor(
    private readonly pm2: Pm2Client,
    private readonly log: (line: string) => void,
    private readonly warn: (line: string) => void,
  ) {}

  /**
   * PM2's apps, and whether they were fetched within the round that began at `roundStart`. Fetched
   * again when `refresh` asks for it and none was taken this round, or when the last is too old;
   * undefined while PM2 cannot be reached (said once, and once when it answers again).
   */
  async get(refresh: boolean, roundStart: number): Promise<{ apps: Pm2App[]; fresh: boolean } | undefined> {
    if ((refresh && !this.freshSince(roundStart)) || performance.now() - this.fetchedAt >= PM2_REFRESH_MS) {
      try {
        this.apps = await this.pm2.apps();
        this.fetchedAt = performance.now();
        if (!this.reachable) this.log('PM2 answers again');
        this.reachable = true;
      } catch (error) {
        if (this.reachable) this.warn(`cannot reach PM2 (${(error as Error).message}); retrying every period, healing nothing meanwhile`);
        this.reachable = false;
        return undefined;
      }
    }
    return { apps: this.apps, fresh: this.freshSince(roundStart) };
  }

  /** Whether the view was fetched at or after `at`. */
  freshSince(at: number): boolean {
    return this.fetchedAt >= at;
  }

  /** The next get() fetches again: PM2 has just been asked to change something. */
  invalidate(): void {
    this.fetchedAt = -Infinity;
  }
}
