import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isLiving, parseProcStat, readProcStat } from '../../apps/shared/proc-stat.ts';

/** The fields after the command name of a real /proc/<pid>/stat line (state, ppid, … starttime = 57126 …). */
const REST =
  'S 5989 5989 3342 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 57126 3133440 361 18446744073709551615 ' +
  '93943605477376 93943605497257 140735612440160 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 93943605513264 ' +
  '93943605514880 93944656404480 140735612443363 140735612443383 140735612443383 140735612444651 0';

function statLine(pid: string, comm: string): string {
  return `${pid} (${comm}) ${REST}\n`;
}

const Parse = suite('parseProcStat');

Parse('a plain line: pid, state, ppid and start time (field 22)', () => {
  assert.equal(parseProcStat(statLine('1234', 'node')), { pid: 1234, state: 'S', ppid: 5989, startTicks: 57126, dying: false });
});

Parse('a command name with spaces and parentheses is skipped whole', () => {
  assert.equal(parseProcStat(statLine('1234', 'my (odd) name')), { pid: 1234, state: 'S', ppid: 5989, startTicks: 57126, dying: false });
  assert.equal(parseProcStat(statLine('1234', ') S 1 2 3')), { pid: 1234, state: 'S', ppid: 5989, startTicks: 57126, dying: false });
  assert.equal(parseProcStat(statLine('1234', '((')), { pid: 1234, state: 'S', ppid: 5989, startTicks: 57126, dying: false });
});

Parse('an empty command name', () => {
  assert.equal(parseProcStat(statLine('77', '')), { pid: 77, state: 'S', ppid: 5989, startTicks: 57126, dying: false });
});

Parse('other states: a zombie and a stopped process', () => {
  assert.is(parseProcStat(`9 (sh) Z${REST.slice(1)}`)?.state, 'Z');
  assert.is(parseProcStat(`9 (sh) T${REST.slice(1)}`)?.state, 'T');
});

Parse('a process the kernel is taking down (PF_EXITING, 0x4, in the flags) is dying, not living', () => {
  // 4194304 is PF_RANDOMIZE alone; | 0x4 as a SIGKILLed process shows it for a few ms before it is a zombie.
  const exiting = parseProcStat(`9 (node) R${REST.slice(1).replace(' 4194304 ', ' 4194308 ')}`);
  assert.is(exiting?.dying, true);
  assert.is(isLiving(exiting), false);
  assert.is(isLiving(parseProcStat(statLine('9', 'node'))), true);
  assert.is(isLiving(parseProcStat(`9 (sh) Z${REST.slice(1)}`)), false, 'a zombie');
  assert.is(isLiving(undefined), false, 'gone');
});

Parse('the start time is what tells two processes with one pid apart', () => {
  const later = REST.replace(' 57126 ', ' 99999 ');
  assert.is(parseProcStat(`1234 (node) ${later}`)?.startTicks, 99999);
});

const GARBAGE: { kind: string; text: string }[] = [
  { kind: 'empty', text: '' },
  { kind: 'no parentheses', text: `1234 node ${REST}` },
  { kind: 'no closing parenthesis', text: `1234 (node ${REST}` },
  { kind: 'parentheses the wrong way round', text: `1234 )node( ${REST}` },
  { kind: 'a pid that is not a number', text: statLine('abc', 'node') },
  { kind: 'cut off after the state', text: '1234 (node) S' },
  { kind: 'cut off before the start time', text: `1234 (node) ${REST.split(' ').slice(0, 15).join(' ')}` },
  { kind: 'a non-numeric ppid', text: `1234 (node) S x ${REST.split(' ').slice(2).join(' ')}` },
  { kind: 'plain text', text: 'No such process\n' },
];

for (const { kind, text } of GARBAGE) {
  Parse(`garbage is undefined: ${kind}`, () => {
    assert.is(parseProcStat(text), undefined);
  });
}

Parse.run();

// ---

const Read = suite('readProcStat');

Read('this process: its pid and ppid, running, a positive start time', () => {
  const stat = readProcStat(process.pid);
  if (!stat) {
    assert.unreachable('no stat for this process');
    return;
  }
  assert.is(stat.pid, process.pid);
  assert.is(stat.ppid, process.ppid);
  assert.ok(stat.state === 'R' || stat.state === 'S', `state ${stat.state}`);
  assert.ok(Number.isInteger(stat.startTicks) && stat.startTicks > 0, `startTicks ${stat.startTicks}`);
});

Read('the same process reads the same start time twice', () => {
  assert.is(readProcStat(process.pid)?.startTicks, readProcStat(process.pid)?.startTicks);
});

Read('a pid that does not exist is undefined', () => {
  // Pids are below pid_max, so pid_max itself never names a process.
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  assert.ok(pidMax > 1);
  assert.is(readProcStat(pidMax), undefined);
  assert.is(readProcStat(0), undefined);
  assert.is(readProcStat(-1), undefined);
});

Read.run();
