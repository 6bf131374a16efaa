import { execFileSync } from 'node:child_process';
import { readProcStat } from '../../apps/shared/proc-stat.ts';
import { isAlive } from '../lib/wait.ts';

/**
 * The test hosts' network: one Linux network namespace per host and one more, the switch, that holds
 * a bridge; each host joins it by a veth pair (eth0 inside the host). The addresses exist only
 * inside these namespaces: the machine's own namespace gets no address, route or link.
 */

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

export function namespaceExists(name: string): boolean {
  return ip('netns', 'list').split('\n').some((line) => line.split(' ')[0] === name);
}

export function createSwitch(netns: string): void {
  ip('netns', 'add', netns);
  ip('-n', netns, 'link', 'set', 'lo', 'up');
  ip('-n', netns, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', netns, 'link', 'set', 'br0', 'up');
}

/** A host namespace with eth0 at `address` (CIDR), linked to the switch as `link`. */
export function createHost(netns: string, switchNetns: string, link: string, address: string): void {
  ip('netns', 'add', netns);
  ip('-n', netns, 'link', 'set', 'lo', 'up');
  ip('-n', switchNetns, 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
  ip('-n', switchNetns, 'link', 'set', link, 'master', 'br0');
  ip('-n', switchNetns, 'link', 'set', link, 'up');
  ip('-n', netns, 'addr', 'add', address, 'dev', 'eth0');
  ip('-n', netns, 'link', 'set', 'eth0', 'up');
}

/** Cuts a host off the network (both ends of its link down), or joins it again. */
export function setHostLink(netns: string, switchNetns: string, link: string, up: boolean): void {
  const state = up ? 'up' : 'down';
  ip('-n', switchNetns, 'link', 'set', link, state);
  ip('-n', netns, 'link', 'set', 'eth0', state);
}

/** The processes inside `netns` (those this cluster started there, and their children). */
export function pidsIn(netns: string): number[] {
  if (!namespaceExists(netns)) return [];
  return ip('netns', 'pids', netns).split('\n').map(Number).filter((pid) => pid > 0);
}

/**
 * Whether every process that was in `netns` has ended: gone, or a zombie. Not merely dying: one the
 * kernel is still taking down may hold its sockets (etcd's ports) for a few ms more.
 */
export function allEnded(netns: string): boolean {
  return pidsIn(netns).every((pid) => {
    const state = readProcStat(pid)?.state;
    return state === undefined || state === 'Z' || state === 'X';
  });
}

/** Sends `signal` to every process inside `netns`, each checked alive just before; returns how many. */
export function signalAllIn(netns: string, signal: NodeJS.Signals): number {
  let sent = 0;
  for (const pid of pidsIn(netns)) {
    if (!isAlive(pid)) continue;
    try {
      process.kill(pid, signal);
      sent += 1;
    } catch {
      // Gone in between.
    }
  }
  return sent;
}

export function deleteNamespace(netns: string): void {
  if (namespaceExists(netns)) ip('netns', 'delete', netns);
}
