import type { Finding, Observation } from './diagnose.ts';

/** What the probe says of a finding, in one line for its log; undefined for one not worth a line. */
export function describeFinding(finding: Finding, seen: Observation): string | undefined {
  switch (finding.kind) {
    case 'not-declared':
      return 'PM2 has no app named clock; nothing to watch (pm2 start ecosystem.config.js declares it)';
    case 'stopped':
      return 'clock is stopped in PM2 (pm2 stop clock, or a bad setting): leaving it stopped; pm2 start clock resumes it';
    case 'transient':
      return undefined;
    case 'errored':
      return 'clock is errored: PM2 gave up restarting it';
    case 'ghost':
      return `PM2 says clock pid ${finding.pid} is online, but no such live clock exists (ghost)`;
    case 'hung':
      return `clock pid ${finding.pid} is hung: no heartbeat for ${(finding.silentMs / 1000).toFixed(1)} s (limit ${seen.hangMs / 1000} s)`;
    case 'stalled':
      return `clock pid ${finding.pid} is stalled: its heartbeat is fresh, but ${finding.thread} has owed a tick for ${(finding.owedMs / 1000).toFixed(1)} s (limit: its interval + ${seen.hangMs / 1000} s)`;
    case 'held':
      return `clock pid ${finding.pid} is alive and holds its ticks: ${finding.on.map(heldWhy).join('; ')} (it carries on by itself once that passes)`;
    case 'waiting':
      return `clock pid ${finding.pid} waits for the state, held by clock pid ${finding.ownerPid}, which PM2 does not own`;
    case 'starting':
      return `clock pid ${finding.pid} is starting`;
    case 'healthy':
      return `clock pid ${finding.pid} is healthy`;
  }
}

function heldWhy(on: 'state' | 'log'): string {
  return on === 'state' ? 'its checkpoint cannot be saved (the state directory is full, read-only or failing)' : "PM2's log has stopped taking its lines";
}

/** Findings that call for a fresh look at PM2 before anything is done: its view may be a moment old. */
export function needsFreshView(finding: Finding): boolean {
  return finding.kind === 'ghost' || finding.kind === 'hung' || finding.kind === 'stalled' || finding.kind === 'errored';
}
