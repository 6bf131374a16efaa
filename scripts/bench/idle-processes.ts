import { spawn, type ChildProcess } from 'node:child_process';
import { setImmediate as yieldToOthers } from 'node:timers/promises';
import { waitFor } from '../lib/wait.ts';

const SPAWN_BATCH = 25;

/**
 * Real idle processes (`sleep 3600`), so that a scan of /proc has a busy machine's process table to
 * go through. They are this process's own children: each is killed by its pid, never by name.
 */
export class IdleProcesses {
  private readonly children: ChildProcess[] = [];

  get pids(): number[] {
    return this.children.flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  /** Starts `count` of them and resolves once every one of them runs `sleep`. */
  async start(count: number): Promise<void> {
    const started: Promise<void>[] = [];
    for (let index = 0; index < count; index++) {
      const child = spawn('/bin/sleep', ['3600'], { stdio: 'ignore', detached: false });
      this.children.push(child);
      started.push(spawned(child));
      // Each spawn blocks the event loop for a moment: in batches, what else the bench samples meanwhile
      // (the clock's heartbeat, every 100 ms) keeps its turn.
      if (index % SPAWN_BATCH === SPAWN_BATCH - 1) await yieldToOthers();
    }
    await Promise.all(started);
  }

  /** SIGKILLs every one still running, by pid, and waits until all are gone. */
  async killAll(): Promise<void> {
    const running = this.children.filter(isRunning);
    for (const child of running) {
      // Not yet reaped, so the pid cannot have been reused by another process.
      if (child.pid !== undefined) sigkill(child.pid);
    }
    await waitFor(`${running.length} idle processes to end`, () => !running.some(isRunning), 30_000);
    this.children.length = 0;
  }
}

function spawned(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new Error(`could not start an idle process: ${error.message}`)));
  });
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Never throws: one that cannot be killed must not keep the rest alive (the wait after it reports it). */
function sigkill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already (ESRCH), or the wait below times out naming how many are left.
  }
}
