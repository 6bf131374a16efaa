import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { GUARD_BEAT_CAP_BYTES, type GuardBeat } from '../../apps/shared/guard-contract.ts';
import type { Heartbeat } from '../../apps/shared/heartbeat.ts';
import { absence, buildStatus, chooseStateDir, clockRoles, isStandbyMode } from '../../scripts/status/judge.ts';
import { describeAbsence, formatBytes, formatDuration, renderStatus, statusJson } from '../../scripts/status/render.ts';
import { readBeatFile } from '../../scripts/status/sources.ts';
import type { BeatFile, Gathered, RawApp } from '../../scripts/status/types.ts';

const NOW = 1_800_000_000_000;
const STATE = '/srv/estatus/state';
const ANSI = /\x1b\[/;
const MIB = 1024 * 1024;

function app(name: string, overrides: Partial<RawApp['pm2_env']> = {}, rest: Partial<RawApp> = {}): RawApp {
  return {
    name,
    pid: name === 'clock' ? 4100 : 4200,
    monit: { memory: 70 * MIB, cpu: 1 },
    pm2_env: { status: 'online', pm_uptime: NOW - 65_000, restart_time: 2, STATE_DIR: STATE, ...overrides },
    ...rest,
  };
}

const clockApp = () => app('clock', { CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20' });
const probeWith = (metrics: RawApp['pm2_env']['axm_monitor']) => app('probe', { PROBE_HANG_MS: '3000', axm_monitor: metrics });
const probeApp = () => probeWith(healMetrics());

function healMetrics(heals: Partial<Record<'hung' | 'ghost' | 'errored' | 'duplicate', number>> = {}) {
  return {
    'clock pid': { value: 4100 },
    'heals: hung': { value: heals.hung ?? 0 },
    'heals: ghost': { value: heals.ghost ?? 0 },
    'heals: errored': { value: heals.errored ?? 0 },
    'heals: duplicate': { value: heals.duplicate ?? 0 },
    'Heap Size': { value: '10.2', unit: 'MiB' },
  };
}

function heartbeat(overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    pid: 4100,
    startTicks: 1,
    phase: 'ticking',
    startedAt: NOW - 65_000,
    readyAt: NOW - 64_900,
    writtenAt: NOW - 120,
    run: 3,
    threads: [
      { name: 'thread-1', tick: 7, at: NOW - 1_500 },
      { name: 'thread-2', tick: 4, at: NOW - 3_500 },
    ],
    waiters: 0,
    ...overrides,
  };
}

function gathered(overrides: Partial<Gathered> = {}): Gathered {
  return {
    now: NOW,
    pm2Home: '/home/me/.pm2',
    daemonPid: 4000,
    apps: [clockApp(), probeApp()],
    stateDir: { path: STATE, from: 'clock' },
    heartbeatPath: join(STATE, 'heartbeat.json'),
    heartbeat: heartbeat(),
    checkpoint: {
      path: join(STATE, 'checkpoint.json'),
      mtimeMs: NOW - 1_400.4,
      checkpoint: {
        version: 1,
        run: 3,
        runStartedAt: NOW - 20_000,
        threads: [
          { name: 'thread-1', tick: 6, at: NOW - 3_500 },
          { name: 'thread-2', tick: 3, at: NOW - 7_500 },
        ],
      },
      damage: null,
    },
    ...overrides,
  };
}

const strip = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

// ---

const StateDir = suite('chooseStateDir');

StateDir("takes the clock's STATE_DIR as PM2 launched it, over this shell's", () => {
  assert.equal(chooseStateDir([app('clock', { STATE_DIR: '/a' })], { STATE_DIR: '/b' }), { path: '/a', from: 'clock' });
});

StateDir('reads the env block when the merged top level lacks it', () => {
  const clock = app('clock', { STATE_DIR: undefined, env: { STATE_DIR: '/from-env-block' } });
  assert.equal(chooseStateDir([clock], {}), { path: '/from-env-block', from: 'clock' });
});

StateDir("falls back to the probe's, then STATE_DIR here, then the project's state/", () => {
  assert.equal(chooseStateDir([app('probe', { STATE_DIR: '/p' })], { STATE_DIR: '/b' }), { path: '/p', from: 'probe' });
  assert.equal(chooseStateDir([], { STATE_DIR: '/b' }), { path: '/b', from: 'environment' });
  assert.equal(chooseStateDir([], {}), { path: join(PROJECT_ROOT, 'state'), from: 'default' });
});

StateDir('resolves a relative STATE_DIR against the project, as the clock does', () => {
  assert.equal(chooseStateDir([app('clock', { STATE_DIR: 'var/state' })], {}).path, join(PROJECT_ROOT, 'var/state'));
});

StateDir.run();

// ---

const Absence = suite('absence');

Absence('no daemon pid, or no answer: no-daemon', () => {
  assert.equal(absence('/h', undefined, undefined), { problem: 'no-daemon', pm2Home: '/h' });
  assert.equal(absence('/h', 4000, undefined), { problem: 'no-daemon', pm2Home: '/h' });
});

Absence('a daemon with neither app: not-started, naming what it does run', () => {
  const found = absence('/h', 4000, [app('pm2-logrotate')]);
  assert.equal(found, { problem: 'not-started', pm2Home: '/h', daemonPid: 4000, apps: ['pm2-logrotate'] });
  assert.match(describeAbsence(found!), /pid 4000.*neither clock nor probe.*pm2-logrotate/);
});

Absence('either app in the list is a screen to show', () => {
  assert.is(absence('/h', 4000, [app('probe')]), undefined);
  assert.is(absence('/h', 4000, [app('clock')]), undefined);
});

Absence('each is said in one line', () => {
  for (const found of [absence('/h', undefined, undefined), absence('/h', 1, [])]) {
    const line = describeAbsence(found!);
    assert.not.match(line, /\n/);
    assert.match(line, /^status: .*PM2_HOME=\/h/);
  }
});

Absence.run();

// ---

const Build = suite('buildStatus');

Build('PM2 columns: status, pid, uptime, restarts, memory', () => {
  const { clock, probe } = buildStatus(gathered()).apps;
  assert.equal(clock, { name: 'clock', status: 'online', pid: 4100, uptimeMs: 65_000, restarts: 2, memoryBytes: 70 * MIB });
  assert.is(probe.pid, 4200);
});

Build('a stopped app has no pid, uptime or memory, but keeps its restarts', () => {
  const status = buildStatus(gathered({ apps: [app('clock', { status: 'stopped' }), probeApp()] }));
  assert.equal(status.apps.clock, { name: 'clock', status: 'stopped', pid: null, uptimeMs: null, restarts: 2, memoryBytes: null });
});

Build('an app missing from the list is null throughout', () => {
  const status = buildStatus(gathered({ apps: [clockApp()] }));
  assert.equal(status.apps.probe, { name: 'probe', status: null, pid: null, uptimeMs: null, restarts: null, memoryBytes: null });
  assert.is(status.heals, null);
});

Build("the run and each thread's last tick come from a fresh heartbeat, with their ages", () => {
  const { progress, heartbeat: beat } = buildStatus(gathered());
  assert.is(progress.source, 'heartbeat');
  assert.is(progress.run, 3);
  assert.equal(
    progress.threads.map((t) => [t.name, t.tick, t.ticksPerRun, t.ageMs, t.intervalMs]),
    [
      ['thread-1', 7, 20, 1_500, 2_000],
      ['thread-2', 4, 20, 3_500, 4_000],
    ],
  );
  assert.equal(beat, { path: join(STATE, 'heartbeat.json'), ageMs: 120, pid: 4100, phase: 'ticking', waiters: 0, hangMs: 3_000, stalled: null, held: null, viaPm2: null });
});

Build('a clock holding its ticks says why: from a fresh heartbeat, or from PM2 while the file cannot be written', () => {
  const holding = heartbeat({ held: [{ on: 'log', why: 'the log takes nothing', forMs: 2_340 }] });
  const fromFile = buildStatus(gathered({ heartbeat: holding })).heartbeat;
  assert.equal([fromFile.held, fromFile.viaPm2], ['log: the log takes nothing (for 2.3 s)', null]);
  const pulse = 'via PM2 (heartbeat.json: ENOSPC), pid 4100 beat 12';
  const clock = app('clock', { CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20', axm_monitor: { heartbeat: { value: pulse }, held: { value: 'state: ENOSPC' } } });
  const viaPm2 = buildStatus(gathered({ apps: [clock, probeApp()], heartbeat: heartbeat({ writtenAt: NOW - 60_000 }) }));
  assert.equal([viaPm2.heartbeat.held, viaPm2.heartbeat.viaPm2], ['state: ENOSPC', pulse]);
  const screen = renderStatus(viaPm2, { color: false }).join('\n');
  assert.match(screen, /the pulse goes through PM2/);
  assert.match(screen, /HOLDING the ticks: state: ENOSPC/);
});

// The clock's heartbeat as its guard writes it: the contract's fields over the clock's own. thread-1
// last progressed 8.9 s before the write, every 2 s: it owed its tick 6.9 s before the write, and the
// clock owed progress 2 intervals after its last (apps/clock/clock.ts), 4.9 s before the write.
const STUCK_THREADS: Partial<Heartbeat> = {
  ticksPerRun: 20,
  threads: [
    { name: 'thread-1', tick: 7, at: NOW - 9_000, intervalMs: 2_000, quietMs: 8_900 },
    { name: 'thread-2', tick: 4, at: NOW - 3_500, intervalMs: 4_000, quietMs: 3_400 },
  ],
};
const guarded = (owedInMs: number | null, more: Partial<Heartbeat> = {}): Heartbeat => heartbeat({ guard: 1, seq: 40, ready: true, owedInMs, ...STUCK_THREADS, ...more });
const clockGuardedBy = (env: Record<string, string>) => app('clock', { CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20', GUARD_HEARTBEAT: join(STATE, 'heartbeat.json'), ...env });
const stalledWith = (beat: Heartbeat, apps: RawApp[] = [clockApp(), probeApp()]) => buildStatus(gathered({ heartbeat: beat, apps })).heartbeat.stalled;

Build("a fresh heartbeat past the moment it owed progress by more than the stall limit is stalled, as the probe judges it, with the late thread named", () => {
  // 120 ms since the write: 4.9 + 0.12 s past the owed moment, over the 3 s limit; thread-1 owed its tick 7.02 s.
  const status = buildStatus(gathered({ heartbeat: guarded(-4_900) }));
  assert.equal(status.heartbeat.stalled, { overdueMs: 5_020, stallMs: 3_000, thread: 'thread-1', owedMs: 7_020 });
  assert.match(renderStatus(status, { color: false }).join('\n'), /^heartbeat +0\.1 s old, pid 4100, ticking but STALLED: thread-1 has owed a tick for 7\.0 s$/m);
  // Not yet past the limit: 2.8 + 0.12 s.
  assert.is(stalledWith(guarded(-2_800)), null);
  const onTime = heartbeat({ guard: 1, seq: 41, ready: true, owedInMs: 2_600, ticksPerRun: 20, threads: [{ name: 'thread-1', tick: 7, at: NOW - 1_500, intervalMs: 2_000, quietMs: 1_400 }] });
  assert.is(stalledWith(onTime), null);
});

Build("the contract's fields decide, not the threads: the limit on the owed moment is not a thread's interval + the hang limit", () => {
  // thread-1 has owed its tick for 7.02 s (more than its 2 s interval + 3 s), but the clock says it owes progress later.
  assert.is(stalledWith(guarded(-2_000)), null);
  // And the other way: stalled by the contract while no thread is past its interval + 3 s.
  const fresh = { ...STUCK_THREADS, threads: [{ name: 'thread-1', tick: 7, at: NOW - 2_600, intervalMs: 2_000, quietMs: 2_500 }] };
  assert.equal(stalledWith(guarded(-3_500, fresh)), { overdueMs: 3_620, stallMs: 3_000, thread: 'thread-1', owedMs: 620 });
});

Build("the stall limit is the clock's GUARD_STALL_MS from its PM2 env; the hang limit when it declares none or a bad one", () => {
  const probe = probeApp();
  // 5.02 s past the owed moment: within a 6 s limit, past a 4 s one.
  assert.is(stalledWith(guarded(-4_900), [clockGuardedBy({ GUARD_STALL_MS: '6000' }), probe]), null);
  assert.equal(stalledWith(guarded(-4_900), [clockGuardedBy({ GUARD_STALL_MS: '4000' }), probe])?.stallMs, 4_000);
  // 2.52 s past: past a 2 s limit, within the 3 s hang limit the probe's PROBE_HANG_MS gives.
  assert.equal(stalledWith(guarded(-2_400), [clockGuardedBy({ GUARD_STALL_MS: '2000' }), probe])?.overdueMs, 2_520);
  assert.is(stalledWith(guarded(-2_400), [clockGuardedBy({ GUARD_STALL_MS: 'abc' }), probe]), null, 'a bad setting: the hang limit');
  assert.is(stalledWith(guarded(-2_400), [app('clock', { CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20', GUARD_STALL_MS: '2000' }), probe]), null, 'no guard declared: the hang limit');
  // The hang limit is the probe's PROBE_HANG_MS: 5.02 s past is within 6 s.
  const patientProbe = app('probe', { PROBE_HANG_MS: '6000', axm_monitor: healMetrics() });
  assert.is(stalledWith(guarded(-4_900), [clockApp(), patientProbe]), null);
  assert.equal(stalledWith(guarded(-6_000), [clockApp(), patientProbe])?.stallMs, 6_000);
});

Build('never stalled: a heartbeat without the contract fields (an older clock), one held, not ready, idle, or older than the hang limit', () => {
  assert.ok(stalledWith(guarded(-4_900)), 'the same heartbeat with the contract fields is stalled');
  assert.is(stalledWith(heartbeat(STUCK_THREADS)), null, 'an older clock');
  assert.is(stalledWith(guarded(-4_900, { held: [{ on: 'state', why: 'ENOSPC', forMs: 9_000 }] })), null, 'held');
  assert.is(stalledWith(guarded(-4_900, { ready: false })), null, 'not ready');
  assert.is(stalledWith(guarded(null)), null, 'idle');
  assert.is(stalledWith(guarded(-4_900, { writtenAt: NOW - 3_001 })), null, 'a hang, not a stall');
});

Build('stalled, with no thread to name (no intervals in the heartbeat): said by the contract\'s measure', () => {
  const unnamed = guarded(-4_900, { threads: [{ name: 'thread-1', tick: 7, at: NOW - 9_000 }] });
  const status = buildStatus(gathered({ heartbeat: unnamed }));
  assert.equal(status.heartbeat.stalled, { overdueMs: 5_020, stallMs: 3_000, thread: null, owedMs: null });
  assert.match(renderStatus(status, { color: false }).join('\n'), /ticking but STALLED: 5\.0 s past the moment it owed progress \(limit 3\.0 s\)$/m);
});

Build('cluster mode: the heartbeat\'s role, leader and lease age, on a line of their own; none on one host', () => {
  const follower = heartbeat({ phase: 'following', cluster: { name: 'estatus', host: 'h2', role: 'follower', leader: 'h1:4711', leaseAgeMs: 300 } });
  const status = buildStatus(gathered({ heartbeat: follower }));
  assert.equal(status.cluster, { name: 'estatus', host: 'h2', role: 'follower', leader: 'h1:4711', leaseAgeMs: 300 });
  assert.match(renderStatus(status, { color: false }).join('\n'), /^cluster +estatus: h2 follows; h1:4711 leads \(lease confirmed 0\.3 s ago\)$/m);
  const leader = heartbeat({ cluster: { name: 'estatus', host: 'h1', role: 'leader', leader: 'h1:4711', leaseAgeMs: 100 } });
  assert.match(renderStatus(buildStatus(gathered({ heartbeat: leader })), { color: false }).join('\n'), /^cluster +estatus: h1 leads \(lease confirmed 0\.1 s ago\)$/m);
  const single = buildStatus(gathered());
  assert.is(single.cluster, null);
  assert.not.match(renderStatus(single, { color: false }).join('\n'), /^cluster/m);
});

Build('no heartbeat: the progress comes from the checkpoint, the heartbeat age is null', () => {
  const status = buildStatus(gathered({ heartbeat: undefined }));
  assert.is(status.progress.source, 'checkpoint');
  assert.equal(status.progress.threads.map((t) => t.tick), [6, 3]);
  assert.is(status.heartbeat.ageMs, null);
});

Build('a heartbeat older than PROBE_HANG_MS (a dead or hung clock) gives way to the checkpoint', () => {
  const status = buildStatus(gathered({ heartbeat: heartbeat({ writtenAt: NOW - 3_001 }) }));
  assert.is(status.progress.source, 'checkpoint');
  assert.is(status.heartbeat.ageMs, 3_001);
});

Build('a starting clock (no run yet) gives way to the checkpoint', () => {
  const status = buildStatus(gathered({ heartbeat: heartbeat({ phase: 'starting', run: null, threads: [] }) }));
  assert.is(status.progress.source, 'checkpoint');
  assert.is(status.heartbeat.phase, 'starting');
});

Build('neither: no run, no threads', () => {
  const status = buildStatus(gathered({ heartbeat: undefined, checkpoint: { path: '/c', mtimeMs: null, checkpoint: null, damage: null } }));
  assert.equal(status.progress, { source: null, run: null, threads: [] });
  assert.equal(status.checkpoint, { path: '/c', ageMs: null, run: null, damage: null });
});

Build("the checkpoint file's age is whole milliseconds", () => {
  assert.is(buildStatus(gathered()).checkpoint.ageMs, 1_400);
});

Build('heals by kind, from the probe metrics; PM2 internal metrics ignored', () => {
  const status = buildStatus(gathered({ apps: [clockApp(), probeWith(healMetrics({ hung: 2, duplicate: 1 }))] }));
  assert.equal(status.heals, { hung: 2, ghost: 0, errored: 0, duplicate: 1 });
  assert.equal(Object.keys(status.heals ?? {}), ['hung', 'ghost', 'errored', 'duplicate']);
});

Build('a probe that has not published its metrics yet: heals null', () => {
  assert.is(buildStatus(gathered({ apps: [clockApp(), probeWith(undefined)] })).heals, null);
  assert.is(buildStatus(gathered({ apps: [clockApp(), probeWith({ 'Heap Size': { value: 1 } })] })).heals, null);
});

Build('ages are never negative, whatever the clocks say', () => {
  const status = buildStatus(gathered({ heartbeat: heartbeat({ writtenAt: NOW + 50 }) }));
  assert.is(status.heartbeat.ageMs, 0);
});

Build.run();

// ---

const Render = suite('renderStatus');

Render('has every row: apps, threads, run, heartbeat, heals, checkpoint, state dir', () => {
  const text = renderStatus(buildStatus(gathered()), { color: false }).join('\n');
  assert.match(text, /^APP +STATUS +PID +UPTIME +RESTARTS +MEMORY$/m);
  assert.match(text, /^clock +online +4100 +1m 05s +2 +70\.0 MiB$/m);
  assert.match(text, /^probe +online +4200 +1m 05s +2 +70\.0 MiB$/m);
  assert.match(text, /^thread-1 +7\/20 +\d\d:\d\d:\d\d\.\d{3} +1\.5 s$/m);
  assert.match(text, /^thread-2 +4\/20 +\d\d:\d\d:\d\d\.\d{3} +3\.5 s$/m);
  assert.match(text, /^run +3 \(from the heartbeat\)$/m);
  assert.match(text, /^heartbeat +0\.1 s old, pid 4100, ticking$/m);
  assert.match(text, /^probe heals +hung 0 {2}ghost 0 {2}errored 0 {2}duplicate 0$/m);
  assert.match(text, /^checkpoint +1\.4 s old {2}\/srv\/estatus\/state\/checkpoint\.json$/m);
  assert.match(text, /^state dir +\/srv\/estatus\/state \(the clock's STATE_DIR in PM2\)$/m);
});

Render('no colour at all when not asked (stdout not a terminal)', () => {
  const lines = renderStatus(buildStatus(gathered({ heartbeat: heartbeat({ writtenAt: NOW - 10_000 }) })), { color: false });
  assert.not.match(lines.join('\n'), ANSI);
});

Render('colour when asked, and the same text under it', () => {
  const status = buildStatus(gathered());
  const colored = renderStatus(status, { color: true });
  assert.match(colored.join('\n'), ANSI);
  assert.equal(colored.map(strip), renderStatus(status, { color: false }));
});

Render('columns line up: each header starts where its values do, with or without colour', () => {
  const status = buildStatus(gathered({ apps: [app('clock', { status: 'errored', restart_time: 15 }), probeApp()] }));
  for (const color of [false, true]) {
    const lines = renderStatus(status, { color }).map(strip);
    const headerAt = lines.findIndex((line) => line.startsWith('APP'));
    const header = lines[headerAt]!;
    const rows = lines.slice(headerAt + 1, headerAt + 3);
    assert.equal(rows.map((row) => row.split(' ')[0]), ['clock', 'probe']);
    assert.is(rows.length, 2);
    for (const column of ['STATUS', 'PID', 'UPTIME', 'RESTARTS', 'MEMORY']) {
      const at = header.indexOf(column);
      for (const row of rows) assert.ok(row[at - 1] === ' ' && row[at] !== ' ', `${column} in "${row}" (color ${color})`);
    }
    assert.ok(lines.every((line) => line === line.trimEnd()), 'no trailing blanks');
  }
});

Render('the labels of the last block line up too', () => {
  const lines = renderStatus(buildStatus(gathered()), { color: false });
  const starts = ['run', 'heartbeat', 'probe heals', 'checkpoint', 'state dir'].map((label) => {
    const line = lines.find((candidate) => candidate.startsWith(`${label} `))!;
    return line.length - line.slice(label.length).trimStart().length;
  });
  assert.equal(new Set(starts).size, 1, `values start at ${starts.join(', ')}`);
});

Render('a missing heartbeat, probe metrics and checkpoint are said, not left blank', () => {
  const text = renderStatus(
    buildStatus(
      gathered({
        apps: [clockApp(), probeWith(undefined)],
        heartbeat: undefined,
        checkpoint: { path: '/s/checkpoint.json', mtimeMs: null, checkpoint: null, damage: null },
      }),
    ),
    { color: false },
  ).join('\n');
  assert.match(text, /^heartbeat +none {2}\/srv\/estatus\/state\/heartbeat\.json$/m);
  assert.match(text, /^probe heals +no metrics from the probe yet$/m);
  assert.match(text, /^checkpoint +none yet {2}\/s\/checkpoint\.json$/m);
  assert.match(text, /^run +unknown/m);
  assert.not.match(text, /^THREAD/m);
});

Render('an app not in the list is marked not started', () => {
  const text = renderStatus(buildStatus(gathered({ apps: [clockApp()] })), { color: false }).join('\n');
  assert.match(text, /^probe +not started +- +- +- +-$/m);
  assert.match(text, /^probe heals +probe not started$/m);
});

Render("a heartbeat from a clock PM2 does not own says so", () => {
  const text = renderStatus(buildStatus(gathered({ heartbeat: heartbeat({ pid: 999 }) })), { color: false }).join('\n');
  assert.match(text, /pid 999, ticking \(not PM2's clock\)/);
});

Render('clocks waiting for the state lock are counted', () => {
  const text = renderStatus(buildStatus(gathered({ heartbeat: heartbeat({ waiters: 1 }) })), { color: false }).join('\n');
  assert.match(text, /^heartbeat +0\.1 s old, pid 4100, ticking, 1 more waiting for the state lock$/m);
});

Render('on a terminal, a late thread stands out; one done with its run, waiting for the others, does not', () => {
  const yellow = /\x1b\[33m/;
  const threadLine = (threads: Heartbeat['threads']) =>
    renderStatus(buildStatus(gathered({ heartbeat: heartbeat({ threads }) })), { color: true }).find((line) => line.startsWith('thread-1'))!;
  assert.not.match(threadLine([{ name: 'thread-1', tick: 7, at: NOW - 2_400 }]), yellow);
  assert.match(threadLine([{ name: 'thread-1', tick: 7, at: NOW - 2_600 }]), yellow);
  assert.not.match(threadLine([{ name: 'thread-1', tick: 20, at: NOW - 30_000 }]), yellow);
});

Render('a damaged checkpoint says why', () => {
  const checkpoint = { path: '/s/checkpoint.json', mtimeMs: NOW - 5_000, checkpoint: null, damage: 'not JSON (truncated?)' };
  const text = renderStatus(buildStatus(gathered({ checkpoint })), { color: false }).join('\n');
  assert.match(text, /^checkpoint +5\.0 s old \(damaged: not JSON \(truncated\?\)\)/m);
});

Render.run();

// ---

const Standby = suite('hot standby: which clock is active, which is standby');

const ACTIVE = 4100;
const STANDBY = 4300;

/** A clock instance of a hot-standby pair: its pid, pm id and the role it last published. */
function instance(pid: number, pmId: number, role: string | undefined, overrides: Partial<RawApp['pm2_env']> = {}): RawApp {
  const metrics = role === undefined ? {} : { role: { value: role }, ...(role === 'active' ? { 'took over in': { value: 8.4, unit: 'ms' } } : {}) };
  return app('clock', { CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20', CLOCK_STANDBY: '1', axm_monitor: metrics, ...overrides }, { pid, pm_id: pmId });
}

// PM2 lists instances by pm id: here the standby (pm id 0, restarted after it was killed) comes first.
const pair = () => [instance(STANDBY, 0, 'standby', { restart_time: 1 }), probeApp(), instance(ACTIVE, 2, 'active', { restart_time: 0 })];

Standby("the heartbeat's pid decides: its writer is active, every other online instance a standby", () => {
  const instances = [instance(STANDBY, 0, 'standby'), instance(ACTIVE, 2, 'active')];
  assert.equal(clockRoles(instances, ACTIVE), [
    { role: 'standby', roleFrom: 'heartbeat' },
    { role: 'active', roleFrom: 'heartbeat' },
  ]);
});

Standby('the heartbeat wins over a stale role metric (a restarted active that has not said standby yet)', () => {
  const instances = [instance(STANDBY, 0, 'active'), instance(ACTIVE, 2, 'active')];
  assert.equal(clockRoles(instances, ACTIVE).map((r) => r.role), ['standby', 'active']);
});

Standby('no online instance wrote the heartbeat (the writer just died): the role metrics decide', () => {
  const instances = [instance(STANDBY, 0, 'active'), instance(ACTIVE, 2, 'standby'), instance(4400, 3, undefined)];
  assert.equal(clockRoles(instances, 999), [
    { role: 'active', roleFrom: 'metric' },
    { role: 'standby', roleFrom: 'metric' },
    { role: null, roleFrom: null },
  ]);
  assert.equal(clockRoles(instances, undefined).map((r) => r.role), ['active', 'standby', null]);
});

Standby('an instance that is not online has no role, even with the dead pid in the heartbeat', () => {
  const instances = [instance(ACTIVE, 0, 'active', { status: 'stopped' }), instance(STANDBY, 2, 'standby')];
  assert.equal(clockRoles(instances, ACTIVE), [
    { role: null, roleFrom: null },
    { role: 'standby', roleFrom: 'metric' },
  ]);
});

Standby('the mode: two instances, or one launched with CLOCK_STANDBY on', () => {
  assert.ok(isStandbyMode([instance(1, 0, undefined, { CLOCK_STANDBY: '0' }), instance(2, 1, undefined, { CLOCK_STANDBY: '0' })]));
  assert.ok(isStandbyMode([instance(1, 0, undefined, { CLOCK_STANDBY: 'true' })]));
  assert.not.ok(isStandbyMode([clockApp()]));
  assert.not.ok(isStandbyMode([instance(1, 0, undefined, { CLOCK_STANDBY: '0' })]));
  assert.not.ok(isStandbyMode([]));
});

Standby('buildStatus: apps.clock is the active one, with the old shape; clocks lists both, active first', () => {
  const status = buildStatus(gathered({ apps: pair() }));
  assert.ok(status.standby);
  assert.equal(status.apps.clock, { name: 'clock', status: 'online', pid: ACTIVE, uptimeMs: 65_000, restarts: 0, memoryBytes: 70 * MIB });
  assert.equal(
    status.clocks.map((c) => [c.pid, c.pmId, c.role, c.roleFrom, c.restarts, c.tookOverMs]),
    [
      [ACTIVE, 2, 'active', 'heartbeat', 0, 8.4],
      [STANDBY, 0, 'standby', 'heartbeat', 1, null],
    ],
  );
  const json = JSON.parse(statusJson(status)) as typeof status;
  assert.equal(json.clocks[0]?.role, 'active');
  assert.is(json.apps.clock.pid, ACTIVE);
});

Standby('no active known and none online: apps.clock falls back to the first instance, as before', () => {
  const stopped = [instance(STANDBY, 0, 'standby', { status: 'stopped' }), instance(ACTIVE, 2, 'active', { status: 'stopped' })];
  const status = buildStatus(gathered({ apps: [...stopped, probeApp()], heartbeat: undefined }));
  assert.is(status.apps.clock.status, 'stopped');
  assert.equal(status.clocks.map((c) => c.role), [null, null]);
});

Standby('one instance: not hot standby, clocks holds it alone with no role, and the screen is as before', () => {
  const status = buildStatus(gathered());
  assert.not.ok(status.standby);
  assert.equal(status.clocks.map((c) => [c.pid, c.role, c.roleFrom, c.tookOverMs]), [[4100, null, null, null]]);
  const text = renderStatus(status, { color: false }).join('\n');
  assert.match(text, /^clock +online +4100 /m);
  assert.not.match(text, /\((active|standby)\)/);
  assert.not.match(text, /^takeover/m);
});

Standby('the screen: one row per instance by role, aligned with the probe; the standby waiting; the takeover time', () => {
  const lines = renderStatus(buildStatus(gathered({ apps: pair(), heartbeat: heartbeat({ waiters: 1 }) })), { color: false });
  const text = lines.join('\n');
  assert.match(text, /^clock \(active\) +online +4100 +1m 05s +0 +70\.0 MiB$/m);
  assert.match(text, /^clock \(standby\) +online +4300 +1m 05s +1 +70\.0 MiB$/m);
  assert.match(text, /^probe +online +4200 +1m 05s +2 +70\.0 MiB$/m);
  const header = lines.findIndex((line) => line.startsWith('APP'));
  assert.equal(lines.slice(header + 1, header + 4).map((line) => line.split('  ')[0]), ['clock (active)', 'clock (standby)', 'probe']);
  for (const column of ['STATUS', 'PID', 'UPTIME', 'RESTARTS', 'MEMORY']) {
    const at = lines[header]!.indexOf(column);
    for (const row of lines.slice(header + 1, header + 4)) assert.ok(row[at - 1] === ' ' && row[at] !== ' ', `${column} in "${row}"`);
  }
  assert.match(text, /^heartbeat +0\.1 s old, pid 4100, ticking, 1 waiting for the state lock \(the standby\)$/m);
  assert.match(text, /^takeover +8\.4 ms \(pid 4100 took over: from the old active's death to ticking here\)$/m);
});

Standby('the screen: a waiter beyond the standby, or a standby not waiting, stands out', () => {
  const more = renderStatus(buildStatus(gathered({ apps: pair(), heartbeat: heartbeat({ waiters: 2 }) })), { color: false }).join('\n');
  assert.match(more, /, 2 waiting for the state lock \(1 more than the standby\)$/m);
  const none = renderStatus(buildStatus(gathered({ apps: pair(), heartbeat: heartbeat({ waiters: 0 }) })), { color: false }).join('\n');
  assert.match(none, /, the standby is not waiting for the state lock$/m);
});

Standby('the screen: an instance with no role is named by its pm id; an active that started first has no takeover', () => {
  const apps = [instance(STANDBY, 0, undefined, { status: 'launching' }), instance(ACTIVE, 2, 'active', { axm_monitor: { role: { value: 'active' } } }), probeApp()];
  const text = renderStatus(buildStatus(gathered({ apps })), { color: false }).join('\n');
  assert.match(text, /^clock \(active\) +online +4100 /m);
  assert.match(text, /^clock \(pm2 id 0\) +launching +- /m);
  assert.match(text, /^takeover +none: the active \(pid 4100\) started first, it did not take over$/m);
});

Standby.run();

// ---

const Formats = suite('formats');

Formats('durations', () => {
  assert.is(formatDuration(0), '0.0 s');
  assert.is(formatDuration(1_234), '1.2 s');
  assert.is(formatDuration(42_900), '42 s');
  assert.is(formatDuration(184_000), '3m 04s');
  assert.is(formatDuration(7_500_000), '2h 05m');
  assert.is(formatDuration(3 * 86_400_000 + 4 * 3_600_000), '3d 04h');
});

Formats('bytes', () => {
  assert.is(formatBytes(512), '512 B');
  assert.is(formatBytes(2048), '2.0 KiB');
  assert.is(formatBytes(75_513_856), '72.0 MiB');
  assert.is(formatBytes(3 * 1024 * MIB), '3.0 GiB');
});

Formats('JSON: one line that parses back to the same Status', () => {
  const status = buildStatus(gathered());
  const line = statusJson(status);
  assert.not.match(line, /\n/);
  assert.equal(JSON.parse(line), status);
});

Formats.run();

// ---

const Guarded = suite('apps under guard');

const BEATS = '/srv/estatus/state/guard';
const WORKER = 4500;

/** An app declared under guard, as PM2 lists it (its env carries the settings: guard-app.js). */
function guardedApp(name: string, pid: number, settings: Record<string, string> = {}, overrides: Partial<RawApp['pm2_env']> = {}): RawApp {
  const env = { GUARD_HEARTBEAT: join(BEATS, `${name}.json`), GUARD_HANG_MS: '2000', GUARD_STALL_MS: '1500', ...settings };
  return app(name, { env, ...overrides }, { pid });
}

function beatFile(beat: Partial<GuardBeat> & { pid: number }, ageMs = 100): BeatFile {
  return { mtimeMs: NOW - ageMs, beat: { guard: 1, seq: 7, ready: true, owedInMs: 1_000, progressAgoMs: 300, ...beat }, problem: null };
}

/** Clock and probe as ever, a worker under guard beside them, and the probe's metrics for it. */
function withWorker(worker: RawApp, beat: BeatFile | undefined, metrics: Record<string, { value: unknown }> = {}): Gathered {
  const probe = probeWith({ ...healMetrics(), 'worker is': { value: 'healthy' }, 'worker heals': { value: 2 }, ...metrics });
  return gathered({ apps: [clockApp(), probe, worker], beats: beat ? { [join(BEATS, 'worker.json')]: beat } : {} });
}

Guarded('an app with GUARD_HEARTBEAT in its env is listed with PM2, its beat, the probe and its settings; others are not', () => {
  const status = buildStatus(withWorker(guardedApp('worker', WORKER), beatFile({ pid: WORKER }, 300)));
  assert.equal(status.guarded.map((g) => g.name), ['worker'], 'clock and probe declare no guard here');
  assert.equal(status.guarded[0], {
    name: 'worker',
    status: 'online',
    pid: WORKER,
    instances: 1,
    hangMs: 2_000,
    stallMs: 1_500,
    settingError: null,
    sharesBeatWith: [],
    beat: {
      path: join(BEATS, 'worker.json'),
      ageMs: 300,
      pid: WORKER,
      seq: 7,
      ready: true,
      owedInMs: 1_000,
      progressAgoMs: 300,
      owedFromNowMs: 700,
      idle: false,
      held: null,
      stalledMs: null,
      foreign: false,
      problem: null,
    },
    verdict: 'healthy',
    heals: 2,
  });
});

Guarded('the default settings when only GUARD_HEARTBEAT is given, as the probe reads them', () => {
  const worker = app('worker', { env: { GUARD_HEARTBEAT: join(BEATS, 'worker.json') } }, { pid: WORKER });
  const [row] = buildStatus(withWorker(worker, beatFile({ pid: WORKER }))).guarded;
  assert.equal([row?.hangMs, row?.stallMs], [3_000, 3_000]);
});

Guarded('an idle app owes nothing; a late one is late by its owed moment less the file age; stalled once past its stall setting', () => {
  const row = (beat: BeatFile) => buildStatus(withWorker(guardedApp('worker', WORKER), beat)).guarded[0]!.beat;
  const idle = row(beatFile({ pid: WORKER, owedInMs: null }));
  assert.equal([idle.idle, idle.owedFromNowMs, idle.stalledMs], [true, null, null]);
  const late = row(beatFile({ pid: WORKER, owedInMs: -1_000 }, 400));
  assert.equal([late.owedFromNowMs, late.stalledMs], [-1_400, null]);
  const stalled = row(beatFile({ pid: WORKER, owedInMs: -1_200 }, 400));
  assert.equal([stalled.owedFromNowMs, stalled.stalledMs], [-1_600, 1_600]);
  const held = row(beatFile({ pid: WORKER, owedInMs: -1_200, held: [{ on: 'state', why: 'ENOSPC', forMs: 5_040 }] }, 400));
  assert.equal([held.held, held.stalledMs], ['state: ENOSPC (for 5 s)', null], 'a held app owes nothing');
  const silent = row(beatFile({ pid: WORKER, owedInMs: -1_200 }, 2_500));
  assert.is(silent.stalledMs, null, 'a silent beat is a hang to the probe, not a stall');
});

Guarded('a bad guard setting: the probe\'s one line (the app, the setting, expected, given); not guarded; the others still listed', () => {
  const bad = guardedApp('sloppy', 4600, { GUARD_HANG_MS: 'abc' });
  const stale = { 'sloppy is': { value: 'healthy' }, 'sloppy heals': { value: 1 } };
  const status = buildStatus(gathered({ apps: [clockApp(), probeWith({ ...healMetrics(), ...stale, 'worker is': { value: 'healthy' } }), bad, guardedApp('worker', WORKER)], beats: { [join(BEATS, 'worker.json')]: beatFile({ pid: WORKER }) } }));
  assert.equal(status.guarded.map((g) => g.name), ['sloppy', 'worker']);
  const [sloppy, worker] = status.guarded;
  assert.match(sloppy!.settingError!, /^app sloppy: GUARD_HANG_MS="abc" is not valid: expected whole milliseconds from 200 to 3600000/);
  assert.equal([sloppy!.hangMs, sloppy!.beat.path, sloppy!.verdict, sloppy!.heals], [null, null, null, null], 'what the probe said before is stale');
  assert.is(worker!.verdict, 'healthy');
  const text = renderStatus(status, { color: false }).join('\n');
  assert.match(text, /^sloppy +online +4600 +- +- +- +- +not guarded +- +- +-$/m);
  assert.ok(text.split('\n').includes(sloppy!.settingError!), 'said in one line of its own');
  const relative = buildStatus(gathered({ apps: [guardedApp('rel', 1, { GUARD_HEARTBEAT: 'state/rel.json' })] })).guarded[0]!;
  assert.match(relative.settingError!, /^app rel: GUARD_HEARTBEAT="state\/rel\.json" is not valid: expected an absolute path/);
});

Guarded('a file that is no beat of the contract is said with its reason, and nothing in it is shown', () => {
  const status = buildStatus(withWorker(guardedApp('worker', WORKER), { mtimeMs: null, beat: null, problem: 'a symbolic link, which is not followed' }));
  const { beat } = status.guarded[0]!;
  assert.equal([beat.problem, beat.pid, beat.ageMs, beat.ready], ['a symbolic link, which is not followed', null, null, null]);
  const text = renderStatus(status, { color: false }).join('\n');
  assert.match(text, /^worker +online +4500 +not a beat +- +- +- +healthy +2 +2\.0 s +1\.5 s$/m);
  assert.match(text, /^worker: \/srv\/estatus\/state\/guard\/worker\.json is not a heartbeat of the contract \(a symbolic link, which is not followed\): not followed, nothing in it trusted$/m);
});

Guarded("a beat of a pid that is no online instance of the app is not its pulse, and is never judged stalled", () => {
  const status = buildStatus(withWorker(guardedApp('worker', WORKER), beatFile({ pid: 999, owedInMs: -5_000 })));
  const row = status.guarded[0]!;
  assert.equal([row.pid, row.beat.foreign, row.beat.stalledMs], [WORKER, true, null]);
  assert.match(renderStatus(status, { color: false }).join('\n'), /^worker: the beat at .*worker\.json is pid 999's, which is no online instance of worker in PM2: not its pulse$/m);
});

Guarded('a stopped app has no pid; with two instances the beat\'s writer is the one shown', () => {
  const stopped = buildStatus(withWorker(guardedApp('worker', WORKER, {}, { status: 'stopped' }), undefined)).guarded[0]!;
  assert.equal([stopped.status, stopped.pid, stopped.beat.ageMs], ['stopped', null, null]);
  const first = guardedApp('worker', 4700);
  const second = guardedApp('worker', WORKER);
  const pair = buildStatus(gathered({ apps: [first, second], beats: { [join(BEATS, 'worker.json')]: beatFile({ pid: WORKER }) } })).guarded;
  assert.equal(pair.map((g) => [g.name, g.pid, g.instances]), [['worker', WORKER, 2]]);
});

Guarded('one beat file declared by two apps (a GUARD_HEARTBEAT exported in the shell that ran pm2 start) is said for each', () => {
  const shared = { GUARD_HEARTBEAT: '/home/me/beat.json' };
  const status = buildStatus(gathered({ apps: [guardedApp('clock', 4100, shared), guardedApp('probe', 4200, shared), guardedApp('worker', WORKER)] }));
  assert.equal(status.guarded.map((g) => [g.name, g.sharesBeatWith]), [['clock', ['probe']], ['probe', ['clock']], ['worker', []]]);
  const text = renderStatus(status, { color: false }).join('\n');
  assert.match(text, /^clock: probe declares the same GUARD_HEARTBEAT \(\/home\/me\/beat\.json\): one file can be one app's beat only/m);
  assert.match(text, /^probe: clock declares the same GUARD_HEARTBEAT/m);
});

Guarded('the screen: one row per guarded app, aligned, with owes and the probe\'s word; the clock\'s own screen above unchanged', () => {
  const clock = app('clock', { CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20', env: { GUARD_HEARTBEAT: join(STATE, 'heartbeat.json'), GUARD_HANG_MS: '3000' } });
  const probe = probeWith({ ...healMetrics(), 'clock is': { value: 'healthy' }, 'clock heals': { value: 0 }, 'worker is': { value: 'stalled' }, 'worker heals': { value: 1 } });
  const beats = { [join(STATE, 'heartbeat.json')]: beatFile({ pid: 4100, owedInMs: null }, 120), [join(BEATS, 'worker.json')]: beatFile({ pid: WORKER, owedInMs: -2_000 }, 250) };
  const status = buildStatus(gathered({ apps: [clock, probe, guardedApp('worker', WORKER)], beats }));
  const lines = renderStatus(status, { color: false });
  const text = lines.join('\n');
  assert.match(text, /^GUARDED +STATUS +PID +BEAT +READY +OWES +HELD +PROBE SAYS +HEALS +HANG +STALL$/m);
  assert.match(text, /^clock +online +4100 +0\.1 s old +yes +nothing \(idle\) +no +healthy +0 +3\.0 s +3\.0 s$/m);
  assert.match(text, /^worker +online +4500 +0\.3 s old +yes +2\.3 s late +no +stalled +1 +2\.0 s +1\.5 s$/m);
  assert.match(text, /^worker: STALLED: beating, but 2\.3 s past the moment it owed progress \(limit 1\.5 s\)$/m);
  assert.match(text, /^heartbeat +0\.1 s old, pid 4100, ticking$/m, "the clock's own lines as before");
  const header = lines.findIndex((line) => line.startsWith('GUARDED'));
  for (const column of ['STATUS', 'PID', 'BEAT', 'READY', 'OWES', 'HELD', 'PROBE SAYS', 'HEALS', 'HANG', 'STALL']) {
    const at = lines[header]!.indexOf(column);
    for (const row of lines.slice(header + 1, header + 3)) assert.ok(row[at - 1] === ' ' && row[at] !== ' ', `${column} in "${row}"`);
  }
  const colored = renderStatus(status, { color: true });
  assert.equal(colored.map(strip), lines);
});

Guarded('no app under guard, or no probe yet, is said', () => {
  assert.match(renderStatus(buildStatus(gathered()), { color: false }).join('\n'), /^GUARDED  none: no app in PM2's list has GUARD_HEARTBEAT in its env$/m);
  const alone = buildStatus(gathered({ apps: [clockApp(), guardedApp('worker', WORKER)], beats: { [join(BEATS, 'worker.json')]: beatFile({ pid: WORKER }) } }));
  assert.equal([alone.guarded[0]!.verdict, alone.guarded[0]!.heals], [null, null]);
  assert.match(renderStatus(alone, { color: false }).join('\n'), /^worker +online +4500 +0\.1 s old +yes +in 0\.9 s +no +no probe +- +2\.0 s +1\.5 s$/m);
});

Guarded('JSON: the guarded apps beside every field as before', () => {
  const status = buildStatus(withWorker(guardedApp('worker', WORKER), beatFile({ pid: WORKER })));
  const json = JSON.parse(statusJson(status)) as typeof status;
  assert.equal(json.guarded, status.guarded);
  assert.equal(Object.keys(json).slice(0, -1), Object.keys(buildStatus(gathered())).slice(0, -1));
  assert.is(Object.keys(json).at(-1), 'guarded');
});

Guarded.run();

// ---

type Files = { dir: string };
const BeatFiles = suite<Files>('readBeatFile: a beat file as it is on disk', { dir: '' });

BeatFiles.before.each(async (context) => {
  context.dir = await mkdtemp(join(tmpdir(), 'estatus-status-beat-'));
});
BeatFiles.after.each(async ({ dir }) => {
  await rm(dir, { recursive: true, force: true });
});

const GOOD = JSON.stringify({ guard: 1, pid: 4500, seq: 3, ready: true, owedInMs: 800, progressAgoMs: 200 });

BeatFiles('a beat of the contract, with the file time; no file at all is no problem', async ({ dir }) => {
  const path = join(dir, 'worker.json');
  await writeFile(path, GOOD);
  const read = await readBeatFile(path);
  assert.equal([read.beat?.pid, read.beat?.owedInMs, read.problem], [4500, 800, null]);
  assert.ok(Math.abs((read.mtimeMs ?? 0) - (await stat(path)).mtimeMs) < 1);
  assert.equal(await readBeatFile(join(dir, 'none.json')), { mtimeMs: null, beat: null, problem: null });
});

BeatFiles('garbage, another shape, too large, a symlink to a good beat, a directory: each a reason, nothing read', async ({ dir }) => {
  const at = (name: string) => join(dir, name);
  await writeFile(at('garbage.json'), '{"guard":1,"pid":');
  await writeFile(at('shape.json'), JSON.stringify({ guard: 2, pid: 1, seq: 1, ready: true, owedInMs: null }));
  await writeFile(at('large.json'), ' '.repeat(GUARD_BEAT_CAP_BYTES + 1));
  await writeFile(at('target.json'), GOOD);
  await symlink(at('target.json'), at('link.json'));
  await mkdir(at('dir.json'));
  const problems = await Promise.all(['garbage', 'shape', 'large', 'link', 'dir'].map(async (name) => readBeatFile(at(`${name}.json`))));
  for (const read of problems) assert.equal([read.beat, read.mtimeMs], [null, null]);
  assert.equal(problems.map((read) => read.problem), [
    'not JSON',
    '"guard" is 2, not 1',
    '64.0 KB, more than the 64 KB it can be',
    'a symbolic link, which is not followed',
    'not a regular file: a directory',
  ]);
});

BeatFiles.run();
