import type { Finding, Observation } from './diagnose.ts';

/** What the probe says of a finding, in one line for its log; undefined for one not worth a line. */
export function describeFinding(finding: Finding, seen: Observation): string | undefined {
  const { name } = seen;
  switch (finding.kind) {
    case 'not-declared':
      return `PM2 has no app named ${name}; nothing to watch`;
    case 'stopped':
      return `${name} is stopped in PM2 (pm2 stop ${name}, or a bad setting): leaving it stopped; pm2 start ${name} resumes it`;
    case 'transient':
      return undefined;
    case 'errored':
      return `${name} is errored: PM2 gave up restarting it`;
    case 'ghost':
      return `PM2 says ${name} pid ${finding.pid} is online, but no such live ${name} exists (ghost)`;
    case 'hung':
      return `${name} pid ${finding.pid} is hung: no heartbeat for ${seconds(finding.silentMs)} s (limit ${seen.hangMs / 1000} s)`;
    case 'stalled':
      return `${name} pid ${finding.pid} is stalled: its heartbeat is fresh, but it is ${seconds(finding.overdueMs)} s past the moment it owed progress (limit ${seen.stallMs / 1000} s)`;
    case 'held':
      return `${name} pid ${finding.pid} is alive and held back: ${finding.on.map(heldWhy).join('; ')} (it carries on by itself once that passes)`;
    case 'waiting':
      return `${name} pid ${finding.pid} waits for its state, held by ${name} pid ${finding.ownerPid}, which PM2 does not own`;
    case 'starting':
      return `${name} pid ${finding.pid} is starting`;
    case 'healthy':
      return `${name} pid ${finding.pid} is healthy`;
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function heldWhy(on: string): string {
  if (on === 'state') return 'its state cannot be saved (its disk is full, read-only or failing)';
  if (on === 'log') return "PM2's log has stopped taking its lines";
  return on;
}

/** Findings that call for a fresh look at PM2 before anything is done: its view may be a moment old. */
export function needsFreshView(finding: Finding): boolean {
  return finding.kind === 'ghost' || finding.kind === 'hung' || finding.kind === 'stalled' || finding.kind === 'errored';
}
