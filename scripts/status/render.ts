import * as util from 'node:util';
import dayjs from 'dayjs';
import { APPS, type Absence, type AppStatus, type ClockInstance, type GuardedApp, type Status, type ThreadStatus } from './types.ts';

/** `npm run status`'s layout: a Status becomes the lines of one screen (colour only on a terminal), or JSON. */

// The supervisor restarts a worker with no tick for one interval plus this: a later tick is late.
const WORKER_GRACE_MS = 500;
// A heartbeat is written every 250 ms: one older than a few periods is worth a look.
const HEARTBEAT_STALE_MS = 1_000;

export function describeAbsence(found: Absence): string {
  if (found.problem === 'no-daemon') {
    return `status: no PM2 daemon runs for PM2_HOME=${found.pm2Home} (start one with npm start)`;
  }
  const others = found.apps.length > 0 ? ` (its list holds only ${found.apps.join(', ')})` : ' (its list is empty)';
  return `status: the PM2 daemon (pid ${found.daemonPid}, PM2_HOME=${found.pm2Home}) runs neither clock nor probe${others}; start them with npm start`;
}

/** Exactly one line per refresh for machines: the Status as it is, times in ms since the epoch. */
export function statusJson(status: Status | Absence): string {
  return JSON.stringify(status);
}


export type Tone = 'good' | 'warn' | 'bad' | 'dim' | 'head' | undefined;
interface Cell {
  text: string;
  tone?: Tone;
}

export interface RenderOptions {
  /** ANSI colour: only when stdout is a terminal that takes it. */
  color: boolean;
}

/** The screen, as lines without trailing newlines. */
export function renderStatus(status: Status, { color }: RenderOptions): string[] {
  const paint = painter(color);
  const { apps, progress, heartbeat, checkpoint } = status;
  const lines = [
    `${paint('head', 'estatus')}  ${dayjs(status.at).format('YYYY-MM-DD HH:mm:ss')}  PM2 daemon pid ${status.daemonPid}, PM2_HOME=${status.pm2Home}`,
    '',
  ];

  lines.push(
    ...table(paint, [
      ['APP', 'STATUS', 'PID', 'UPTIME', 'RESTARTS', 'MEMORY'].map((text) => ({ text, tone: 'head' as const })),
      // In hot-standby mode, one row per clock instance, named by its role; otherwise one per app.
      ...(status.standby
        ? [...status.clocks.map((clock) => ({ label: instanceLabel(clock), app: clock as AppStatus })), { label: 'probe', app: apps.probe }]
        : APPS.map((name) => ({ label: name, app: apps[name] }))
      ).map(({ label, app }) => [
        { text: label },
        { text: app.status ?? 'not started', tone: statusTone(app.status) },
        { text: app.pid ? String(app.pid) : '-' },
        { text: app.uptimeMs === null ? '-' : formatDuration(app.uptimeMs) },
        { text: app.restarts === null ? '-' : String(app.restarts) },
        { text: app.memoryBytes === null ? '-' : formatBytes(app.memoryBytes) },
      ]),
    ]),
    '',
  );

  if (progress.threads.length > 0) {
    lines.push(
      ...table(paint, [
        ['THREAD', 'TICK', 'AT', 'AGE'].map((text) => ({ text, tone: 'head' as const })),
        ...progress.threads.map((thread) => [
          { text: thread.name },
          { text: thread.ticksPerRun === null ? String(thread.tick) : `${thread.tick}/${thread.ticksPerRun}` },
          { text: thread.at === null ? '-' : dayjs(thread.at).format('HH:mm:ss.SSS') },
          { text: thread.ageMs === null ? '-' : formatDuration(thread.ageMs), tone: threadTone(thread, apps.clock.status) },
        ]),
      ]),
      '',
    );
  }

  const run: Cell[] =
    progress.run === null
      ? [{ text: 'unknown: no heartbeat while ticking and no checkpoint yet', tone: 'warn' }]
      : [{ text: String(progress.run) }, { text: ` (from ${progress.source === 'heartbeat' ? 'the heartbeat' : 'the checkpoint'})`, tone: 'dim' }];
  const beat: Cell[] =
    heartbeat.ageMs === null
      ? [{ text: 'none', tone: 'bad' }, { text: `  ${heartbeat.path}`, tone: 'dim' }]
      : [
          { text: `${formatDuration(heartbeat.ageMs)} old`, tone: heartbeatTone(heartbeat.ageMs, heartbeat.hangMs) },
          { text: `, pid ${heartbeat.pid}, ${heartbeat.phase}` },
          ...(heartbeat.stalled ? [{ text: ` but STALLED: ${stallText(heartbeat.stalled)}`, tone: 'bad' as const }] : []),
          ...(heartbeat.viaPm2 ? [{ text: ` (the file cannot be written: the pulse goes through PM2, ${heartbeat.viaPm2})`, tone: 'warn' as const }] : []),
          ...(heartbeat.held ? [{ text: `; HOLDING the ticks: ${heartbeat.held}`, tone: 'warn' as const }] : []),
          ...(apps.clock.pid && heartbeat.pid !== apps.clock.pid ? [{ text: ` (not PM2's clock)`, tone: 'warn' as const }] : []),
          ...(status.standby ? standbyWaiters(heartbeat.waiters, status.clocks) : heartbeat.waiters ? [{ text: `, ${heartbeat.waiters} more waiting for the state lock`, tone: 'warn' as const }] : []),
        ];
  const heals: Cell[] =
    status.heals === null
      ? [{ text: apps.probe.status === null ? 'probe not started' : 'no metrics from the probe yet', tone: 'warn' }]
      : Object.entries(status.heals).flatMap(([kind, count], index) => [
          { text: `${index > 0 ? '  ' : ''}${kind} ` },
          { text: String(count), tone: count > 0 ? ('warn' as const) : undefined },
        ]);
  const saved: Cell[] =
    checkpoint.ageMs === null
      ? [{ text: checkpoint.damage ?? 'none yet', tone: checkpoint.damage ? 'bad' : 'warn' }, { text: `  ${checkpoint.path}`, tone: 'dim' }]
      : [
          { text: `${formatDuration(checkpoint.ageMs)} old` },
          ...(checkpoint.damage ? [{ text: ` (damaged: ${checkpoint.damage})`, tone: 'bad' as const }] : []),
          { text: `  ${checkpoint.path}`, tone: 'dim' },
        ];
  const stateFrom = {
    clock: "the clock's STATE_DIR in PM2",
    probe: "the probe's STATE_DIR in PM2",
    environment: 'STATE_DIR here',
    default: "the project's default",
  }[status.stateDir.from];
  const active = status.clocks.find((clock) => clock.role === 'active');
  const takeover: Cell[] =
    active?.tookOverMs != null
      ? [{ text: `${active.tookOverMs} ms` }, { text: ` (pid ${active.pid} took over: from the old active's death to ticking here)`, tone: 'dim' }]
      : [{ text: active ? `none: the active (pid ${active.pid}) started first, it did not take over` : 'no active clock', tone: active ? 'dim' : 'warn' }];
  lines.push(
    ...fields(paint, [
      ['run', run],
      ['heartbeat', beat],
      ...(status.standby ? [['takeover', takeover] as [string, Cell[]]] : []),
      ...(status.cluster ? [['cluster', clusterCells(status.cluster)] as [string, Cell[]]] : []),
      ['probe heals', heals],
      ['checkpoint', saved],
      ['state dir', [{ text: status.stateDir.path }, { text: ` (${stateFrom})`, tone: 'dim' }]],
    ]),
    '',
    ...guardedLines(paint, status.guarded, apps.probe.status),
  );
  return lines;
}

/**
 * Every app under guard, the clock among them: PM2's status and pid, its beat (age of the file, ready,
 * what it owes from now, what holds it), what the probe last said of it and its heals, its settings;
 * then one line per thing wrong with a declaration or a beat file.
 */
function guardedLines(paint: Paint, guarded: GuardedApp[], probeStatus: string | null): string[] {
  if (guarded.length === 0) return [`${paint('head', 'GUARDED')}  none: no app in PM2's list has GUARD_HEARTBEAT in its env`];
  const noVerdict = probeStatus === null ? 'no probe' : '-';
  const rows = guarded.map((app): Cell[] => {
    const { beat } = app;
    const bad = app.settingError !== null;
    return [
      { text: app.instances > 1 ? `${app.name} (${app.instances} instances)` : app.name },
      { text: app.status, tone: statusTone(app.status) },
      { text: app.pid ? String(app.pid) : '-' },
      beatCell(app),
      { text: beat.ready === null ? '-' : beat.ready ? 'yes' : 'no', tone: beat.ready === false ? 'warn' : undefined },
      owesCell(app),
      { text: beat.held ?? (beat.ready === null ? '-' : 'no'), tone: beat.held ? 'warn' : undefined },
      bad ? { text: 'not guarded', tone: 'bad' } : { text: app.verdict ?? noVerdict, tone: verdictTone(app.verdict) },
      { text: app.heals === null ? '-' : String(app.heals), tone: app.heals ? 'warn' : undefined },
      { text: app.hangMs === null ? '-' : formatDuration(app.hangMs) },
      { text: app.stallMs === null ? '-' : formatDuration(app.stallMs) },
    ];
  });
  const header = ['GUARDED', 'STATUS', 'PID', 'BEAT', 'READY', 'OWES', 'HELD', 'PROBE SAYS', 'HEALS', 'HANG', 'STALL'].map((text) => ({ text, tone: 'head' as const }));
  return [...table(paint, [header, ...rows]), ...guarded.flatMap((app) => guardedNotes(app).map((note) => paint(note.tone, note.text)))];
}

function beatCell({ beat, settingError, hangMs, status }: GuardedApp): Cell {
  if (settingError !== null) return { text: '-' };
  if (beat.problem !== null) return { text: 'not a beat', tone: 'bad' };
  if (beat.ageMs === null) return { text: 'none', tone: status === 'online' ? 'bad' : undefined };
  const text = `${formatDuration(beat.ageMs)} old${beat.foreign ? ` (pid ${beat.pid})` : ''}`;
  if (beat.foreign) return { text, tone: 'warn' };
  return { text, tone: hangMs !== null && beat.ageMs > hangMs ? 'bad' : 'good' };
}

function owesCell({ beat }: GuardedApp): Cell {
  if (beat.idle === null) return { text: '-' };
  if (beat.idle) return { text: 'nothing (idle)' };
  const owed = beat.owedFromNowMs ?? 0;
  if (owed >= 0) return { text: `in ${formatDuration(owed)}` };
  return { text: `${formatDuration(-owed)} late`, tone: beat.stalledMs !== null ? 'bad' : 'warn' };
}

/** What is wrong with an app's declaration or beat, in one line each. */
function guardedNotes({ name, settingError, beat, stallMs, sharesBeatWith }: GuardedApp): Cell[] {
  if (settingError !== null) return [{ text: settingError, tone: 'bad' }];
  const notes: Cell[] = [];
  if (sharesBeatWith.length > 0) {
    const others = sharesBeatWith.join(', ');
    notes.push({ text: `${name}: ${others} ${sharesBeatWith.length > 1 ? 'declare' : 'declares'} the same GUARD_HEARTBEAT (${beat.path}): one file can be one app's beat only (one exported in the shell that ran pm2 start reaches every app it starts)`, tone: 'bad' });
  }
  if (beat.problem !== null) notes.push({ text: `${name}: ${beat.path} is not a heartbeat of the contract (${beat.problem}): not followed, nothing in it trusted`, tone: 'bad' });
  if (beat.foreign) notes.push({ text: `${name}: the beat at ${beat.path} is pid ${beat.pid}'s, which is no online instance of ${name} in PM2: not its pulse`, tone: 'warn' });
  if (beat.stalledMs !== null && stallMs !== null) {
    notes.push({ text: `${name}: STALLED: beating, but ${formatDuration(beat.stalledMs)} past the moment it owed progress (limit ${formatDuration(stallMs)})`, tone: 'bad' });
  }
  return notes;
}

/** The probe's finding kinds (apps/probe/diagnose.ts): healthy, the ones it heals, and the ones it waits out. */
function verdictTone(verdict: string | null): Tone {
  if (verdict === null) return 'dim';
  if (verdict === 'healthy') return 'good';
  if (['hung', 'stalled', 'ghost', 'errored', 'not-declared'].includes(verdict)) return 'bad';
  return 'warn';
}

/** `1.2 s`, `42 s`, `3m 04s`, `2h 05m`, `3d 04h`: short enough for a column, exact enough to compare. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const pad = (value: number) => String(value).padStart(2, '0');
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ${pad(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h ${pad(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${pad(Math.floor(seconds / 3_600) % 24)}h`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `clock (active)`, `clock (standby)`; `clock (pm2 id 2)` for an instance with no role (not online, or undecided). */
function instanceLabel(instance: ClockInstance): string {
  if (instance.role) return `clock (${instance.role})`;
  return instance.pmId === null ? 'clock (no role)' : `clock (pm2 id ${instance.pmId})`;
}

/** The waiters on the state lock in hot-standby mode: the online standbys are expected, any more is a clock PM2 does not own. */
function standbyWaiters(waiters: number | null, clocks: ClockInstance[]): Cell[] {
  if (waiters === null) return [];
  const standbys = clocks.filter((clock) => clock.role === 'standby').length;
  if (waiters > standbys) return [{ text: `, ${waiters} waiting for the state lock (${waiters - standbys} more than the standby)`, tone: 'warn' }];
  if (waiters < standbys) return [{ text: `, the standby is not waiting for the state lock`, tone: 'warn' }];
  return [{ text: `, ${waiters} waiting for the state lock (the standby)` }];
}


function statusTone(status: string | null): Tone {
  if (status === 'online') return 'good';
  if (status === 'stopped' || status === 'stopping' || status === 'launching' || status === 'waiting restart') return 'warn';
  return 'bad';
}

function threadTone(thread: ThreadStatus, clockStatus: string | null): Tone {
  if (thread.ageMs === null || thread.intervalMs === null || clockStatus !== 'online') return undefined;
  // A thread done with its run waits, without ticking, for the slower ones.
  if (thread.ticksPerRun !== null && thread.tick >= thread.ticksPerRun) return undefined;
  return thread.ageMs > thread.intervalMs + WORKER_GRACE_MS ? 'warn' : 'good';
}

// The late thread by name when the heartbeat names one; else the contract's own measure, as guarded apps say it.
function stallText(stalled: NonNullable<Status['heartbeat']['stalled']>): string {
  if (stalled.thread !== null && stalled.owedMs !== null) return `${stalled.thread} has owed a tick for ${formatDuration(stalled.owedMs)}`;
  return `${formatDuration(stalled.overdueMs)} past the moment it owed progress (limit ${formatDuration(stalled.stallMs)})`;
}

function heartbeatTone(ageMs: number, hangMs: number): Tone {
  if (ageMs > hangMs) return 'bad';
  return ageMs > HEARTBEAT_STALE_MS ? 'warn' : 'good';
}

export type Paint = (tone: Tone, text: string) => string;

type Format = Extract<Parameters<typeof util.styleText>[0], unknown[]>;

const STYLES: Record<Exclude<Tone, undefined>, Format> = {
  good: ['green'],
  warn: ['yellow'],
  bad: ['red', 'bold'],
  dim: ['dim'],
  head: ['bold'],
};

const ANSI: Record<Exclude<Tone, undefined>, [string, string]> = {
  good: ['\x1b[32m', '\x1b[39m'],
  warn: ['\x1b[33m', '\x1b[39m'],
  bad: ['\x1b[1m\x1b[31m', '\x1b[39m\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  head: ['\x1b[1m', '\x1b[22m'],
};

/** Colours text by its meaning, or leaves it plain when `color` is false. */
export function painter(color: boolean): Paint {
  if (!color) return (_, text) => text;
  // util.styleText came with Node 20.12; Node 20.11 gets the same codes by hand.
  const styleText = (util as { styleText?: typeof util.styleText }).styleText;
  return (tone, text) => {
    if (!tone || text === '') return text;
    // Whether to colour was decided once, for stdout; styleText must not decide again for itself.
    if (styleText) return styleText(STYLES[tone], text, { validateStream: false });
    const [open, close] = ANSI[tone];
    return `${open}${text}${close}`;
  };
}

/** Rows of cells in aligned columns: padded by their visible text, so colour never shifts a column. */
function table(paint: Paint, rows: Cell[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.text.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => {
        const padding = column === row.length - 1 ? '' : ' '.repeat((widths[column] ?? 0) - cell.text.length + 2);
        return paint(cell.tone, cell.text) + padding;
      })
      .join(''),
  );
}

/** Labelled lines, the values aligned after the longest label. */
function fields(paint: Paint, entries: [string, Cell[]][]): string[] {
  const width = Math.max(...entries.map(([label]) => label.length)) + 2;
  return entries.map(([label, cells]) => label.padEnd(width) + cells.map((cell) => paint(cell.tone, cell.text)).join(''));
}

/** Cluster mode: this host's role, who leads, and how fresh its lease is at etcd. */
function clusterCells(cluster: NonNullable<Status['cluster']>): Cell[] {
  const lease = cluster.leaseAgeMs === null ? 'no lease' : `lease confirmed ${formatDuration(cluster.leaseAgeMs)} ago`;
  if (cluster.role === 'leader') return [{ text: `${cluster.name}: ${cluster.host} leads`, tone: 'good' }, { text: ` (${lease})`, tone: 'dim' }];
  const leader = cluster.leader ? `${cluster.leader} leads` : 'no leader known (etcd out of reach?)';
  return [{ text: `${cluster.name}: ${cluster.host} follows; ${leader}`, tone: cluster.leader ? undefined : 'warn' }, { text: ` (${lease})`, tone: 'dim' }];
}
