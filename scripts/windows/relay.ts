import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 50;
const CHUNK = 64 * 1024;

/**
 * Copies what is appended to `path` onto `to` as it grows (checked every 50 ms), so that a command
 * that runs for long (`pm2 logs clock`) streams. `finish()` copies the rest and stops.
 */
export function relayFile(path: string, to: NodeJS.WritableStream): { finish(): Promise<void> } {
  let done = false;
  const copying = (async () => {
    const file = await open(path, 'r');
    const buffer = Buffer.alloc(CHUNK);
    let offset = 0;
    try {
      for (;;) {
        const finishing = done;
        let bytesRead: number;
        while ((bytesRead = (await file.read(buffer, 0, CHUNK, offset)).bytesRead) > 0) {
          offset += bytesRead;
          if (!to.write(Buffer.from(buffer.subarray(0, bytesRead)))) await new Promise((resolve) => to.once('drain', resolve));
        }
        if (finishing) return;
        await sleep(POLL_MS);
      }
    } finally {
      await file.close();
    }
  })();
  return {
    finish() {
      done = true;
      return copying;
    },
  };
}
