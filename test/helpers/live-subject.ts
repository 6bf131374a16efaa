import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcTable } from '../../apps/probe/proc-table.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import type { Subject } from './proc-table-contract.ts';

// btime is whole seconds on Linux, and a child's start is not the instant spawn() returns.
const START_SLACK_MS = 2_000;
const SLEEP = 'setInterval(() => {}, 1 << 30)';

/** Children started for a contract run, all ended by stop(). */
export class LiveSubjects {
  private readonly children: ChildProcess[] = [];
  private readonly dir = realpathSync(mkdtempSync(join(tmpdir(), 'estatus-contract-')));

  constructor(private readonly table: ProcTable) {}

  /** A sleeping node child with its own cwd, a marker in its environment and a needle in its argv. */
  async subject(): Promise<Subject> {
    const needle = `estatus-contract-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const marker: [string, string] = ['ESTATUS_CONTRACT_MARKER', needle];
    const before = Date.now();
    const child = this.start([SLEEP, needle], { [marker[0]]: marker[1] }, this.dir);
    const pid = child.pid ?? 0;
    await waitFor(`child ${pid} to run with its own command line`, () => this.table.readProcess(pid)?.argv.includes(needle));
    const after = Date.now();
    const dead = this.start(['']);
    const deadPid = dead.pid ?? 0;
    if (dead.exitCode === null) await once(dead, 'exit');
    // Windows keeps an exited process (state Z here) while a handle holds it; Node closes its own just after 'exit'.
    await waitFor(`ended child ${deadPid} to leave the process table`, () => this.table.readStat(deadPid) === undefined);
    return {
      pid,
      ppid: process.pid,
      argv: [process.execPath, '-e', SLEEP, needle],
      cwd: this.dir,
      marker,
      needle,
      image: 'node',
      deadPid,
      startedBetween: [before - START_SLACK_MS, after + START_SLACK_MS],
    };
  }

  /** A sleeping child for the terminate contract: its pid, and a promise of its end. */
  async target(): Promise<{ pid: number; ended: Promise<unknown> }> {
    const child = this.start([SLEEP]);
    const pid = child.pid ?? 0;
    const ended = once(child, 'exit');
    await waitFor(`child ${pid} to run`, () => this.table.readProcess(pid)?.argv.includes(SLEEP));
    return { pid, ended };
  }

  /** Ends every child still running (each by its own pid, through Node's handle) and removes the cwd. */
  stop(): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private start(args: string[], env: Record<string, string> = {}, cwd?: string): ChildProcess {
    // No pipes: under wine a pipe to a Windows process's stdout fails.
    const child = spawn(process.execPath, ['-e', ...args], { cwd, env: { ...process.env, ...env }, stdio: 'ignore' });
    this.children.push(child);
    return child;
  }
}
