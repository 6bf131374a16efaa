/**
 * The two PM2 messages the clock sends at start. PM2's own client library (@pm2/io) would add ~90 ms
 * and ~11 MB to every start, measured here, and start time is what the clock is judged on, so these
 * few messages of PM2's IPC protocol are spoken directly. Outside PM2 (no IPC channel) they do nothing.
 */

/** Tells PM2 the app is ready: with `wait_ready`, PM2 counts it online only from here. */
export function signalReady(): void {
  send('ready');
}

/**
 * A reply is sent this long after the request: `pm2 trigger` exits on the replies it counts against
 * the number of processes the daemon says it asked (PM2's Extra.js), and a reply that overtakes that
 * answer is counted against 0, so the command waits for ever (measured under wine, where the two come
 * over different pipes).
 */
export const ACTION_REPLY_DELAY_MS = 100;

/**
 * Declares a custom action, run by `pm2 trigger <app> <name> [param]`; what `handler` returns is
 * the reply that command prints. `afterReply`, when the handler returns one, runs once the reply is out.
 */
export function registerAction(name: string, handler: (param: string | undefined) => unknown, afterReply?: (reply: unknown) => void): void {
  if (!process.send) return;
  send({ type: 'axm:action', data: { action_name: name, action_type: 'custom', arity: 1 } });
  process.on('message', (message: unknown) => {
    const request = typeof message === 'string' ? { msg: message } : (message as { msg?: unknown; opts?: unknown });
    if (request?.msg !== name) return;
    const reply = handler(typeof request.opts === 'string' ? request.opts : undefined);
    const answer = (): void => {
      pending.delete(answer);
      clearTimeout(timer);
      send({ type: 'axm:reply', data: { action_name: name, return: reply } }, () => afterReply?.(reply));
    };
    const timer = setTimeout(answer, ACTION_REPLY_DELAY_MS);
    pending.add(answer);
  });
}

/** Replies not sent yet (ACTION_REPLY_DELAY_MS). */
const pending = new Set<() => void>();

/**
 * Sends at once every reply still waiting: for a process about to exit (a fault it was asked to
 * inject can end it, as four worker crashes do), so that `pm2 trigger` has its answer.
 */
export function sendPendingReplies(): void {
  for (const answer of [...pending]) answer();
}

function send(message: unknown, sent: () => void = () => {}): void {
  // The daemon may be gone (killed, restarting): the clock keeps ticking without it.
  process.send?.(message, undefined, undefined, () => sent());
}

/** A metric as `pm2 monit` and `pm2 describe` show it. */
export interface Metric {
  value: number | string;
  unit?: string;
}

/** Publishes custom metrics to PM2 (shown by `pm2 monit`, `pm2 describe`, and in `pm2 jlist`'s axm_monitor). */
export function publishMetrics(metrics: Record<string, Metric>): void {
  send({ type: 'axm:monitor', data: metrics });
}
