/**
 * Exit codes of the clock and the probe. Their meanings are fixed: the README's table, `--help` and
 * ecosystem.config.js (stop_exit_codes) all rely on them.
 */
export const EXIT = {
  /** Stopped on request (SIGINT/SIGTERM, or PM2's shutdown message), state saved. */
  ok: 0,
  /** A bug: an unexpected error, with its stack trace in the error log. PM2 restarts. */
  internal: 1,
  /** Worker threads kept failing (more than 3 restarts in 30 s): escalated so that PM2 restarts the process. */
  escalated: 70,
  /**
   * The clock's output is gone (stdout is a pipe to the PM2 daemon, and the daemon died): it stops
   * rather than tick into the void, since an unlogged tick is a lost one. The next daemon's clock resumes.
   */
  outputLost: 74,
  /**
   * Cluster mode: this clock lost the leadership (its lease could run out, or another holds the key):
   * it stops ticking at once and leaves; PM2 starts it again, as a follower. Not a crash.
   */
  deposed: 75,
  /**
   * The probe cannot read the process table here (a platform without a backend, or koffi's binary for
   * Windows or macOS missing; the line before it says which and how to get it). PM2 does not restart it.
   */
  unsupported: 69,
  /** Bad configuration: the one line before it names the variable. PM2 does not restart (stop_exit_codes). */
  config: 78,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
