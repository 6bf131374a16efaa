import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isClockOfOurState, type ClockIdentity } from '../../apps/probe/identity.ts';
import { win32Table } from '../../apps/probe/proc-table-win32.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { win32Terminator } from '../../apps/probe/terminate-win32.ts';
import { LiveSubjects } from './live-subject.ts';
import { procTableContract, terminateContract } from './proc-table-contract.ts';

// Runs inside Windows Node (under wine): proc-table-win32.test.ts starts it and reads what it prints.
const table = win32Table();
const subjects = new LiveSubjects(table);
procTableContract('win32 (live, wine)', table, () => subjects.subject(), () => subjects.stop());
terminateContract('win32 (live, wine)', table, win32Terminator(), () => subjects.target(), () => subjects.stop());

const Win32 = suite('win32: what only it has');

Win32('the owner is a SID; paths compare without case', () => {
  assert.match(table.currentUser(), /^S-1-\d+(-\d+)+$/);
  assert.is(table.pathKey('Z:\\Work\\Main.JS'), table.pathKey('z:\\work\\main.js'));
});

Win32('this process: its parent as Windows says, its node.exe, its cwd without a trailing backslash', () => {
  const self = table.readProcess(process.pid);
  assert.is(self?.ppid, process.ppid);
  assert.is(self?.argv[0] && table.pathKey(self.argv[0]), table.pathKey(process.execPath));
  assert.is(self?.cwd && table.pathKey(self.cwd), table.pathKey(process.cwd()));
  assert.ok(table.findProcesses(process.argv[1] ?? '', 'node').some((proc) => proc.pid === process.pid));
});

Win32('a full scan lists this process and the system\'s own', () => {
  const pids = table.listPids();
  assert.ok(pids.includes(process.pid));
  assert.ok(pids.length >= 3, `${pids.length} processes`);
});

Win32.run();

// ---

const Identity = suite('win32: who counts as the clock (live processes, Windows paths)', { root: '', children: [] as ChildProcess[] });

Identity.before((context) => {
  context.root = realpathSync(mkdtempSync(join(tmpdir(), 'estatus-identity-')));
  for (const project of ['ours', 'other']) {
    mkdirSync(join(context.root, project, 'dist', 'clock'), { recursive: true });
    mkdirSync(join(context.root, project, 'state'), { recursive: true });
    writeFileSync(join(context.root, project, 'dist', 'clock', 'main.js'), 'setInterval(() => {}, 1 << 30);\n');
  }
});

Identity.after(({ root, children }) => {
  for (const child of children) child.kill();
  rmSync(root, { recursive: true, force: true });
});

Identity('a clock by hand (node.exe <path>\\dist\\clock\\main.js, any case) is ours; a look-alike is not', async ({ root, children }) => {
  const id: ClockIdentity = { entry: join(root, 'ours', 'dist', 'clock', 'main.js'), stateDir: join(root, 'ours', 'state'), user: table.currentUser() };
  const start = (script: string, env: Record<string, string> = {}): number => {
    const child = spawn(process.execPath, [script], { cwd: root, env: { ...process.env, ...env }, stdio: 'ignore' });
    children.push(child);
    return child.pid ?? 0;
  };
  const ours = start(id.entry.toUpperCase());
  const relative = start('ours\\dist\\clock\\main.js');
  const lookAlike = start(join(root, 'other', 'dist', 'clock', 'main.js'), { pm_exec_path: id.entry, name: 'clock', STATE_DIR: id.stateDir });
  const otherState = start(id.entry, { STATE_DIR: join(root, 'other', 'state') });
  const judge = async (pid: number): Promise<boolean> => {
    const proc = await waitFor(`child ${pid} to run`, () => {
      const read = table.readProcess(pid);
      return read && read.argv.length > 1 ? read : undefined;
    });
    return isClockOfOurState(proc, table.readEnviron(pid), id);
  };
  assert.ok(await judge(ours), 'the clock, by an upper-cased path');
  assert.ok(await judge(relative), 'the clock, by a path relative to its cwd');
  assert.not.ok(await judge(lookAlike), 'another main.js with PM2-like markers');
  assert.not.ok(await judge(otherState), 'another STATE_DIR');
});

Identity.run();
