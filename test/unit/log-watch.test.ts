import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LogWatch, type Printed } from '../../apps/clock/log-watch.ts';
import { Progress } from '../../apps/clock/progress.ts';
import { pm2PulseOf, pulseMetrics } from '../../apps/shared/pm2-pulse.ts';
import { formatTickLine } from '../../apps/shared/tick-line.ts';

/**
 * The clock reads back what PM2's log took (a line written to stdout is not yet a line in the log:
 * PM2's log stream dies for good on a full disk). On real files in a temporary folder.
 */

const NAMES = ['thread-1', 'thread-2'];
const Watch = suite<{ dir: string; log: string }>('the log watch', { dir: '', log: '' });

Watch.before.each((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'estatus-logwatch-'));
  context.log = join(context.dir, 'clock.out.log');
  writeFileSync(context.log, 'what the log held before this clock\n');
});
Watch.after.each(({ dir }) => rmSync(dir, { recursive: true, force: true }));

const line = (thread: string, run: number, tick: number): string => `${formatTickLine(thread, run, tick, 5, Date.now())}\n`;
const progress = Progress.fresh(NAMES, 5, Date.now());
const printed = (index: number, run: number, tick: number): Printed => ({ index, run, tick, before: progress.toCheckpoint(), after: progress.toCheckpoint(), printedAt: 0 });

Watch('no log to watch outside PM2, or when PM2 keeps none', async ({ log }) => {
  assert.is(await LogWatch.forPm2Log({}, NAMES), undefined);
  assert.is(await LogWatch.forPm2Log({ pm_out_log_path: '/dev/null' }, NAMES), undefined);
  assert.ok(await LogWatch.forPm2Log({ pm_out_log_path: log }, NAMES));
});

Watch('a tick is held once the log has it, and with it every tick printed before it (lines land in order)', async ({ log }) => {
  const watch = (await LogWatch.forPm2Log({ pm_out_log_path: log }, NAMES)) as LogWatch;
  watch.printed(printed(0, 1, 1));
  watch.printed(printed(1, 1, 1));
  watch.printed(printed(0, 1, 2));
  await watch.look();
  assert.is(watch.oldestMissing()?.tick, 1, 'nothing landed yet');
  // PM2 may put a date before each line (log_date_format).
  appendFileSync(log, `2026-12-06T10:00:00: ${line('thread-2', 1, 1)}`);
  await watch.look();
  assert.equal([watch.oldestMissing()?.index, watch.oldestMissing()?.tick], [0, 2]);
  appendFileSync(log, line('thread-1', 1, 2));
  await watch.look();
  assert.is(watch.oldestMissing(), undefined);
});

Watch('a line cut short by a full disk is no tick, and is said, so that the next print starts a line of its own', async ({ log }) => {
  const watch = (await LogWatch.forPm2Log({ pm_out_log_path: log }, NAMES)) as LogWatch;
  watch.printed(printed(1, 8, 4));
  appendFileSync(log, 'thread-2 run 8 tick 4/5 2026-12-06');
  await watch.look();
  assert.ok(watch.endsMidLine);
  assert.is(watch.oldestMissing()?.tick, 4);
  appendFileSync(log, `\n${line('thread-2', 8, 4)}`);
  await watch.look();
  assert.not.ok(watch.endsMidLine);
  assert.is(watch.oldestMissing(), undefined);
});

Watch('ticks taken back that land late after all (a stopped daemon) are found, the last of them returned', async ({ log }) => {
  const watch = (await LogWatch.forPm2Log({ pm_out_log_path: log }, NAMES)) as LogWatch;
  for (const tick of [1, 2, 3]) watch.printed(printed(0, 1, tick));
  const takenBack = watch.takeBack();
  assert.is(takenBack.length, 3);
  assert.is(watch.oldestMissing(), undefined);
  appendFileSync(log, line('thread-1', 1, 1) + line('thread-1', 1, 2));
  const late = await watch.look(takenBack);
  assert.is(late?.tick, 2);
  assert.equal(takenBack.map((entry) => entry.tick), [3], 'what has not landed stays taken back');
});

Watch('a log truncated (pm2-logrotate copies, then truncates) or replaced is read from its start', async ({ log }) => {
  const watch = (await LogWatch.forPm2Log({ pm_out_log_path: log }, NAMES)) as LogWatch;
  watch.printed(printed(0, 2, 1));
  truncateSync(log, 0);
  appendFileSync(log, line('thread-1', 2, 1));
  await watch.look();
  assert.is(watch.oldestMissing(), undefined);
  watch.printed(printed(0, 2, 2));
  rmSync(log);
  writeFileSync(log, line('thread-1', 2, 2));
  await watch.look();
  assert.is(watch.oldestMissing(), undefined);
});

Watch.run();

const Rewind = suite('Progress.rewindTo');

Rewind('goes back across a run\'s end to the state before the first tick the log never took, resumes kept', () => {
  const clock = Progress.fresh(['thread-1'], 2, 1_000);
  clock.record(0, 1, 1, 1_100);
  const before = clock.toCheckpoint();
  clock.record(0, 1, 2, 1_200);
  clock.startNextRun(1_200);
  clock.record(0, 2, 1, 1_300);
  clock.rewindTo(before);
  assert.equal(clock.toCheckpoint(), before);
  assert.ok(clock.record(0, 1, 2, 1_400), 'the tick taken back is the next one again');
});

Rewind.run();

const Pulse = suite("the pulse through PM2's metrics");

Pulse('says where the pulse is and what holds the ticks, and reads back only a pulse through PM2', () => {
  const inFile = pulseMetrics(42, 7, undefined, []);
  assert.is(pm2PulseOf({ heartbeat: inFile.heartbeat?.value, held: inFile.held?.value }), undefined);
  const viaPm2 = pulseMetrics(42, 7, 'ENOSPC', [{ on: 'state', why: 'ENOSPC', forMs: 10 }, { on: 'log', why: 'nothing taken', forMs: 5 }]);
  assert.equal(pm2PulseOf({ heartbeat: viaPm2.heartbeat?.value, held: viaPm2.held?.value }), { fileFault: 'ENOSPC', pid: 42, beat: 7, held: ['state', 'log'] });
  assert.is(pm2PulseOf({ heartbeat: 'via PM2 (x), pid 1 beat' }), undefined, 'garbage is no pulse');
  assert.is(pm2PulseOf({}), undefined);
});

Pulse.run();
