import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { diagnose, type Finding } from '../../apps/probe/diagnose.ts';
import { readPulse } from '../../apps/probe/pulse.ts';
import { heldAfterMs, sight, unchangedMs, type Sighting } from '../../apps/probe/staleness.ts';
import { HEARTBEAT_PERIOD_MS, type Heartbeat } from '../../apps/shared/heartbeat.ts';

const HANG_MS = 1_000;
const PERIOD_MS = 200;
const HELD_MS = heldAfterMs(HANG_MS, PERIOD_MS);
const HOUR = 3_600_000;
const FOUR_YEARS = 4 * 365 * 86_400_000;
const REAL_WALL = 1_800_000_000_000;

/**
 * A clock that beats every HEARTBEAT_PERIOD_MS until `frozenAt` (monotonic ms; its wall clock is the
 * monotonic one plus whatever offset `wallOffset` gives at that moment), watched by a probe that
 * looks every PERIOD_MS on its own monotonic clock; `probeHeld` says when the probe itself did not run.
 * Returns each look's finding, with the monotonic time of the look.
 */
function watch(options: { untilMs: number; frozenAt?: number; wallOffset?: (monoMs: number) => number; probeHeld?: (monoMs: number) => boolean }): { at: number; finding: Finding }[] {
  const { untilMs, frozenAt = Infinity, wallOffset = () => 0, probeHeld = () => false } = options;
  const looks: { at: number; finding: Finding }[] = [];
  let seen: Sighting | undefined;
  for (let now = 0; now <= untilMs; now += PERIOD_MS) {
    if (probeHeld(now)) continue;
    const lastWrite = Math.floor(Math.min(now, frozenAt) / HEARTBEAT_PERIOD_MS) * HEARTBEAT_PERIOD_MS;
    const heartbeat: Heartbeat = {
      pid: 100,
      startTicks: 5,
      phase: 'ticking',
      startedAt: REAL_WALL,
      readyAt: REAL_WALL,
      writtenAt: REAL_WALL + lastWrite + wallOffset(lastWrite),
      monotonicMs: lastWrite,
      run: 1,
      threads: [],
      waiters: 0,
    };
    seen = sight(seen, JSON.stringify(heartbeat), now, HELD_MS);
    const finding = diagnose({
      name: 'clock',
      now,
      app: { name: 'clock', pmId: 0, pid: 100, status: 'online', launchedAt: REAL_WALL, restarts: 0 },
      verified: true,
      watchedMs: now,
      beat: { guard: 1, pid: 100, seq: lastWrite, ready: true, owedInMs: null },
      beatAgeMs: unchangedMs(seen),
      beatIsOwn: true,
      beatIsDuplicate: false,
      hangMs: HANG_MS,
      stallMs: HANG_MS,
    });
    looks.push({ at: now, finding });
  }
  return looks;
}

const heals = (looks: { finding: Finding }[]): Finding[] => looks.map(({ finding }) => finding).filter((finding) => finding.kind !== 'healthy');

const Steps = suite('staleness: steps of the wall clock');

Steps('the clock stepped back an hour, forward an hour, forward four years, back again: never a heal', () => {
  const steps: [number, number][] = [[2_000, -HOUR], [4_000, +HOUR], [6_000, +FOUR_YEARS], [8_000, -FOUR_YEARS], [10_000, 0]];
  const offset = (mono: number) => steps.filter(([at]) => at <= mono).at(-1)?.[1] ?? 0;
  const looks = watch({ untilMs: 12_000, wallOffset: offset });
  assert.ok(looks.length > 50);
  assert.equal(heals(looks), []);
});

Steps('a clock stamping its heartbeats an hour behind (or four years ahead) from the start: healthy throughout', () => {
  assert.equal(heals(watch({ untilMs: 5_000, wallOffset: () => -HOUR })), []);
  assert.equal(heals(watch({ untilMs: 5_000, wallOffset: () => FOUR_YEARS })), []);
});

Steps.run();

// ---

const Frozen = suite('staleness: a frozen heartbeat');

Frozen('hung once unchanged for PROBE_HANG_MS on the monotonic clock, whatever its wall stamp says', () => {
  for (const offset of [0, -HOUR, FOUR_YEARS]) {
    const looks = watch({ untilMs: 6_000, frozenAt: 3_000, wallOffset: () => offset });
    const first = looks.find(({ finding }) => finding.kind !== 'healthy');
    assert.ok(first, `never judged hung with the clock's wall ${offset} ms off`);
    assert.is(first.finding.kind, 'hung');
    // Frozen after its write at 3 000 ms; the probe first saw that write at 3 000 ms: hung at the first look past 4 000.
    assert.ok(first.at > 3_000 + HANG_MS && first.at <= 3_000 + HANG_MS + PERIOD_MS, `judged hung at ${first.at} ms`);
    assert.ok(looks.filter(({ at }) => at < first.at).every(({ finding }) => finding.kind === 'healthy'));
  }
});

Frozen('a probe that was held itself gives no age on its first look back: it watches a whole PROBE_HANG_MS first', () => {
  // The clock froze at 3 000 ms; the probe was stopped from 2 500 to 9 000 ms.
  const looks = watch({ untilMs: 12_000, frozenAt: 3_000, probeHeld: (mono) => mono > 2_500 && mono < 9_000 });
  const back = looks.find(({ at }) => at >= 9_000);
  assert.equal(back?.finding, { kind: 'healthy', pid: 100, beatAgeMs: 0 });
  const hung = looks.find(({ finding }) => finding.kind === 'hung');
  assert.ok(hung && hung.at > 9_000 + HANG_MS && hung.at <= 9_000 + HANG_MS + PERIOD_MS, `judged hung at ${hung?.at} ms`);
});

Frozen('the first look of a probe just started gives no age either', () => {
  const looks = watch({ untilMs: 3_000, frozenAt: -1 });
  assert.equal(looks[0]?.finding, { kind: 'healthy', pid: 100, beatAgeMs: 0 });
  assert.ok(looks.find(({ finding }) => finding.kind === 'hung' && finding.silentMs > HANG_MS));
});

Frozen.run();

// ---

const Sight = suite('sight');

Sight('a new version, a first look, or a break longer than heldMs starts the count again', () => {
  let seen = sight(undefined, 'a', 100, 500);
  assert.is(unchangedMs(seen), 0);
  seen = sight(seen, 'a', 400, 500);
  seen = sight(seen, 'a', 800, 500);
  assert.is(unchangedMs(seen), 700);
  assert.is(unchangedMs(sight(seen, 'b', 1_000, 500)), 0);
  assert.is(unchangedMs(sight(seen, 'a', 1_301, 500)), 0, 'a look 501 ms after the last one: the probe was held');
  assert.is(unchangedMs(sight(seen, 'a', 1_300, 500)), 1_200);
});

Sight('held means half the hang limit, never under two periods', () => {
  assert.is(heldAfterMs(3_000, 500), 1_500);
  assert.is(heldAfterMs(1_000, 200), 500);
  assert.is(heldAfterMs(3_000, 5_000), 10_000);
});

Sight.run();

// ---

const Pulse = suite('readPulse: a key that changes whenever the file does', { dir: '' });

Pulse.before((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'estatus-pulse-'));
});
Pulse.after(({ dir }) => rmSync(dir, { recursive: true, force: true }));

/** Writes `text` at `path` as the clock does: a new file renamed over the old one. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

Pulse('a heartbeat: keyed by its content', async ({ dir }) => {
  const path = join(dir, 'heartbeat.json');
  assert.equal(await readPulse(path), { kind: 'missing' });
  const beat = { guard: 1, seq: 1, ready: true, owedInMs: null, pid: 1, startTicks: 1, phase: 'ticking', startedAt: 0, readyAt: 0, writtenAt: 5, monotonicMs: 1.5, run: 1, threads: [], waiters: 0 };
  replace(path, JSON.stringify(beat));
  const first = await readPulse(path);
  assert.is(first.kind, 'read');
  assert.equal(await readPulse(path), first, 'read again, unchanged: the same key');
  // The same wall stamp (a wall clock stepped back onto it), a later seq: another write.
  replace(path, JSON.stringify({ ...beat, seq: 2, monotonicMs: 251.5 }));
  const second = await readPulse(path);
  assert.ok(first.kind === 'read' && second.kind === 'read' && first.key !== second.key);
});

Pulse('garbage, rewritten or not: keyed by the file, so that a rewrite still shows', async ({ dir }) => {
  const path = join(dir, 'garbage.json');
  replace(path, 'not a heartbeat');
  const first = await readPulse(path);
  assert.is(first.kind, 'unusable');
  assert.is(first.kind === 'unusable' && first.reason, 'not JSON');
  assert.equal(await readPulse(path), first, 'an unchanged file, the same key');
  replace(path, 'not a heartbeat');
  const rewritten = await readPulse(path);
  assert.ok(first.kind === 'unusable' && rewritten.kind === 'unusable' && rewritten.key !== first.key);
  const directory = join(dir, 'dir.json');
  mkdirSync(directory);
  assert.is((await readPulse(directory)).kind, 'unusable');
});

Pulse.run();
