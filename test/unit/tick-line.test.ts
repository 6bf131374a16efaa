import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatTickLine, parseTickLine } from '../../apps/shared/tick-line.ts';

const SHAPE = /^thread-1 run 3 tick 7\/20 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/;

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** The timestamp a tick line must show for `date`, from its local components. */
function localStamp(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  );
}

const Format = suite('formatTickLine', { tz: undefined as string | undefined });

Format.before((context) => {
  // A zone off UTC by a non-whole hour, so that a UTC timestamp cannot pass for a local one.
  context.tz = process.env.TZ;
  process.env.TZ = 'Asia/Kolkata';
});

Format.after((context) => {
  if (context.tz === undefined) delete process.env.TZ;
  else process.env.TZ = context.tz;
});

Format('has the exact shape', () => {
  assert.match(formatTickLine('thread-1', 3, 7, 20, Date.now()), SHAPE);
});

Format('shows local time, to the millisecond', () => {
  const atMs = new Date(2026, 10, 27, 2, 15, 59, 4).getTime();
  assert.is(formatTickLine('thread-1', 3, 7, 20, atMs), 'thread-1 run 3 tick 7/20 2026-11-27 02:15:59.004');
});

Format('local, not UTC', () => {
  const atMs = Date.UTC(2026, 0, 1, 0, 0, 0, 0);
  const line = formatTickLine('thread-2', 1, 1, 5, atMs);
  assert.is(line, `thread-2 run 1 tick 1/5 ${localStamp(new Date(atMs))}`);
  assert.is(line, 'thread-2 run 1 tick 1/5 2026-01-01 05:30:00.000');
});

Format('any moment matches a Date built from local components', () => {
  for (const atMs of [0, 1, 999, 1_764_000_000_123, Date.now()]) {
    const line = formatTickLine('thread-1', 3, 7, 20, atMs);
    assert.match(line, SHAPE);
    assert.is(line.slice('thread-1 run 3 tick 7/20 '.length), localStamp(new Date(atMs)));
  }
});

Format.run();

// ---

const Parse = suite('parseTickLine');

Parse('round-trips a formatted line', () => {
  const line = formatTickLine('thread-12', 345, 19, 20, Date.now());
  const parsed = parseTickLine(line);
  assert.equal(parsed, {
    thread: 'thread-12',
    run: 345,
    tick: 19,
    ticksPerRun: 20,
    timestamp: line.slice('thread-12 run 345 tick 19/20 '.length),
  });
});

Parse('reads the fields of a line as printed, trailing newline or not', () => {
  const expected = { thread: 'thread-1', run: 3, tick: 7, ticksPerRun: 20, timestamp: '2026-11-27 02:15:59.004' };
  assert.equal(parseTickLine('thread-1 run 3 tick 7/20 2026-11-27 02:15:59.004'), expected);
  assert.equal(parseTickLine('thread-1 run 3 tick 7/20 2026-11-27 02:15:59.004\n'), expected);
  assert.equal(parseTickLine('thread-1 run 3 tick 7/20 2026-11-27 02:15:59.004\r\n'), expected);
});

for (const other of [
  'clock: resumed run 3 at tick 7/20',
  'clock: resumed run 3 thread-1 tick 7/20 2026-11-27 02:15:59.004',
  '',
  'thread-1 run 3 tick 7/20',
  'thread-1 run 3 tick 7/20 2026-11-27 02:15:59',
  'thread-x run 3 tick 7/20 2026-11-27 02:15:59.004',
  'thread-1 run -3 tick 7/20 2026-11-27 02:15:59.004',
  '2026-11-27T02:15:59: thread-1 run 3 tick 7/20 2026-11-27 02:15:59.004',
  'thread-1 run 3 tick 7/20 2026-11-27 02:15:59.004 extra',
]) {
  Parse(`other lines are undefined: ${JSON.stringify(other)}`, () => {
    assert.is(parseTickLine(other), undefined);
  });
}

Parse.run();
