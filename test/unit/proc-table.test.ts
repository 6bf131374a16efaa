import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  findProcesses,
  listPids,
  parseCmdline,
  parseEnviron,
  parseUid,
  readBootTimeMs,
  readEnviron,
  readProcess,
  startedAtMs,
} from '../../apps/probe/proc-table-linux.ts';

/** One process of a fixture /proc tree; what is not given gets a plausible default. */
interface FakeProcess {
  pid: number;
  comm?: string;
  state?: string;
  ppid?: number;
  startTicks?: number;
  uid?: number;
  /** The argv, written NUL-separated and NUL-terminated as the kernel does. */
  argv?: string[];
  /** The raw cmdline bytes, where argv cannot say it (a PM2 title padded with NULs). */
  cmdline?: string;
  env?: Record<string, string>;
  /** Where the cwd symlink points; none for a zombie. */
  cwd?: string;
  /** Files left out, as when the process exits halfway through a scan. */
  omit?: ('stat' | 'status' | 'cmdline' | 'environ')[];
}

const FILES = ['stat', 'status', 'cmdline', 'environ'] as const;

/** A /proc/<pid>/stat line in the kernel's format: the start time is field 22. */
function statLine(pid: number, comm: string, state: string, ppid: number, startTicks: number): string {
  return (
    `${pid} (${comm}) ${state} ${ppid} ${ppid} 3342 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 ${startTicks} ` +
    '3133440 361 18446744073709551615 93943605477376 93943605497257 140735612440160 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n'
  );
}

/** A /proc/<pid>/status text in the kernel's format (abridged): real, effective, saved and fs uids. */
function statusText(pid: number, comm: string, ppid: number, uid: number): string {
  return [
    `Name:\t${comm}`,
    'Umask:\t0022',
    'State:\tS (sleeping)',
    `Tgid:\t${pid}`,
    'Ngid:\t0',
    `Pid:\t${pid}`,
    `PPid:\t${ppid}`,
    'TracerPid:\t0',
    `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
    `Gid:\t${uid}\t${uid}\t${uid}\t${uid}`,
    'FDSize:\t64',
    'Groups:\t4 24 27 ',
    'VmPeak:\t  985840 kB',
    'Threads:\t7',
    '',
  ].join('\n');
}

/** Writes <root>/<pid>/{stat,status,cmdline,environ} and the <root>/<pid>/cwd symlink. */
function writeProcess(root: string, fake: FakeProcess): void {
  const { pid, comm = 'node', state = 'S', ppid = 1, startTicks = 57126, uid = 1000 } = fake;
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  const contents: Record<(typeof FILES)[number], string> = {
    stat: statLine(pid, comm, state, ppid, startTicks),
    status: statusText(pid, comm, ppid, uid),
    cmdline: fake.cmdline ?? (fake.argv ?? []).map((arg) => `${arg}\0`).join(''),
    environ: Object.entries(fake.env ?? {}).map(([name, value]) => `${name}=${value}\0`).join(''),
  };
  for (const file of FILES) {
    if (!fake.omit?.includes(file)) writeFileSync(join(dir, file), contents[file]);
  }
  if (fake.cwd !== undefined) symlinkSync(fake.cwd, join(dir, 'cwd'));
}

function writeBootStat(root: string, btime: string | undefined): void {
  const lines = [
    'cpu  10132153 290696 3084719 46828483 16683 0 25195 0 0 0',
    'cpu0 1393280 32966 572056 13343292 6130 0 17875 0 0 0',
    'intr 199292190 34 9 0 0 0 0 3 0 1 0 0 0',
    'ctxt 12547729',
    ...(btime === undefined ? [] : [`btime ${btime}`]),
    'processes 6006',
    'procs_running 2',
    'procs_blocked 0',
    '',
  ];
  writeFileSync(join(root, 'stat'), lines.join('\n'));
}

const Cmdline = suite('parseCmdline');

Cmdline('NUL-separated, NUL-terminated argv', () => {
  assert.equal(parseCmdline('node\0/p/dist/clock/main.js\0'), ['node', '/p/dist/clock/main.js']);
  assert.equal(parseCmdline('/usr/bin/node\0--import\0tsx\0apps/clock/main.ts\0'), [
    '/usr/bin/node',
    '--import',
    'tsx',
    'apps/clock/main.ts',
  ]);
});

Cmdline('an argument with spaces stays one argument', () => {
  assert.equal(parseCmdline('sh\0-c\0echo hello  world\0'), ['sh', '-c', 'echo hello  world']);
});

Cmdline('unicode arguments', () => {
  assert.equal(parseCmdline('node\0héllo\0時計\0🕰️ tick\0'), ['node', 'héllo', '時計', '🕰️ tick']);
});

Cmdline('an empty cmdline (kernel thread, zombie) is no arguments', () => {
  assert.equal(parseCmdline(''), []);
});

Cmdline('a PM2 process title padded with NULs is one entry', () => {
  assert.equal(parseCmdline(`node /abs/dist/clock/main.js${'\0'.repeat(40)}`), ['node /abs/dist/clock/main.js']);
});

Cmdline('empty arguments in the middle are kept', () => {
  assert.equal(parseCmdline('a\0\0b\0'), ['a', '', 'b']);
});

Cmdline('a cmdline without the final NUL (argv rewritten by the process)', () => {
  assert.equal(parseCmdline('node\0/a/main.js'), ['node', '/a/main.js']);
});

Cmdline.run();

// ---

const Uid = suite('parseUid');

Uid('the real uid, the first of four', () => {
  assert.is(parseUid(statusText(4242, 'node', 1, 1000)), 1000);
  assert.is(parseUid('Name:\tsu\nUid:\t1000\t0\t0\t0\nGid:\t1000\t0\t0\t0\n'), 1000);
  assert.is(parseUid('Name:\tsystemd\nUid:\t0\t0\t0\t0\n'), 0);
});

Uid('only a line that starts with Uid: counts', () => {
  assert.is(parseUid('Name:\tUid: 7\nUid:\t1000\t1000\t1000\t1000\n'), 1000);
});

Uid('no Uid line is undefined', () => {
  assert.is(parseUid('Name:\tnode\nState:\tS (sleeping)\nGid:\t1000\t1000\t1000\t1000\n'), undefined);
  assert.is(parseUid(''), undefined);
  assert.is(parseUid('Uid:\t\n'), undefined);
});

Uid.run();

// ---

const Environ = suite('parseEnviron');

Environ('NAME=value pairs', () => {
  const env = parseEnviron('HOME=/home/me\0name=clock\0pm_id=0\0');
  assert.equal([...env], [
    ['HOME', '/home/me'],
    ['name', 'clock'],
    ['pm_id', '0'],
  ]);
});

Environ('a value containing = is kept whole', () => {
  assert.is(parseEnviron('NODE_OPTIONS=--max-old-space-size=64\0').get('NODE_OPTIONS'), '--max-old-space-size=64');
  assert.is(parseEnviron('A==b=\0').get('A'), '=b=');
});

Environ('an empty value is an empty string, not missing', () => {
  const env = parseEnviron('EMPTY=\0B=1\0');
  assert.ok(env.has('EMPTY'));
  assert.is(env.get('EMPTY'), '');
  assert.is(env.get('B'), '1');
});

Environ('junk without a name is ignored', () => {
  const env = parseEnviron('junk\0=novalue\0\0OK=yes\0');
  assert.equal([...env], [['OK', 'yes']]);
  assert.is(parseEnviron('').size, 0);
});

Environ('unicode values', () => {
  assert.is(parseEnviron('GREETING=héllo 時計 🕰️\0').get('GREETING'), 'héllo 時計 🕰️');
});

Environ.run();

// ---

const Pids = suite('listPids', { root: '' });

Pids.before((context) => {
  context.root = mkdtempSync(join(tmpdir(), 'estatus-proc-'));
});

Pids.after((context) => {
  rmSync(context.root, { recursive: true, force: true });
});

Pids('numeric entries only', ({ root }) => {
  for (const pid of [1, 42, 31337]) writeProcess(root, { pid, argv: ['x'] });
  for (const name of ['sys', 'net', '12abc', 'a12', '-5', '1.5']) mkdirSync(join(root, name));
  symlinkSync('42', join(root, 'self'));
  writeBootStat(root, '1700000000');
  writeFileSync(join(root, 'uptime'), '3600.00 7200.00\n');
  assert.equal(listPids(root).sort((a, b) => a - b), [1, 42, 31337]);
});

Pids.run();

// ---

const Read = suite('readProcess and readEnviron', { root: '' });

Read.before((context) => {
  context.root = mkdtempSync(join(tmpdir(), 'estatus-proc-'));
});

Read.after((context) => {
  rmSync(context.root, { recursive: true, force: true });
});

Read('a whole process: stat, status, cmdline and the cwd symlink', ({ root }) => {
  writeProcess(root, {
    pid: 4242,
    ppid: 4000,
    startTicks: 57126,
    uid: 1000,
    argv: ['/usr/bin/node', '/p/dist/clock/main.js'],
    cwd: '/p',
  });
  assert.equal(readProcess(4242, root), {
    pid: 4242,
    ppid: 4000,
    state: 'S',
    createTime: 57126,
    dying: false,
    user: '1000',
    argv: ['/usr/bin/node', '/p/dist/clock/main.js'],
    cwd: '/p',
  });
});

Read('a command name with spaces and parentheses', ({ root }) => {
  writeProcess(root, { pid: 4243, comm: 'my (odd) name', ppid: 7, startTicks: 99, argv: ['odd'], cwd: '/' });
  const info = readProcess(4243, root);
  assert.is(info?.pid, 4243);
  assert.is(info?.state, 'S');
  assert.is(info?.ppid, 7);
  assert.is(info?.createTime, 99);
  assert.equal(info?.argv, ['odd']);
});

Read('a zombie: state Z, no command line, no cwd', ({ root }) => {
  writeProcess(root, { pid: 4244, comm: 'node', state: 'Z', ppid: 4000 });
  assert.equal(readProcess(4244, root), {
    pid: 4244,
    ppid: 4000,
    state: 'Z',
    createTime: 57126,
    dying: false,
    user: '1000',
    argv: [],
    cwd: undefined,
  });
});

Read('a PM2 title is one argument', ({ root }) => {
  writeProcess(root, { pid: 4245, cmdline: `node /abs/dist/clock/main.js${'\0'.repeat(30)}`, cwd: '/abs' });
  assert.equal(readProcess(4245, root)?.argv, ['node /abs/dist/clock/main.js']);
});

Read('a cwd symlink whose target is gone still reads as its target', ({ root }) => {
  writeProcess(root, { pid: 4246, argv: ['node'], cwd: join(root, 'deleted-dir') });
  assert.is(readProcess(4246, root)?.cwd, join(root, 'deleted-dir'));
});

Read('a process that is gone, or vanished mid-read, is undefined', ({ root }) => {
  assert.is(readProcess(999_999, root), undefined);
  writeProcess(root, { pid: 5001, argv: ['node'], omit: ['stat'] });
  writeProcess(root, { pid: 5002, argv: ['node'], omit: ['status'] });
  writeProcess(root, { pid: 5003, argv: ['node'], omit: ['cmdline'] });
  assert.is(readProcess(5001, root), undefined);
  assert.is(readProcess(5002, root), undefined);
  assert.is(readProcess(5003, root), undefined);
});

Read('an unparsable stat or a status without Uid is undefined', ({ root }) => {
  writeProcess(root, { pid: 5004, argv: ['node'] });
  writeFileSync(join(root, '5004', 'stat'), '');
  writeProcess(root, { pid: 5005, argv: ['node'] });
  writeFileSync(join(root, '5005', 'status'), 'Name:\tnode\nState:\tS (sleeping)\n');
  assert.is(readProcess(5004, root), undefined);
  assert.is(readProcess(5005, root), undefined);
});

Read('readEnviron: the environment, or undefined where it is gone', ({ root }) => {
  writeProcess(root, { pid: 6001, argv: ['node'], env: { name: 'clock', STATE_DIR: '/p/state', EMPTY: '' } });
  writeProcess(root, { pid: 6002, argv: ['node'], omit: ['environ'] });
  writeProcess(root, { pid: 6003, argv: [] });
  const env = readEnviron(6001, root);
  assert.ok(env);
  assert.is(env?.get('name'), 'clock');
  assert.is(env?.get('STATE_DIR'), '/p/state');
  assert.is(env?.get('EMPTY'), '');
  assert.is(readEnviron(6002, root), undefined);
  assert.is(readEnviron(999_999, root), undefined);
  assert.is(readEnviron(6003, root)?.size, 0, 'an empty environ (kernel thread) is an empty map');
});

Read.run();

// ---

const Find = suite('findProcesses', { root: '' });

Find.before((context) => {
  context.root = mkdtempSync(join(tmpdir(), 'estatus-proc-'));
  const root = context.root;
  writeProcess(root, { pid: 1, comm: 'init', ppid: 0, uid: 0, argv: ['/sbin/init'], cwd: '/' });
  writeProcess(root, { pid: 2, comm: 'kthreadd', ppid: 0, uid: 0, cwd: '/' });
  writeProcess(root, { pid: 100, ppid: 1, argv: ['node', '/p/dist/clock/main.js'], cwd: '/p' });
  writeProcess(root, { pid: 101, ppid: 1, cmdline: `node /q/dist/clock/main.js${'\0'.repeat(20)}`, cwd: '/q' });
  writeProcess(root, { pid: 102, ppid: 1, comm: 'my (odd) name', argv: ['python3', '/p/dist/clock/main.js.bak'], cwd: '/srv' });
  writeProcess(root, { pid: 103, ppid: 1, argv: ['node', '/p/dist/probe/main.js'], cwd: '/p' });
  writeProcess(root, { pid: 104, ppid: 1, argv: ['node', '/p/dist/clock/main.js'], omit: ['stat'] });
  writeProcess(root, { pid: 105, ppid: 1, argv: ['node', '/p/dist/clock/main.js'], omit: ['status'] });
  writeProcess(root, { pid: 106, ppid: 1, omit: ['cmdline'] });
  writeProcess(root, { pid: 107, ppid: 1, argv: ['node', '/p/dist/clock/main.js'], cwd: '/p', state: 'Z' });
  mkdirSync(join(root, 'self'));
  writeFileSync(join(root, 'self', 'cmdline'), 'node\0/p/dist/clock/main.js\0');
  writeFileSync(join(root, '108'), 'not a directory');
});

Find.after((context) => {
  rmSync(context.root, { recursive: true, force: true });
});

Find('only processes whose command line contains the needle; vanished ones skipped', ({ root }) => {
  const found = findProcesses('dist/clock/main.js', root).sort((a, b) => a.pid - b.pid);
  assert.equal(
    found.map((info) => info.pid),
    [100, 101, 102, 107],
  );
});

Find('each match is read whole, with its cwd from the symlink', ({ root }) => {
  const byPid = new Map(findProcesses('dist/clock/main.js', root).map((info) => [info.pid, info]));
  assert.equal(byPid.get(100), {
    pid: 100,
    ppid: 1,
    state: 'S',
    createTime: 57126,
    dying: false,
    user: '1000',
    argv: ['node', '/p/dist/clock/main.js'],
    cwd: '/p',
  });
  assert.equal(byPid.get(101)?.argv, ['node /q/dist/clock/main.js']);
  assert.is(byPid.get(101)?.cwd, '/q');
  assert.is(byPid.get(102)?.cwd, '/srv');
  assert.is(byPid.get(107)?.state, 'Z');
});

Find('a needle nothing contains finds nothing; an empty needle finds every readable process', ({ root }) => {
  assert.equal(findProcesses('no-such-program', root), []);
  const all = findProcesses('', root).map((info) => info.pid).sort((a, b) => a - b);
  assert.equal(all, [1, 2, 100, 101, 102, 103, 107]);
});

Find.run();

// ---

const Boot = suite('readBootTimeMs and startedAtMs', { root: '' });

Boot.before((context) => {
  context.root = mkdtempSync(join(tmpdir(), 'estatus-proc-'));
});

Boot.after((context) => {
  rmSync(context.root, { recursive: true, force: true });
});

Boot('btime from <root>/stat, in ms', ({ root }) => {
  const dir = join(root, 'booted');
  mkdirSync(dir);
  writeBootStat(dir, '1700000000');
  assert.is(readBootTimeMs(dir), 1_700_000_000_000);
});

Boot('no stat file, or no btime line, is undefined', ({ root }) => {
  const missing = join(root, 'missing');
  mkdirSync(missing);
  assert.is(readBootTimeMs(missing), undefined);
  const noBtime = join(root, 'no-btime');
  mkdirSync(noBtime);
  writeBootStat(noBtime, undefined);
  assert.is(readBootTimeMs(noBtime), undefined);
  assert.is(readBootTimeMs(join(root, 'no-such-root')), undefined);
});

Boot('start ticks are hundredths of a second after boot', () => {
  const boot = 1_700_000_000_000;
  assert.is(startedAtMs(0, boot), boot);
  assert.is(startedAtMs(1, boot), boot + 10);
  assert.is(startedAtMs(100, boot), boot + 1_000);
  assert.is(startedAtMs(57126, boot), 1_700_000_571_260);
  // A machine up for a year: 365 days of ticks.
  assert.is(startedAtMs(365 * 86_400 * 100, boot), boot + 365 * 86_400_000);
});

Boot('a fixture process: its start time from its stat and the btime', ({ root }) => {
  const dir = join(root, 'tree');
  mkdirSync(dir);
  writeBootStat(dir, '1700000000');
  writeProcess(dir, { pid: 300, startTicks: 123_456, argv: ['node'] });
  const info = readProcess(300, dir);
  const boot = readBootTimeMs(dir);
  if (!info || boot === undefined) {
    assert.unreachable('fixture not read');
    return;
  }
  assert.is(startedAtMs(info.createTime, boot), 1_700_000_000_000 + 1_234_560);
});

Boot.run();

// ---

const Live = suite('the real /proc: this process');

Live('readProcess(process.pid): pid, ppid, user, argv and cwd', () => {
  const info = readProcess(process.pid);
  if (!info) {
    assert.unreachable('no process info for this process');
    return;
  }
  assert.is(info.pid, process.pid);
  assert.is(info.ppid, process.ppid);
  assert.is(info.user, String(process.getuid?.()));
  assert.is(info.cwd, process.cwd());
  assert.ok(info.state === 'R' || info.state === 'S', `state ${info.state}`);
  assert.ok(
    info.argv.some((arg) => arg === process.execPath || /(^|\/)node$/.test(arg)),
    `argv ${JSON.stringify(info.argv)}`,
  );
});

Live('readEnviron(process.pid) holds this environment', () => {
  const env = readEnviron(process.pid);
  assert.ok(env && env.size > 0);
  // The environ file is the environment at exec time, so compare a variable nobody changes.
  assert.is(env?.get('PATH'), process.env.PATH);
});

Live('findProcesses finds this process by its own command line', () => {
  const own = parseCmdline(readFileSync(`/proc/${process.pid}/cmdline`, 'utf8'));
  const needle = own.at(-1);
  assert.ok(needle, 'this process has arguments');
  const found = findProcesses(needle ?? '');
  assert.ok(
    found.some((info) => info.pid === process.pid),
    `${process.pid} not among ${found.map((info) => info.pid).join(' ')}`,
  );
});

Live('the boot time is in the past, and this process started about process.uptime() ago', () => {
  const boot = readBootTimeMs();
  const info = readProcess(process.pid);
  if (boot === undefined || !info) {
    assert.unreachable('no boot time or process info');
    return;
  }
  const now = Date.now();
  assert.ok(boot < now, `boot ${boot}`);
  const started = startedAtMs(info.createTime, boot);
  const expected = now - process.uptime() * 1000;
  // btime is whole seconds and start times are 10 ms ticks: allow a couple of seconds.
  assert.ok(Math.abs(started - expected) < 3_000, `started ${started}, expected about ${expected}`);
});

Live.run();
