import { constants } from 'node:os';

/**
 * Ctrl-C (SIGINT) and SIGTERM, for the scripts that start things of their own (bench: PM2 daemons,
 * thousands of idle processes; chaos: a PM2 daemon and a stopped clock). One handler per process,
 * for both. On the first signal it says so in one line and aborts `signal`. Then, by `ending`:
 * 'exit' runs the cleanups registered with cleanUpOnInterrupt, newest first, and exits 128 + the
 * signal's number (130, 143); 'unwind' leaves it to the script, whose work stops at its next step
 * on `signal` and cleans up in its own finally blocks, and which returns `exitCode()`. A second
 * signal while cleaning up is ignored: it must not cut the cleanup short.
 */
export interface Interruption {
  signal: AbortSignal;
  /** 130 after Ctrl-C, 143 after SIGTERM; undefined while neither came. */
  exitCode(): number | undefined;
}

type Cleanup = () => Promise<void>;

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

const registered = new Set<Cleanup>();
const controller = new AbortController();
let program: string | undefined;
let ending: 'exit' | 'unwind' = 'exit';
let caught: (typeof SIGNALS)[number] | undefined;

/** Installs the handler (once); `name` is the program the line it writes is from. */
export function watchInterrupts(name: string, how: 'exit' | 'unwind'): Interruption {
  if (program === undefined) {
    for (const signal of SIGNALS) process.on(signal, () => void interrupted(signal));
  }
  program = name;
  ending = how;
  return { signal: controller.signal, exitCode: () => (caught ? 128 + constants.signals[caught] : undefined) };
}

/**
 * Registers `cleanup` to run on an interrupt (see watchInterrupts, called first), and returns it
 * guarded for the caller's own finally block: however often it is called (finally and the signal at
 * once), it runs once and all callers await that run.
 */
export function cleanUpOnInterrupt(cleanup: () => Promise<void> | void): Cleanup {
  if (program === undefined) throw new Error('cleanUpOnInterrupt: call watchInterrupts first');
  let running: Promise<void> | undefined;
  const once: Cleanup = () => {
    running ??= (async () => {
      try {
        await cleanup();
      } finally {
        registered.delete(once);
      }
    })();
    return running;
  };
  registered.add(once);
  return once;
}

async function interrupted(signal: (typeof SIGNALS)[number]): Promise<void> {
  if (caught) return;
  caught = signal;
  process.stderr.write(`\n${program}: ${signal === 'SIGINT' ? 'interrupted' : 'terminated'}; cleaning up\n`);
  controller.abort();
  if (ending === 'unwind') return;
  for (const cleanup of [...registered].reverse()) {
    await cleanup().catch((error: unknown) => process.stderr.write(`${program}: cleanup failed: ${String(error)}\n`));
  }
  process.exit(128 + constants.signals[signal]);
}
