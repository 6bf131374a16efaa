import { setTimeout as sleep } from 'node:timers/promises';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { percentile } from '../lib/stats.ts';

/** One tick's lateness against its schedule, as the worker that fired it measured it. */
export interface Lateness {
  thread: string;
  run: number;
  tick: number;
  lateMs: number;
}

export interface Accuracy {
  run: number;
  ticks: number;
  p50: number;
  p99: number;
  max: number;
  /** Mean lateness of each thread's last 5 ticks minus its first 5: growth means drift. */
  growthMs: number;
}

// Far shorter than the shortest interval (2 s), so that no tick is missed between two reads.
const SAMPLE_EVERY_MS = 100;
const EDGE_TICKS = 5;

/**
 * Reads the heartbeat until `stop` resolves and collects every tick's lateness it shows (each
 * thread's last tick, with the lateness its worker measured on the monotonic clock).
 */
export async function sampleLateness(heartbeatPath: string, stop: Promise<unknown>): Promise<Lateness[]> {
  const seen = new Map<string, Lateness>();
  let done = false;
  void stop.finally(() => (done = true));
  while (!done) {
    const heartbeat = await readHeartbeat(heartbeatPath);
    for (const thread of heartbeat?.threads ?? []) {
      if (heartbeat?.run == null || thread.lateMs === undefined || thread.tick === 0) continue;
      const key = `${heartbeat.run}:${thread.name}:${thread.tick}`;
      if (!seen.has(key)) seen.set(key, { thread: thread.name, run: heartbeat.run, tick: thread.tick, lateMs: thread.lateMs });
    }
    await sleep(SAMPLE_EVERY_MS);
  }
  return [...seen.values()];
}

/**
 * The figures of the first run whose ticks were all seen; undefined if none was. The tick that
 * completes a run is never in a heartbeat (the run rolls over with it), so one may be missing.
 */
export function accuracyOfFirstFullRun(samples: Lateness[], threads: number, ticksPerRun: number): Accuracy | undefined {
  const runs = [...new Set(samples.map((sample) => sample.run))].sort((a, b) => a - b);
  for (const run of runs) {
    const ofRun = samples.filter((sample) => sample.run === run);
    if (ofRun.length < threads * ticksPerRun - 1) continue;
    const late = ofRun.map((sample) => sample.lateMs);
    const names = [...new Set(ofRun.map((sample) => sample.thread))];
    const growth = names.map((name) => {
      const ticks = ofRun.filter((sample) => sample.thread === name).sort((a, b) => a.tick - b.tick).map((sample) => sample.lateMs);
      return mean(ticks.slice(-EDGE_TICKS)) - mean(ticks.slice(0, EDGE_TICKS));
    });
    return { run, ticks: late.length, p50: percentile(late, 0.5), p99: percentile(late, 0.99), max: Math.max(...late), growthMs: Math.max(...growth) };
  }
  return undefined;
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}
