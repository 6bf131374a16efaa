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
 * Declares a custom action, run by `pm2 trigger <app> <name> [param]`; what `handler` returns is
 * the reply that command prints.
 */
export function registerAction(name: string, handler: (param: string | undefined) => unknown): void {
  if (!process.send) return;
  send({ type: 'axm:action', data: { action_name: name, action_type: 'custom', arity: 1 } });
  process.on('message', (message: unknown) => {
    const request = typeof message === 'string' ? { msg: message } : (message as { msg?: unknown; opts?: unknown });
    if (request?.msg !== name) return;
    const reply = handler(typeof request.opts === 'string' ? request.opts : undefined);
    send({ type: 'axm:reply', data: { action_name: name, return: reply } });
  });
}

function send(message: unknown): void {
  // The daemon may be gone (killed, restarting): the clock keeps ticking without it.
  process.send?.(message, undefined, undefined, () => {});
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
