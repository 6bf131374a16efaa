import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

// Linux reports utime and stime in USER_HZ, which is 100 on every architecture Node runs on.
const CLOCK_TICKS_PER_SECOND = 100;

/** Resident memory of a live process (VmRSS, all its threads), in MB. */
export async function residentMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

/** CPU time a live process has used so far, user + system, all threads (/proc/<pid>/stat fields 14 and 15), in s. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count from the last ')', where field 3 starts.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) throw new Error(`cannot read the CPU time of pid ${pid} from /proc/${pid}/stat`);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** How many processes the machine runs: what a full scan of /proc has to look at. */
export async function processCount(): Promise<number> {
  return (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).length;
}

/** The pid of the PM2 daemon of `pm2Home`, as the daemon itself recorded it. */
export async function pm2DaemonPid(pm2Home: string): Promise<number> {
  const pid = Number(await readFile(join(pm2Home, 'pm2.pid'), 'utf8'));
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`no PM2 daemon pid in ${join(pm2Home, 'pm2.pid')}`);
  return pid;
}
