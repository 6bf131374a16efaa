import { performance } from 'node:perf_hooks';
import { findProcesses, listPids, readEnviron, readProcess, readStat } from '../../apps/probe/proc-table.ts';

/**
 * What the probe's reads of the process table cost here, printed (not asserted): one look at one
 * pid (the steady state: readStat), the full identity read of one pid (once per new clock process),
 * and one full scan for duplicates. Runs as well under Windows Node (bundle it; wine is not Windows).
 * Usage: npx tsx scripts/bench/proc-table-cost.ts [iterations]
 */
const iterations = Number(process.argv[2] ?? 300);

function measure(what: string, read: () => unknown): void {
  read();
  const started = performance.now();
  for (let index = 0; index < iterations; index++) read();
  const perCallMs = (performance.now() - started) / iterations;
  process.stdout.write(`${what.padEnd(44)} ${(perCallMs * 1000).toFixed(1).padStart(9)} µs\n`);
}

process.stdout.write(`${process.platform} ${process.arch}, Node ${process.versions.node}, ${listPids().length} processes, ${iterations} iterations each\n`);
measure('one look at one pid (readStat)', () => readStat(process.pid));
measure('identity read of one pid (readProcess)', () => readProcess(process.pid));
measure('its environment (readEnviron)', () => readEnviron(process.pid));
measure('full scan for clocks (findProcesses)', () => findProcesses('dist/clock/main.js', 'node'));
