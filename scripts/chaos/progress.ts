/**
 * Progress on stderr while chaos runs. On a terminal: one line that redraws itself, a bar with the
 * count and the latest outcome; a note clears it, prints, and the bar comes back under it. Otherwise
 * (a pipe, a CI log): one plain line per event, nothing to redraw.
 */
export interface Progress {
  /** A fault is done: `done` of `total`, with how it ended. */
  update(done: number, total: number, line: string): void;
  /** What is going on now (on a terminal only: a plain log gets the outcome alone). */
  working(done: number, total: number, line: string): void;
  /** A line to keep (setup, a wait, a failure), above the bar on a terminal. */
  note(line: string): void;
  /** The bar's last state is left on screen, and the cursor put under it. */
  finish(): void;
}

const BAR_WIDTH = 24;

export function createProgress(stream: NodeJS.WriteStream = process.stderr, name = 'chaos'): Progress {
  if (!stream.isTTY) {
    return {
      update: (done, total, line) => void stream.write(`${name}: ${done}/${total} ${line}\n`),
      working: () => {},
      note: (line) => void stream.write(`${name}: ${line}\n`),
      finish: () => {},
    };
  }
  let bar = '';
  const draw = (): void => void stream.write(`\r\x1b[2K${bar.slice(0, Math.max(20, (stream.columns || 80) - 1))}`);
  return {
    update(done, total, line) {
      bar = `${name} ${progressBar(done, total, BAR_WIDTH)} ${done}/${total} ${line}`;
      draw();
    },
    working(done, total, line) {
      this.update(done, total, line);
    },
    note(line) {
      stream.write(`\r\x1b[2K${name}: ${line}\n`);
      if (bar) draw();
    },
    finish() {
      if (bar) stream.write('\n');
      bar = '';
    },
  };
}

/** `[#####-----]`: done of total in `width` cells. */
export function progressBar(done: number, total: number, width: number): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}
