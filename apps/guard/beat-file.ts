import { mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LatestWriter, writeFileWhole } from '../shared/atomic-write.ts';
import { GUARD_BEAT_CAP_BYTES, parseGuardBeat } from '../shared/guard-contract.ts';
import { readStateFile } from '../shared/state-file.ts';

/**
 * The file an app's beats land in (GUARD_HEARTBEAT): each one replaces the last whole (temp file and
 * rename, owner-only), so the probe never reads half of one. A write that fails is said once, with
 * its code, and its end once; the next beat is the retry. It never throws: a full or read-only disk
 * under the beat is no reason for the app itself to fail.
 */
export class BeatFile {
  /** The code of the fault while writes fail (said once, and again if it changes); undefined while they land. */
  failing: string | undefined;
  private readonly writer: LatestWriter;

  constructor(
    readonly path: string,
    private readonly periodMs: number,
    private readonly say: (line: string) => void,
    /** What carries the pulse while writes fail, for the line that says so. */
    private readonly meanwhile = 'the probe sees no beat',
  ) {
    this.writer = new LatestWriter(
      async (data) => {
        await writeCreatingFolder(path, data);
        if (this.failing !== undefined) say(`writes its beat ${path} again`);
        this.failing = undefined;
      },
      (error) => this.failed(error),
    );
  }

  /** Writes `data` as soon as the write before it is done; a newer value replaces one still waiting. */
  set(data: string): void {
    this.writer.set(data);
  }

  /** Resolves once everything set so far is written, or has failed and been said. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /**
   * Removes the file if it still holds this process's beat: a new process of the app may already
   * have replaced it with its own, which is not this one's to remove.
   */
  async removeOwn(pid: number): Promise<void> {
    await this.flush();
    const file = await readStateFile(this.path, GUARD_BEAT_CAP_BYTES).catch(() => undefined);
    if (file?.kind !== 'read') return;
    const parsed = parseGuardBeat(file.text);
    if (parsed.kind === 'beat' && parsed.beat.pid === pid) await unlink(this.path).catch(() => {});
  }

  private failed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (code === this.failing) return;
    this.failing = code;
    this.say(`cannot write its beat ${this.path} (${code}); trying again every ${this.periodMs} ms, said once: meanwhile ${this.meanwhile}`);
  }
}

/**
 * A missing folder is made, owner-only, and the write tried once more: it was removed under a running
 * app, or the app runs with a GUARD_HEARTBEAT no ecosystem file prepared. An existing folder is left
 * as it is (guard-app.js tightens the default one when the ecosystem loads).
 */
async function writeCreatingFolder(path: string, data: string): Promise<void> {
  try {
    await writeFileWhole(path, data);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileWhole(path, data);
  }
}
