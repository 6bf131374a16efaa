import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ProbeConfig } from '../shared/config.ts';
import type { Heartbeat, Hold } from '../shared/heartbeat.ts';
import { publishMetrics } from '../shared/pm2-ipc.ts';
import { pm2PulseOf } from '../shared/pm2-pulse.ts';
import { statePaths } from '../shared/state-dir.ts';
import { Duplicates } from './duplicates.ts';
import { diagnose, type Finding, type Observation } from './diagnose.ts';
import { describeFinding, needsFreshView } from './findings.ts';
import { HealBudget, MAX_HEALS, WINDOW_MS } from './heal-budget.ts';
import { isClockOfOurState, isPm2Clock, type ClockIdentity } from './identity.ts';
import type { Pm2App, Pm2Client } from './pm2-client.ts';
import { readEnviron, readProcess, readStat, startedAtMs, type ProcessInfo } from './proc-table.ts';
import { readPulse, type Pulse } from './pulse.ts';
import { heldAfterMs, sight, unchangedMs, type Sighting } from './staleness.ts';
import { killName, killVerified } from './terminate.ts';
import { isLiving } from '../shared/proc-stat.ts';

export type HealKind = 'hung' | 'stalled' | 'ghost' | 'errored' | 'duplicate';

export interface ProbeOptions {
  config: ProbeConfig;
  identity: ClockIdentity;
  pm2: Pm2Client;
  log(line: string): void;
  warn(line: string): void;
}

// PM2 is asked again at least this often; at once whenever what the probe sees disagrees with it.
const PM2_REFRESH_MS = 2_000;
// A full scan of the process table is the only way to find clocks PM2 does not own, and with
// thousands of processes it costs tens of ms. Every clock of this state either owns the state lock
// or waits on it, and the owner's heartbeat counts the waiters: so a scan runs when there are
// waiters, when the owner is not PM2's clock, or when the daemon changed; otherwise only as a
// safety net, this often…
const SAFETY_SCAN_EVERY_MS = 60_000;
// …and never twice within this, even when something calls for one.
const SCAN_MIN_GAP_MS = 2_000;
// PM2 shows the metrics; they need not change more often than this.
const PUBLISH_EVERY_MS = 1_000;
// A heartbeat file that is no heartbeat is said at most this often.
const UNUSABLE_SAID_EVERY_MS = 60_000;
// A ghost is acted on only when two looks in a row, with a fresh PM2 view each, agree.
const GHOST_CONFIRMATIONS = 2;
// A clock held because PM2's log takes nothing: PM2 is asked to reopen its logs once the probe has
// seen it held this long (a daemon stopped for a moment lets the lines land late by itself), and
// again this often while it stays held (a disk still full kills the reopened stream at once).
const LOG_REOPEN_EVERY_MS = 1_000;

/**
 * Every time below is the probe's own monotonic clock (performance.now()): a step of the system's
 * wall clock, in the probe or in the clock, moves none of them.
 *
 * The watchdog's loop: each period it looks at the clock three ways (PM2's view, the process table,
 * the heartbeat), judges (diagnose.ts), and heals through PM2 or a verified signal, under its own
 * back-off. In steady state a look reads one pid's data (a few /proc files, or one handle) and the heartbeat.
 */
export class Probe {
  /** PM2's clock instances: one, or two in hot-standby mode (CLOCK_STANDBY=1). */
  private clocks: Pm2App[] = [];
  private appFetchedAt = -Infinity;
  private pm2Reachable = true;
  /** Per PM2 instance, the process (pid + start time) already proven to be PM2's clock. */
  private readonly verifiedAs = new Map<number, string>();
  /** Per standby instance, how many looks in a row found it a ghost. */
  private readonly standbyGhostLooks = new Map<number, number>();
  private lastReport: string | undefined;
  private ghostLooks = 0;
  private scanWanted = true;
  private daemonPid: number | undefined;
  private readonly budget = new HealBudget();
  readonly heals: Record<HealKind, number> = { hung: 0, stalled: 0, ghost: 0, errored: 0, duplicate: 0 };
  private readonly heartbeatPath: string;
  /** The heartbeat file's current version, and PM2's clock process, as this probe has watched them. */
  private pulseSeen: Sighting | undefined;
  private processSeen: Sighting | undefined;
  /** The last heartbeat that could be read: while the file is garbage, whose it was. */
  private lastReadable: Heartbeat | undefined;
  private unusableSaidAt = -Infinity;
  /** The pulse PM2's metrics carry while the clock cannot write its heartbeat file, as this probe watched it. */
  private pm2PulseSeen: Sighting | undefined;
  private pm2Held: Hold['on'][] = [];
  /** Since when (performance.now()) the clock has been seen holding for its log, and when PM2 was last asked to reopen it. */
  private logHeldSince: number | undefined;
  private logReopenedAt = -Infinity;

  private readonly duplicates: Duplicates;

  constructor(private readonly options: ProbeOptions) {
    this.heartbeatPath = statePaths(options.config.stateDir).heartbeat;
    this.duplicates = new Duplicates(options.identity, options.log, options.warn);
  }

  /** One look, and what follows from it. */
  async check(): Promise<void> {
    const daemonPid = this.options.pm2.daemonPid();
    if (daemonPid !== this.daemonPid) {
      // A new daemon (resurrected after a crash) can leave the old one's clock running as an orphan.
      this.daemonPid = daemonPid;
      this.scanWanted = true;
      this.appFetchedAt = -Infinity;
    }
    let seen = await this.observe(false);
    if (!seen) return;
    let finding = diagnose(seen);
    if (needsFreshView(finding) && seen.now - this.appFetchedAt > 0) {
      seen = await this.observe(true);
      if (!seen) return;
      finding = diagnose(seen);
    }
    this.report(finding, seen);
    await this.act(finding, seen);
    await this.checkStandbys(seen.app);
    // PM2's own standbys wait on the lock; a waiter beyond them is a clock PM2 does not own.
    const expectedWaiters = Math.max(0, this.clocks.filter((clock) => clock.status === 'online').length - 1);
    if ((seen.heartbeat?.waiters ?? 0) > expectedWaiters) this.scanWanted = true;
    if (this.scanWanted || seen.now - this.duplicates.lastScanAt >= SAFETY_SCAN_EVERY_MS) await this.scanForDuplicates();
    this.publish(seen);
  }

  private async observe(refresh: boolean): Promise<Observation | undefined> {
    const { config } = this.options;
    const fresh = refresh || performance.now() - this.appFetchedAt >= PM2_REFRESH_MS;
    if (fresh) {
      try {
        this.clocks = (await this.options.pm2.apps()).filter((app) => app.name === 'clock');
        this.appFetchedAt = performance.now();
        if (!this.pm2Reachable) this.options.log('PM2 answers again');
        this.pm2Reachable = true;
      } catch (error) {
        if (this.pm2Reachable) this.options.warn(`cannot reach PM2 (${(error as Error).message}); retrying every period, healing nothing meanwhile`);
        this.pm2Reachable = false;
        return undefined;
      }
    }
    const pulse = await readPulse(this.heartbeatPath);
    // After the read: a read held up by a stalled disk is the probe held, not the clock silent.
    const now = performance.now();
    const heldMs = heldAfterMs(config.hangMs, config.periodMs);
    const heartbeat = this.heartbeatOf(pulse);
    this.pulseSeen = pulse.kind === 'missing' ? undefined : sight(this.pulseSeen, pulse.key, now, heldMs);
    const heartbeatAgeMs = this.pulseSeen && unchangedMs(this.pulseSeen);
    // The active clock is the instance that writes the heartbeat; any other one is a standby.
    const app = this.clocks.find((clock) => clock.pid === heartbeat?.pid) ?? this.clocks.find((clock) => clock.status === 'online') ?? this.clocks[0];
    let proc: Pick<ProcessInfo, 'pid' | 'createTime'> | undefined;
    let verified = false;
    if (app && app.pid > 0) [proc, verified] = this.lookAtPm2Clock(app);
    this.processSeen = sight(this.processSeen, proc && app ? `${app.pmId}:${proc.pid}:${proc.createTime}` : 'none', now, heldMs);
    // The clock records its start time as Linux's /proc gives it (= the Linux backend's createTime);
    // where it cannot (null: Windows, macOS) the pid alone ties the heartbeat to the process.
    const heartbeatIsOwn = heartbeat !== undefined && proc !== undefined && heartbeat.pid === proc.pid &&
      (heartbeat.startTicks === null || heartbeat.startTicks === proc.createTime);
    const heartbeatIsDuplicate = heartbeat !== undefined && !heartbeatIsOwn && (heartbeatAgeMs ?? 0) <= config.hangMs && this.isLiveDuplicateOwner(heartbeat);
    if (heartbeatIsDuplicate) this.scanWanted = true;
    const pm2Pulse = !verified || !app ? undefined : fresh ? this.pm2PulseOf(app, now, heldMs) : this.lastPm2Pulse(app, now);
    return {
      now,
      app,
      verified,
      watchedMs: unchangedMs(this.processSeen),
      heartbeat,
      heartbeatAgeMs,
      heartbeatUnusable: pulse.kind === 'unusable',
      heartbeatIsOwn,
      heartbeatIsDuplicate,
      hangMs: config.hangMs,
      standbyMode: this.clocks.length > 1,
      ...(pm2Pulse ? { pm2Pulse } : {}),
    };
  }

  /**
   * The pulse PM2's metrics carry for PM2's own clock process, while it cannot write its heartbeat
   * file. Judged only on a fresh view of PM2 (a stale one would read as a pulse that stopped), which
   * the probe takes at every look while the file is silent (a silent file is a hang to check).
   */
  private pm2PulseOf(app: Pm2App, now: number, heldMs: number): NonNullable<Observation['pm2Pulse']> | undefined {
    const pulse = pm2PulseOf(app.metrics ?? {});
    if (!pulse || pulse.pid !== app.pid) {
      this.pm2PulseSeen = undefined;
      return undefined;
    }
    // PM2 is asked at most every PM2_REFRESH_MS while the clock looks alive: a gap that long between
    // two looks at this pulse is the probe's rhythm, not the probe held.
    this.pm2PulseSeen = sight(this.pm2PulseSeen, `${pulse.pid}:${pulse.beat}`, now, Math.max(heldMs, 2 * PM2_REFRESH_MS));
    this.pm2Held = pulse.held;
    return { ageMs: unchangedMs(this.pm2PulseSeen), held: pulse.held };
  }

  /**
   * Between fresh views, the last pulse PM2 showed, aged as if it has not changed since: at worst it
   * reads as a hang, which calls for a fresh view before anything is done.
   */
  private lastPm2Pulse(app: Pm2App, now: number): NonNullable<Observation['pm2Pulse']> | undefined {
    const seen = this.pm2PulseSeen;
    if (!seen || !seen.key.startsWith(`${app.pid}:`)) return undefined;
    return { ageMs: now - seen.since, held: this.pm2Held };
  }

  /**
   * PM2's clock pid, and whether it is proven to be PM2's clock. The full identity check runs once
   * per process (pid + creation time); after that one cheap look at that pid shows it lives on.
   */
  private lookAtPm2Clock(app: Pm2App): [Pick<ProcessInfo, 'pid' | 'createTime'> | undefined, boolean] {
    const stat = readStat(app.pid);
    if (!isLiving(stat)) return [stat, false];
    const key = `${app.pmId}:${stat.pid}:${stat.createTime}`;
    if (this.verifiedAs.get(app.pmId) === key) return [stat, true];
    const proc = readProcess(app.pid);
    if (!proc) return [undefined, false];
    const startedAt = startedAtMs(proc.createTime);
    const facts = { pid: app.pid, pmId: app.pmId, launchedAt: app.launchedAt, home: this.options.pm2.home, daemonPid: this.daemonPid };
    const verified = isPm2Clock(proc, readEnviron(proc.pid), this.options.identity, facts, startedAt);
    if (verified) this.verifiedAs.set(app.pmId, key);
    else this.verifiedAs.delete(app.pmId);
    return [proc, verified];
  }

  /**
   * The heartbeat a look found. A file that is no heartbeat is said once, and the last heartbeat read
   * stands for it, judged by when the file last changed: a live clock rewrites it within a heartbeat
   * period anyway, and never "no heartbeat for" the time since some wall-clock stamp.
   */
  private heartbeatOf(pulse: Pulse): Heartbeat | undefined {
    if (pulse.kind === 'read') {
      this.lastReadable = pulse.heartbeat;
      return pulse.heartbeat;
    }
    if (pulse.kind === 'missing') {
      this.lastReadable = undefined;
      return undefined;
    }
    // Said once, not at every look: garbage written again and again (the clock rewrites it in
    // between) is one fault, said again only a while later.
    if (performance.now() - this.unusableSaidAt >= UNUSABLE_SAID_EVERY_MS) {
      this.options.warn(`${basename(this.heartbeatPath)} is not a heartbeat (${pulse.reason}); judging the clock by when it last changed`);
      this.unusableSaidAt = performance.now();
    }
    return this.lastReadable;
  }

  private isLiveDuplicateOwner(heartbeat: Heartbeat): boolean {
    const owner = readProcess(heartbeat.pid);
    return owner !== undefined && isClockOfOurState(owner, readEnviron(owner.pid), this.options.identity);
  }

  /** One line per finding, when it changes (a steady state is said once, not every period). */
  private report(finding: Finding, seen: Observation): void {
    const line = describeFinding(finding, seen);
    const key = `${finding.kind}:${'pid' in finding ? finding.pid : ''}`;
    if (line === undefined || key === this.lastReport) return;
    this.lastReport = key;
    if (finding.kind === 'healthy' || finding.kind === 'starting' || finding.kind === 'stopped') this.options.log(line);
    else this.options.warn(line);
  }

  private async act(finding: Finding, seen: Observation): Promise<void> {
    this.ghostLooks = finding.kind === 'ghost' ? this.ghostLooks + 1 : 0;
    const { app } = seen;
    const logHeld = finding.kind === 'held' && finding.on.includes('log');
    if (!logHeld && this.logReopenedAt !== -Infinity) {
      this.options.log('clock no longer holds its ticks for its log');
      this.logReopenedAt = -Infinity;
    }
    this.logHeldSince = logHeld ? (this.logHeldSince ?? seen.now) : undefined;
    if (!app) return;
    if (logHeld) await this.reopenLogs(app, seen.now);
    if (finding.kind === 'hung' || finding.kind === 'stalled') {
      const proc = readProcess(finding.pid);
      if (!proc || !this.mayHeal(finding.kind)) return;
      // A hung process cannot shut down gracefully, and its checkpoint is already on disk. A stalled
      // one could, but what stalled it may hold up its stop too; its checkpoint is as current.
      if (killVerified(proc.pid, proc.createTime)) {
        this.options.warn(`killed ${finding.kind} clock pid ${proc.pid} (${killName()}); PM2 restarts it`);
      }
      this.appFetchedAt = -Infinity;
    } else if (finding.kind === 'ghost' && this.ghostLooks >= GHOST_CONFIRMATIONS) {
      await this.restartThroughPm2(app, 'ghost');
    } else if (finding.kind === 'errored') {
      await this.restartThroughPm2(app, 'errored');
    }
  }

  /**
   * The clock holds its ticks because PM2's log takes none of its lines: PM2 never reopens a log
   * stream that met a write error (a full or read-only disk) by itself. Asked here, and the clock told
   * at once, so that it tries a line; while the disk is still full the new stream dies again, so this
   * is asked again every LOG_REOPEN_EVERY_MS. Not a heal (nothing is restarted or killed): no budget.
   */
  private async reopenLogs(app: Pm2App, now: number): Promise<void> {
    if (now - (this.logHeldSince ?? now) < LOG_REOPEN_EVERY_MS || now - this.logReopenedAt < LOG_REOPEN_EVERY_MS) return;
    if (this.logReopenedAt === -Infinity) this.options.warn(`asking PM2 to reopen its logs every ${LOG_REOPEN_EVERY_MS / 1000} s until clock's log takes its lines again (pm2 reloadLogs)`);
    this.logReopenedAt = now;
    try {
      await this.options.pm2.reloadLogs();
      await this.options.pm2.sendAction(app.pmId, 'log', 'reopened');
    } catch (error) {
      this.options.warn(`PM2 could not reopen its logs: ${(error as Error).message}`);
    }
  }

  /**
   * Hot-standby mode: each instance other than the active one must be a live, proven clock waiting
   * for the state. One PM2 gave up on, or one PM2 believes online but which is gone (two looks in a
   * row), is restarted through PM2: a missing standby means the next takeover would be a restart.
   */
  private async checkStandbys(active: Pm2App | undefined): Promise<void> {
    for (const standby of this.clocks) {
      if (standby === active) continue;
      let looks = 0;
      if (standby.status === 'errored') {
        await this.restartThroughPm2(standby, 'errored', `standby clock (pm2 id ${standby.pmId}) is errored`);
      } else if (standby.status === 'online' && !this.lookAtPm2Clock(standby)[1]) {
        looks = (this.standbyGhostLooks.get(standby.pmId) ?? 0) + 1;
        if (looks === 1) this.appFetchedAt = -Infinity;
        if (looks >= GHOST_CONFIRMATIONS) {
          await this.restartThroughPm2(standby, 'ghost', `PM2 says standby clock pid ${standby.pid} is online, but no such live clock exists (ghost)`);
          looks = 0;
        }
      }
      this.standbyGhostLooks.set(standby.pmId, looks);
    }
  }

  private async restartThroughPm2(app: Pm2App, kind: HealKind, finding?: string): Promise<void> {
    if (!this.mayHeal(kind)) return;
    if (finding) this.options.warn(finding);
    const which = this.clocks.length > 1 ? ` (pm2 id ${app.pmId})` : '';
    this.options.warn(`restarting clock${which} through PM2 (${kind})`);
    try {
      await this.options.pm2.restart(app.pmId);
    } catch (error) {
      this.options.warn(`PM2 could not restart clock: ${(error as Error).message}`);
    }
    this.appFetchedAt = -Infinity;
    this.ghostLooks = 0;
  }

  /** Counts a heal of `kind` against the budget; false (and a back-off line, once) when over it. */
  private mayHeal(kind: HealKind): boolean {
    const now = performance.now();
    const permission = this.budget.take(now);
    if (!permission.allowed) {
      if (permission.startedNow) {
        const seconds = Math.round((permission.until - now) / 1000);
        this.options.warn(`more than ${MAX_HEALS} heals within ${WINDOW_MS / 1000} s; backing off for ${seconds} s before healing (${kind}) again`);
      }
      return false;
    }
    this.heals[kind] += 1;
    return true;
  }

  /**
   * Scans for clocks of this state that PM2 does not own and terminates them (duplicates.ts). PM2's
   * view is fetched fresh, so a clock PM2 has just restarted is not mistaken for one.
   */
  private async scanForDuplicates(): Promise<void> {
    if (performance.now() - this.duplicates.lastScanAt < SCAN_MIN_GAP_MS) return;
    const seen = await this.observe(true);
    if (!seen) return;
    this.scanWanted = false;
    for (const proc of this.duplicates.find(seen.app?.pid, this.daemonPid)) {
      if (!this.mayHeal('duplicate')) return;
      this.duplicates.terminate(proc);
    }
  }

  private lastPublished = '';
  private lastPublishedAt = -Infinity;
  private publish(seen: Observation): void {
    if (seen.now - this.lastPublishedAt < PUBLISH_EVERY_MS) return;
    const ageMs = seen.heartbeatAgeMs === undefined ? -1 : Math.round(seen.heartbeatAgeMs);
    const metrics = {
      'clock pid': { value: seen.app?.pid ?? 0 },
      ...(this.clocks.length > 1 ? { 'standby pids': { value: this.clocks.filter((clock) => clock !== seen.app).map((clock) => clock.pid).join(' ') } } : {}),
      'heartbeat age': { value: ageMs, unit: 'ms' },
      'heals: hung': { value: this.heals.hung },
      'heals: stalled': { value: this.heals.stalled },
      'heals: ghost': { value: this.heals.ghost },
      'heals: errored': { value: this.heals.errored },
      'heals: duplicate': { value: this.heals.duplicate },
      'last scan': { value: Math.round(this.duplicates.lastScanMs * 10) / 10, unit: 'ms' },
      'full scans': { value: this.duplicates.scans },
      // Its own CPU time (user + system, ms): on Windows PM2 reads an app's CPU through wmic, or a
      // PowerShell per look where wmic is gone (Windows 11 24H2); this costs nothing and is the same
      // on every platform, so the bench reads the probe's cost here.
      'cpu time': { value: Math.round(cpuMs()), unit: 'ms' },
    };
    const text = JSON.stringify(metrics);
    if (text === this.lastPublished) return;
    this.lastPublished = text;
    this.lastPublishedAt = seen.now;
    publishMetrics(metrics);
  }
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
