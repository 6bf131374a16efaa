import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { unchangedLimitMs, type GuardBeat, type GuardSettings } from '../shared/guard-contract.ts';
import { pm2PulseOf } from '../shared/pm2-pulse.ts';
import { isLiving } from '../shared/proc-stat.ts';
import { Duplicates } from './duplicates.ts';
import { diagnose, type Finding, type Observation } from './diagnose.ts';
import { describeFinding, needsFreshView } from './findings.ts';
import { HealBudget, MAX_HEALS, WINDOW_MS } from './heal-budget.ts';
import { isInstanceOf, isPm2Instance, type AppIdentity } from './identity.ts';
import type { Pm2App, Pm2Client } from './pm2-client.ts';
import { PM2_REFRESH_MS, type Pm2View } from './pm2-view.ts';
import { readEnviron, readProcess, readStat, startedAtMs, type ProcessInfo, type ProcessWanted } from './proc-table.ts';
import { readPulse, type Pulse } from './pulse.ts';
import { heldAfterMs, sight, unchangedMs, type Sighting } from './staleness.ts';
import { killName, killVerified } from './terminate.ts';

export type HealKind = 'hung' | 'stalled' | 'ghost' | 'errored' | 'duplicate';
export const HEAL_KINDS: readonly HealKind[] = ['hung', 'stalled', 'ghost', 'errored', 'duplicate'];

/** One guarded app, as the probe found it declared in PM2. */
export interface GuardedApp {
  identity: AppIdentity;
  settings: GuardSettings;
  /** The interpreter's image name, for the process table's scan (node for a node app). */
  image: string | undefined;
}

export interface GuardOptions {
  app: GuardedApp;
  periodMs: number;
  pm2: Pm2Client;
  view: Pm2View;
  log(line: string): void;
  warn(line: string): void;
}

// A full scan of the process table is the only way to find instances PM2 does not own, and with
// thousands of processes it costs tens of ms. An app may count in its beat the instances waiting for
// its state (`waiters`: every clock of a state either owns its lock or waits on it), so a scan is
// wanted when there are more waiters than PM2's own standbys, when the beat's writer is not PM2's
// instance, or when the daemon changed (otherwise only the probe's safety net: probe.ts); and for
// one app never twice within this, even when something calls for one.
const SCAN_MIN_GAP_MS = 2_000;
// A heartbeat file that is no heartbeat is said at most this often.
const UNUSABLE_SAID_EVERY_MS = 60_000;
// A ghost is acted on only when two looks in a row, with a fresh PM2 view each, agree.
const GHOST_CONFIRMATIONS = 2;
// An app held back because PM2's log takes nothing: PM2 is asked to reopen its logs once the probe has
// seen it held this long (a daemon stopped for a moment lets the lines land late by itself), and
// again this often while it stays held (a disk still full kills the reopened stream at once).
const LOG_REOPEN_EVERY_MS = 1_000;

/**
 * Every time below is the probe's own monotonic clock (performance.now()): a step of the system's
 * wall clock, in the probe or in the app, moves none of them.
 *
 * One guarded app: each period it is looked at three ways (PM2's view, the process table, its
 * heartbeat), judged (diagnose.ts), and healed through PM2 or a verified signal, under a heal budget
 * of its own, so that one app's crash loop never starves another's heals. In steady state a look
 * reads one pid's data (a few /proc files, or one handle) and the heartbeat.
 */
export class AppGuard {
  /** PM2's instances of the app: one, or more (a hot standby: only the beat's writer is judged). */
  private instances: Pm2App[] = [];
  /** Per PM2 instance, the process (pid + start time) already proven to be PM2's instance. */
  private readonly verifiedAs = new Map<number, string>();
  /** Per standby instance, how many looks in a row found it a ghost. */
  private readonly standbyGhostLooks = new Map<number, number>();
  private lastReport: string | undefined;
  private ghostLooks = 0;
  private scanWanted = true;
  private daemonPid: number | undefined;
  private readonly budget = new HealBudget();
  readonly heals: Record<HealKind, number> = { hung: 0, stalled: 0, ghost: 0, errored: 0, duplicate: 0 };
  /** The heartbeat file's current version, and PM2's process, as this probe has watched them. */
  private pulseSeen: Sighting | undefined;
  private processSeen: Sighting | undefined;
  /** The last beat that could be read (and the file as JSON): while the file is garbage, whose it was. */
  private lastReadable: { beat: GuardBeat; raw: Record<string, unknown> } | undefined;
  private unusableSaidAt = -Infinity;
  /** When this round of looks began: a fresh view of PM2 taken since then serves every app. */
  private roundStart = -Infinity;
  /** The last finding and what was seen, for the metrics. */
  lastSeen: { finding: Finding; seen: Observation } | undefined;
  /** The pulse PM2's metrics carry while the app cannot write its heartbeat file, as this probe watched it. */
  private pm2PulseSeen: Sighting | undefined;
  private pm2Held: string[] = [];
  /** Since when (performance.now()) the app has been seen held back by its log, and when PM2 was last asked to reopen it. */
  private logHeldSince: number | undefined;
  private logReopenedAt = -Infinity;

  private duplicates: Duplicates;
  /** The active instance's process as the last look found it (pid and creation time). */
  private lastProc: { pmId: number; proc: Pick<ProcessInfo, 'pid' | 'createTime'> } | undefined;

  constructor(private readonly options: GuardOptions) {
    this.duplicates = new Duplicates(options.app.identity, options.app.image, options.log, options.warn);
  }

  get name(): string {
    return this.options.app.identity.name;
  }

  /** Heals of this app since the probe started, all kinds. */
  get healCount(): number {
    return Object.values(this.heals).reduce((sum, count) => sum + count, 0);
  }

  /** The app's declaration changed (pm2 restart --update-env): its new settings and identity from the next look. */
  update(app: GuardedApp): void {
    if (app === this.options.app || JSON.stringify(app) === JSON.stringify(this.options.app)) return;
    this.options.app = app;
    this.duplicates = new Duplicates(app.identity, app.image, this.options.log, this.options.warn);
    this.verifiedAs.clear();
    this.scanWanted = true;
  }

  /** One look at the app, and what follows from it. `daemonPid`: the PM2 daemon's, as this round found it. */
  async check(roundStart: number, daemonPid: number | undefined): Promise<void> {
    this.roundStart = roundStart;
    if (daemonPid !== this.daemonPid) {
      // A new daemon (resurrected after a crash) can leave the old one's instance running as an orphan.
      this.daemonPid = daemonPid;
      this.scanWanted = true;
    }
    let seen = await this.observe(false);
    if (!seen) return;
    let finding = diagnose(seen);
    if (needsFreshView(finding) && !this.options.view.freshSince(roundStart)) {
      seen = await this.observe(true);
      if (!seen) return;
      finding = diagnose(seen);
    }
    this.lastSeen = { finding, seen };
    this.report(finding, seen);
    await this.act(finding, seen);
    await this.checkStandbys(seen.app);
    // PM2's own standbys wait on the app's state; a waiter beyond them is an instance PM2 does not own.
    const expectedWaiters = Math.max(0, this.instances.filter((instance) => instance.status === 'online').length - 1);
    const waiters = this.lastReadable?.raw.waiters;
    if (typeof waiters === 'number' && waiters > expectedWaiters) this.scanWanted = true;
  }

  /** Whether this app wants the next full scan of the process table (`safetyDue`: the probe's safety net is due), and what it looks for there. */
  scanTarget(now: number, safetyDue: boolean): ProcessWanted | undefined {
    if (!(this.scanWanted || safetyDue) || now - this.duplicates.lastScanAt < SCAN_MIN_GAP_MS) return undefined;
    return this.duplicates.wanted;
  }

  private async observe(refresh: boolean): Promise<Observation | undefined> {
    const { settings, identity } = this.options.app;
    const view = await this.options.view.get(refresh, this.roundStart);
    if (!view) return undefined;
    this.instances = view.apps.filter((app) => app.name === identity.name);
    const pulse = readPulse(settings.heartbeat);
    // After the read: a read held up by a stalled disk is the probe held, not the app silent.
    const now = performance.now();
    const heldMs = heldAfterMs(settings.hangMs, this.options.periodMs);
    const beat = this.beatOf(pulse);
    const keyBefore = this.pulseSeen?.key;
    this.pulseSeen = pulse.kind === 'missing' ? undefined : sight(this.pulseSeen, pulse.key, now, heldMs);
    const beatAgeMs = this.pulseSeen && unchangedMs(this.pulseSeen);
    // The active instance is the one that writes the beat; any other one is a standby.
    const app = this.instances.find((instance) => instance.pid === beat?.pid) ?? this.instances.find((instance) => instance.status === 'online') ?? this.instances[0];
    let proc: Pick<ProcessInfo, 'pid' | 'createTime'> | undefined;
    let verified = false;
    // A beat written since the last look by the pid last proven PM2's instance shows that process
    // alive as of that write, as well as a look at the process table would: the look is spared (with
    // 20 apps it was the largest part of the probe's cost). A process that died since is seen at the
    // next look, when its beat has not changed.
    const beatIsNew = pulse.kind === 'read' && keyBefore !== undefined && pulse.key !== keyBefore && beat?.pid === app?.pid;
    const last = this.lastProc;
    if (app && beatIsNew && last && last.pmId === app.pmId && last.proc.pid === app.pid && this.verifiedAs.get(app.pmId) === `${app.pmId}:${last.proc.pid}:${last.proc.createTime}`) {
      [proc, verified] = [last.proc, true];
    } else if (app && app.pid > 0) {
      [proc, verified] = this.lookAtPm2Instance(app);
    }
    this.lastProc = app && proc ? { pmId: app.pmId, proc: { pid: proc.pid, createTime: proc.createTime } } : undefined;
    this.processSeen = sight(this.processSeen, proc && app ? `${app.pmId}:${proc.pid}:${proc.createTime}` : 'none', now, heldMs);
    // A beat that carries its process's start time as Linux's /proc gives it (the clock's does: the
    // Linux backend's createTime) must match it; otherwise the pid alone ties the beat to the process.
    const startTicks = this.lastReadable?.raw.startTicks;
    const beatIsOwn = beat !== undefined && proc !== undefined && beat.pid === proc.pid && (typeof startTicks !== 'number' || startTicks === proc.createTime);
    const beatIsDuplicate = beat !== undefined && !beatIsOwn && (beatAgeMs ?? 0) <= settings.hangMs && this.isLiveDuplicateOwner(beat);
    if (beatIsDuplicate) this.scanWanted = true;
    const pm2Pulse = !verified || !app ? undefined : view.fresh ? this.pm2PulseOf(app, now, heldMs) : this.lastPm2Pulse(app, now);
    return {
      name: identity.name,
      now,
      app,
      verified,
      watchedMs: unchangedMs(this.processSeen),
      beat,
      beatAgeMs,
      beatUnusable: pulse.kind === 'unusable',
      beatIsOwn,
      beatIsDuplicate,
      hangMs: settings.hangMs,
      stallMs: settings.stallMs,
      standbyMode: this.instances.length > 1,
      ...(pm2Pulse ? { pm2Pulse } : {}),
    };
  }

  /**
   * The pulse PM2's metrics carry for PM2's own instance, while it cannot write its heartbeat
   * file. Judged only on a fresh view of PM2 (a stale one would read as a pulse that stopped), which
   * the probe takes at every look while the file is silent (a silent file is a hang to check).
   */
  private pm2PulseOf(app: Pm2App, now: number, heldMs: number): NonNullable<Observation['pm2Pulse']> | undefined {
    const pulse = pm2PulseOf(app.metrics ?? {});
    if (!pulse || pulse.pid !== app.pid) {
      this.pm2PulseSeen = undefined;
      return undefined;
    }
    // PM2 is asked at most every PM2_REFRESH_MS while the app looks alive: a gap that long between
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
   * PM2's pid for an instance, and whether it is proven to be that instance. The full identity check
   * runs once per process (pid + creation time); after that one cheap look at that pid shows it lives on.
   */
  private lookAtPm2Instance(app: Pm2App): [Pick<ProcessInfo, 'pid' | 'createTime'> | undefined, boolean] {
    const stat = readStat(app.pid);
    if (!isLiving(stat)) return [stat, false];
    const key = `${app.pmId}:${stat.pid}:${stat.createTime}`;
    if (this.verifiedAs.get(app.pmId) === key) return [stat, true];
    const proc = readProcess(app.pid);
    if (!proc) return [undefined, false];
    const startedAt = startedAtMs(proc.createTime);
    const facts = { pid: app.pid, pmId: app.pmId, launchedAt: app.launchedAt, home: this.options.pm2.home, daemonPid: this.daemonPid };
    const verified = isPm2Instance(proc, readEnviron(proc.pid), this.options.app.identity, facts, startedAt);
    if (verified) this.verifiedAs.set(app.pmId, key);
    else this.verifiedAs.delete(app.pmId);
    return [proc, verified];
  }

  /**
   * The beat a look found. A file that is no beat of the contract is said once, and the last beat
   * read stands for it, judged by when the file last changed: a live app rewrites it within its hang
   * limit anyway, and never "no heartbeat for" the time since some wall-clock stamp.
   */
  private beatOf(pulse: Pulse): GuardBeat | undefined {
    if (pulse.kind === 'read') {
      this.lastReadable = { beat: pulse.beat, raw: pulse.raw };
      return pulse.beat;
    }
    if (pulse.kind === 'missing') {
      this.lastReadable = undefined;
      return undefined;
    }
    // Said once, not at every look: garbage written again and again (the app rewrites it in
    // between) is one fault, said again only a while later.
    if (performance.now() - this.unusableSaidAt >= UNUSABLE_SAID_EVERY_MS) {
      this.options.warn(`${this.name}: ${basename(this.options.app.settings.heartbeat)} is not a heartbeat of the contract (${pulse.reason}); judging ${this.name} by when it last changed, trusting nothing in it`);
      this.unusableSaidAt = performance.now();
    }
    return this.lastReadable?.beat;
  }

  private isLiveDuplicateOwner(beat: GuardBeat): boolean {
    const owner = readProcess(beat.pid);
    return owner !== undefined && isInstanceOf(owner, readEnviron(owner.pid), this.options.app.identity);
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
      this.options.log(`${this.name} is no longer held back by its log`);
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
        this.options.warn(`killed ${finding.kind} ${this.name} pid ${proc.pid} (${killName()}); PM2 restarts it`);
      }
      this.options.view.invalidate();
    } else if (finding.kind === 'ghost' && this.ghostLooks >= GHOST_CONFIRMATIONS) {
      await this.restartThroughPm2(app, 'ghost');
    } else if (finding.kind === 'errored') {
      await this.restartThroughPm2(app, 'errored');
    }
  }

  /**
   * The app is held back because PM2's log takes none of its lines: PM2 never reopens a log stream
   * that met a write error (a full or read-only disk) by itself. Asked here, and the app told at once
   * (`pm2 trigger <app> log reopened`, for an app that registered that action), so that it tries a line; while the disk is still full the new stream dies again, so this
   * is asked again every LOG_REOPEN_EVERY_MS. Not a heal (nothing is restarted or killed): no budget.
   */
  private async reopenLogs(app: Pm2App, now: number): Promise<void> {
    if (now - (this.logHeldSince ?? now) < LOG_REOPEN_EVERY_MS || now - this.logReopenedAt < LOG_REOPEN_EVERY_MS) return;
    if (this.logReopenedAt === -Infinity) this.options.warn(`asking PM2 to reopen its logs every ${LOG_REOPEN_EVERY_MS / 1000} s until ${this.name}'s log takes its lines again (pm2 reloadLogs)`);
    this.logReopenedAt = now;
    try {
      await this.options.pm2.reloadLogs();
      await this.options.pm2.sendAction(app.pmId, 'log', 'reopened').catch(() => {});
    } catch (error) {
      this.options.warn(`PM2 could not reopen its logs: ${(error as Error).message}`);
    }
  }

  /**
   * More than one instance (a hot standby): each instance other than the active one must be a live,
   * proven instance waiting for the state. One PM2 gave up on, or one PM2 believes online but which is gone (two looks in a
   * row), is restarted through PM2: a missing standby means the next takeover would be a restart.
   */
  private async checkStandbys(active: Pm2App | undefined): Promise<void> {
    for (const standby of this.instances) {
      if (standby === active) continue;
      let looks = 0;
      if (standby.status === 'errored') {
        await this.restartThroughPm2(standby, 'errored', `standby ${this.name} (pm2 id ${standby.pmId}) is errored`);
      } else if (standby.status === 'online' && !this.lookAtPm2Instance(standby)[1]) {
        looks = (this.standbyGhostLooks.get(standby.pmId) ?? 0) + 1;
        if (looks === 1) this.options.view.invalidate();
        if (looks >= GHOST_CONFIRMATIONS) {
          await this.restartThroughPm2(standby, 'ghost', `PM2 says standby ${this.name} pid ${standby.pid} is online, but no such live ${this.name} exists (ghost)`);
          looks = 0;
        }
      }
      this.standbyGhostLooks.set(standby.pmId, looks);
    }
  }

  private async restartThroughPm2(app: Pm2App, kind: HealKind, finding?: string): Promise<void> {
    if (!this.mayHeal(kind)) return;
    if (finding) this.options.warn(finding);
    const which = this.instances.length > 1 ? ` (pm2 id ${app.pmId})` : '';
    this.options.warn(`restarting ${this.name}${which} through PM2 (${kind})`);
    try {
      await this.options.pm2.restart(app.pmId);
    } catch (error) {
      this.options.warn(`PM2 could not restart ${this.name}: ${(error as Error).message}`);
    }
    this.options.view.invalidate();
    this.ghostLooks = 0;
  }

  /** Counts a heal of `kind` against the budget; false (and a back-off line, once) when over it. */
  private mayHeal(kind: HealKind): boolean {
    const now = performance.now();
    const permission = this.budget.take(now);
    if (!permission.allowed) {
      if (permission.startedNow) {
        const seconds = Math.round((permission.until - now) / 1000);
        this.options.warn(`${this.name}: more than ${MAX_HEALS} heals within ${WINDOW_MS / 1000} s; backing off for ${seconds} s before healing it (${kind}) again`);
      }
      return false;
    }
    this.heals[kind] += 1;
    return true;
  }

  /**
   * The instances of this app that PM2 does not own among a full scan's `scanned` processes, ended
   * (duplicates.ts). `apps`: PM2's view fetched fresh for the scan, after it, so that an instance PM2
   * has just restarted is not mistaken for one.
   */
  afterScan(scanned: readonly ProcessInfo[], apps: Pm2App[]): void {
    this.scanWanted = false;
    this.instances = apps.filter((app) => app.name === this.name);
    for (const proc of this.duplicates.find(scanned, this.instances.map((instance) => instance.pid), this.daemonPid)) {
      if (!this.mayHeal('duplicate')) return;
      this.duplicates.terminate(proc);
    }
  }

  /**
   * ms from `now` until this app's beat, if it stays unchanged, crosses its hang or its stall limit;
   * undefined when no such moment is coming (no beat of its own, or its pulse only through PM2). The
   * probe looks again at that moment rather than at the end of its period: a look quantized to the
   * period made a hang found up to a period late, on top of the period the beat's first sight can lag.
   */
  nextLimitInMs(now: number): number | undefined {
    const seen = this.lastSeen?.seen;
    const sighting = this.pulseSeen;
    if (!seen?.beat || !seen.beatIsOwn || !sighting || seen.pm2Pulse) return undefined;
    const { hangMs, stallMs } = this.options.app.settings;
    // A file that is no beat is judged only by its silence; just past the limit: it is crossed when the time seen unchanged is more than it.
    const limitMs = seen.beatUnusable ? hangMs : unchangedLimitMs(seen.beat, hangMs, stallMs);
    return sighting.since + limitMs + 1 - now;
  }

  /** What `pm2 monit` shows of this app, under its name. */
  metrics(): Record<string, { value: number | string; unit?: string }> {
    const seen = this.lastSeen?.seen;
    const ageMs = seen?.beatAgeMs === undefined ? -1 : Math.round(seen.pm2Pulse?.ageMs ?? seen.beatAgeMs);
    return {
      [`${this.name} pid`]: { value: seen?.app?.pid ?? 0 },
      ...(this.instances.length > 1 ? { [`${this.name} standby pids`]: { value: this.instances.filter((instance) => instance !== seen?.app).map((instance) => instance.pid).join(' ') } } : {}),
      [`${this.name} heartbeat age`]: { value: ageMs, unit: 'ms' },
      [`${this.name} is`]: { value: this.lastSeen?.finding.kind ?? 'not looked at yet' },
      [`${this.name} heals`]: { value: this.healCount },
    };
  }

}
