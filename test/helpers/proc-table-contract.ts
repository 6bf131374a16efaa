import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ProcessInfo, ProcTable } from '../../apps/probe/proc-table.ts';
import type { Terminator } from '../../apps/probe/terminate.ts';

/**
 * One contract for every process-table backend (psutil's tests/test_contracts.py): the same
 * assertions on the shape of what each returns and on one known process, the subject. A live backend's
 * subject is a child it started; a backend that cannot run here (macOS) gets one from recorded bytes.
 */
export interface Subject {
  pid: number;
  ppid: number;
  argv: string[];
  cwd: string;
  /** A variable set in the subject's environment alone. */
  marker: [string, string];
  /** Found in the subject's command line and in no other process's. */
  needle: string;
  /** Its executable's name without extension (node). */
  image: string;
  /** A pid no process has (one that has just ended, where the backend is live). */
  deadPid: number;
  /** Bounds of its start time, ms since the epoch. */
  startedBetween: [number, number];
}

export function procTableContract(name: string, table: ProcTable, makeSubject: () => Subject | Promise<Subject>, cleanUp = (): void => {}): void {
  const Contract = suite(`${name}: the process table contract`);
  let made: Subject | undefined;
  Contract.before(async () => {
    made = await makeSubject();
  });
  Contract.after(cleanUp);
  const subjectOf = (): Subject => {
    if (!made) throw new Error('expected the subject to be made in before(), got none');
    return made;
  };

  Contract('readProcess: the shape and types of a process', () => {
    const subject = subjectOf();
    assertShape(table.readProcess(subject.pid), `readProcess(${subject.pid})`);
    const stat = table.readStat(subject.pid);
    assert.ok(stat, `readStat(${subject.pid}) found nothing`);
    assert.type(stat?.state, 'string');
    assert.ok(Number.isInteger(stat?.createTime) && (stat?.createTime ?? 0) > 0, `createTime ${stat?.createTime}`);
  });

  Contract('the subject: its own argv, cwd, parent and owner', () => {
    const subject = subjectOf();
    const proc = table.readProcess(subject.pid);
    assert.equal(proc?.argv, subject.argv);
    assert.is(proc?.cwd && table.pathKey(proc.cwd), table.pathKey(subject.cwd));
    assert.is(proc?.ppid, subject.ppid);
    assert.is(table.readStat(subject.pid)?.ppid, subject.ppid);
    assert.is(proc?.user, table.currentUser());
    assert.is(proc?.state === 'Z', false, 'the subject lives');
  });

  Contract('readEnviron: the subject\'s own environment', () => {
    const subject = subjectOf();
    const env = table.readEnviron(subject.pid);
    assert.ok(env instanceof Map, `readEnviron(${subject.pid}) gave ${String(env)}`);
    assert.is(env?.get(subject.marker[0]), subject.marker[1]);
    for (const [key, value] of env ?? []) {
      assert.type(key, 'string');
      assert.type(value, 'string');
    }
  });

  Contract('its creation time: the same on every read, and when it started', () => {
    const subject = subjectOf();
    const first = table.readStat(subject.pid)?.createTime;
    assert.ok(first !== undefined);
    assert.is(table.readStat(subject.pid)?.createTime, first);
    assert.is(table.readProcess(subject.pid)?.createTime, first);
    const started = table.startedAtMs(first ?? 0);
    const [after, before] = subject.startedBetween;
    assert.ok(started !== undefined && started >= after && started <= before, `started ${started}, expected within [${after}, ${before}]`);
  });

  Contract('findProcesses: the subject by its command line, and only what matches', () => {
    const subject = subjectOf();
    for (const image of [subject.image, undefined]) {
      const found = table.findProcesses(subject.needle, image);
      assert.equal(found.map((proc) => proc.pid), [subject.pid], `with image ${image}`);
      assertShape(found[0], 'findProcesses');
      assert.is(found[0]?.createTime, table.readStat(subject.pid)?.createTime);
    }
    assert.equal(table.findProcesses(`${subject.needle}-nobody-has-this`), []);
    // Another image may or may not narrow the search (a hint; Linux's /proc has no cheap image name).
    assert.ok(table.findProcesses(subject.needle, 'no-such-image').every((proc) => proc.pid === subject.pid));
    assert.ok(table.listPids().includes(subject.pid), 'listPids lacks the subject');
  });

  Contract('findAny: one pass for several programs finds the subject once, by any search that matches it', () => {
    const subject = subjectOf();
    const nobody = `${subject.needle}-nobody-has-this`;
    const pids = (found: ProcessInfo[]) => found.map((proc) => proc.pid);
    assert.equal(pids(table.findAny([{ needle: nobody }, { needle: subject.needle, image: subject.image }])), [subject.pid]);
    assert.equal(pids(table.findAny([{ needle: subject.needle }, { needle: subject.needle, image: subject.image }])), [subject.pid], 'matched by two searches, listed once');
    assert.equal(table.findAny([{ needle: nobody }, { needle: `${nobody}-2`, image: subject.image }]), []);
    assert.equal(table.findAny([]), []);
  });

  Contract('a dead pid: nothing', () => {
    const { deadPid } = subjectOf();
    assert.is(table.readStat(deadPid), undefined);
    assert.is(table.readProcess(deadPid), undefined);
    assert.is(table.readEnviron(deadPid), undefined);
    assert.is(table.readProcess(-1), undefined);
  });

  Contract.run();
}

/**
 * Ending only the verified process. `start` starts a child and says its pid; `ended` resolves once
 * the OS has let go of it (so that its pid is dead).
 */
export function terminateContract(
  name: string,
  table: ProcTable,
  terminator: Terminator,
  start: () => Promise<{ pid: number; ended: Promise<unknown> }>,
  cleanUp = (): void => {},
): void {
  const Ending = suite(`${name}: ending a verified process`);
  Ending.after(cleanUp);

  Ending('refuses a wrong creation time; ends the right one', async () => {
    const child = await start();
    const createTime = table.readStat(child.pid)?.createTime;
    if (createTime === undefined) return assert.unreachable(`no creation time for child ${child.pid}`);
    assert.ok(terminator.isStillAlive(child.pid, createTime));
    assert.not.ok(terminator.isStillAlive(child.pid, createTime + 1));
    assert.not.ok(terminator.killVerified(child.pid, createTime + 1), 'killed a process whose creation time differs');
    assert.not.ok(terminator.killVerified(child.pid, createTime - 1));
    assert.ok(terminator.isStillAlive(child.pid, createTime), 'the child died after a refused kill');
    assert.ok(terminator.killVerified(child.pid, createTime));
    await child.ended;
    assert.not.ok(terminator.isStillAlive(child.pid, createTime));
    assert.not.ok(terminator.killVerified(child.pid, createTime), 'a dead process is not sent anything');
  });

  Ending('terminate: gracefully or by force, then gone', async () => {
    const child = await start();
    const createTime = table.readStat(child.pid)?.createTime ?? 0;
    const how = await terminator.terminate(child.pid, createTime, 2_000);
    assert.ok(how === 'terminated' || how === 'killed', how);
    await child.ended;
    assert.is(await terminator.terminate(child.pid, createTime, 100), 'gone');
  });

  Ending.run();
}

function assertShape(proc: ProcessInfo | undefined, where: string): void {
  if (!proc) return assert.unreachable(`${where} found nothing`);
  for (const key of ['pid', 'ppid', 'createTime'] as const) assert.ok(Number.isInteger(proc[key]), `${where}: ${key} ${proc[key]}`);
  assert.type(proc.state, 'string');
  assert.type(proc.user, 'string');
  assert.ok(proc.user.length > 0, `${where}: empty user`);
  assert.ok(Array.isArray(proc.argv) && proc.argv.every((arg) => typeof arg === 'string'), `${where}: argv ${JSON.stringify(proc.argv)}`);
  assert.ok(proc.cwd === undefined || typeof proc.cwd === 'string', `${where}: cwd ${proc.cwd}`);
  assert.ok(proc.dying === undefined || typeof proc.dying === 'boolean');
}
