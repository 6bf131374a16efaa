import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { darwinTable } from '../../apps/probe/proc-table-darwin.ts';
import { linuxTable } from '../../apps/probe/proc-table-linux.ts';
import { posixTerminator } from '../../apps/probe/terminate-posix.ts';
import { LiveSubjects } from '../helpers/live-subject.ts';
import { procTableContract, terminateContract, type Subject } from '../helpers/proc-table-contract.ts';
import { parseCwd, parseKinfoProc, parseProcArgs2 } from '../../apps/probe/darwin-structs.ts';
import { kinfoProc, procArgs2, recordedSource, vnodePathInfo, type FakeDarwinProcess } from './fixtures/darwin-process-table.ts';

// The Windows backend runs the same contract under wine: proc-table-win32.test.ts.

// --- Linux: live, on this machine.

if (process.platform === 'linux') {
  const table = linuxTable();
  const subjects = new LiveSubjects(table);
  procTableContract('linux (live)', table, () => subjects.subject(), () => subjects.stop());
  terminateContract('linux (live)', table, posixTerminator(), () => subjects.target(), () => subjects.stop());
} else {
  console.log(`  (skipped the live Linux contract: this is ${process.platform})`);
}

// --- macOS: NOT a real Mac. Recorded kernel answers, built to macOS's struct layouts.

const STARTED = { sec: 1_764_000_000, usec: 123_456 };
const NEEDLE = 'estatus-contract-darwin';
const darwinSubject: FakeDarwinProcess = {
  pid: 4242,
  ppid: 4000,
  stat: 3,
  startedAt: STARTED,
  uid: 501,
  comm: 'node',
  args: {
    execPath: '/usr/local/bin/node',
    argv: ['/usr/local/bin/node', '-e', 'setInterval(() => {}, 1 << 30)', NEEDLE],
    env: ['HOME=/Users/me', 'ESTATUS_CONTRACT_MARKER=darwin', 'EMPTY=', 'NODE_OPTIONS=--max-old-space-size=64'],
  },
  cwd: '/Users/me/estatus',
};
const darwinProcesses: FakeDarwinProcess[] = [
  { pid: 1, ppid: 0, stat: 3, startedAt: { sec: 1_763_990_000, usec: 0 }, uid: 0, comm: 'launchd' },
  { pid: 4000, ppid: 1, stat: 3, startedAt: { sec: 1_763_999_000, usec: 5 }, uid: 501, comm: 'zsh', args: { execPath: '/bin/zsh', argv: ['-zsh'], env: ['HOME=/Users/me'] }, cwd: '/Users/me' },
  darwinSubject,
  { pid: 4300, ppid: 4000, stat: 5, startedAt: STARTED, uid: 501, comm: 'node' },
  { pid: 4301, ppid: 4000, stat: 2, startedAt: STARTED, uid: 501, comm: 'Python', args: { execPath: '/usr/bin/python3', argv: ['python3', '-c', 'pass'], env: [] }, cwd: '/tmp' },
];
const darwin = await darwinTable(recordedSource(darwinProcesses, 501));
const darwinStartedMs = STARTED.sec * 1000 + STARTED.usec / 1000;
const recorded: Subject = {
  pid: darwinSubject.pid,
  ppid: darwinSubject.ppid,
  argv: darwinSubject.args?.argv ?? [],
  cwd: darwinSubject.cwd ?? '',
  marker: ['ESTATUS_CONTRACT_MARKER', 'darwin'],
  needle: NEEDLE,
  image: 'node',
  deadPid: 4999,
  startedBetween: [darwinStartedMs, darwinStartedMs],
};
procTableContract('darwin (recorded fixtures, not a real Mac)', darwin, () => recorded);

// ---

const Darwin = suite('darwin: what only its structures have (recorded fixtures)');

Darwin('kinfo_proc: the fields at their offsets; a 16-byte name is not cut short', () => {
  const proc = parseKinfoProc(kinfoProc({ ...darwinSubject, comm: 'sixteen-bytes-xx' }));
  assert.equal(proc, { pid: 4242, ppid: 4000, state: 'S', createTime: 1_764_000_000_123_456, uid: 501, comm: 'sixteen-bytes-xx' });
  assert.is(parseKinfoProc(Buffer.alloc(647)), undefined, 'a short answer holds no process');
});

Darwin('a zombie: state Z, no arguments, still in the table', () => {
  assert.equal(darwin.readStat(4300)?.state, 'Z');
  assert.equal(darwin.readProcess(4300)?.argv, []);
  assert.is(darwin.readEnviron(4300), undefined);
  assert.ok(darwin.listPids().includes(4300));
});

Darwin('KERN_PROCARGS2: argv and env, the apple strings after them left out', () => {
  const parsed = parseProcArgs2(procArgs2({ execPath: '/x/node', argv: ['node', 'a b', ''], env: ['A=1=2', 'junk', 'B='] }));
  assert.equal(parsed?.argv, ['node', 'a b', '']);
  assert.equal([...(parsed?.env ?? [])], [['A', '1=2'], ['B', '']]);
  assert.is(parseProcArgs2(Buffer.alloc(2)), undefined);
  const lying = Buffer.from(procArgs2({ execPath: '/x/node', argv: ['node'], env: [] }));
  lying.writeInt32LE(50, 0);
  assert.is(parseProcArgs2(lying), undefined, 'an argc beyond the strings');
});

Darwin('proc_vnodepathinfo: the cwd; an empty one is unknown', () => {
  assert.is(parseCwd(vnodePathInfo('/Users/me/with space')), '/Users/me/with space');
  assert.is(parseCwd(vnodePathInfo('')), undefined);
  assert.is(parseCwd(Buffer.alloc(100)), undefined);
});

Darwin('a process not ours to read (launchd) is not read, and never found', () => {
  assert.is(darwin.readProcess(1), undefined);
  assert.is(darwin.readStat(1)?.ppid, 0);
  assert.equal(darwin.findProcesses('launchd'), []);
});

Darwin.run();
