/**
 * Ctrl-C must not leave behind what the bench started (a stopped clock, thousands of idle processes,
 * a PM2 daemon): the cleanups registered here run, newest first, and then the process exits 130.
 */
type Cleanup = () => Promise<void>;

// The shell's convention for a process ended by SIGINT: 128 + 2.
const EXIT_INTERRUPTED = 130;

const registered = new Set<Cleanup>();
let handlerInstalled = false;
let interrupted = false;

/**
 * Registers `cleanup` to run on Ctrl-C, and returns it guarded for the caller's own finally block:
 * however often it is called (finally and Ctrl-C at once), it runs once and all callers await that run.
 */
export function cleanUpOnInterrupt(cleanup: () => Promise<void> | void): Cleanup {
  installHandler();
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

function installHandler(): void {
  if (handlerInstalled) return;
  handlerInstalled = true;
  process.on('SIGINT', () => void cleanUpAndExit());
}

async function cleanUpAndExit(): Promise<void> {
  // A second Ctrl-C while cleaning up must not cut the cleanup short.
  if (interrupted) return;
  interrupted = true;
  process.stderr.write('bench: interrupted; cleaning up\n');
  for (const cleanup of [...registered].reverse()) {
    await cleanup().catch((error: unknown) => process.stderr.write(`bench: cleanup failed: ${String(error)}\n`));
  }
  process.exit(EXIT_INTERRUPTED);
}
