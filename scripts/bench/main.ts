import { SCRIPT_EXIT } from '../lib/cli.ts';
import { cleanUpOnInterrupt, watchInterrupts } from '../lib/interrupt.ts';
import { createSandbox } from '../lib/pm2-sandbox.ts';
import { measureCluster } from './cluster.ts';
import { measureGuardedApps } from './guarded-apps.ts';
import { printTable, toFigures, toJson } from './figures.ts';
import { measure, measureStandby, PROBE_HANG_MS, PROBE_PERIOD_MS, TICKS_PER_RUN, type Measurements } from './measure.ts';
import { HELP, parseOptions, type Options } from './options.ts';
import { measureWindows } from './windows.ts';

/**
 * `npm run bench`: recovery times, tick accuracy, probe cost and memory, each beside its anchor,
 * measured against PM2 daemons of its own (options.ts has the whole list and the exit codes).
 */

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions();
  } catch (error) {
    // parseArgs's own complaints (an unknown option, a missing value) and ours alike.
    console.error(`bench: ${(error as Error).message}; see npm run bench -- --help`);
    return SCRIPT_EXIT.usage;
  }
  if (options === 'help') {
    console.log(HELP);
    return SCRIPT_EXIT.ok;
  }
  const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
  watchInterrupts('bench', 'exit');
  const settings = {
    CLOCK_INTERVALS: '2,4',
    // Only so that the bench can stall the clock on purpose (pm2 trigger clock fault stall).
    CLOCK_FAULTS: '1',
    CLOCK_TICKS: String(TICKS_PER_RUN),
    PROBE_PERIOD_MS: String(PROBE_PERIOD_MS),
    PROBE_HANG_MS: String(PROBE_HANG_MS),
  };
  // Explicitly off: a CLOCK_STANDBY=1 in the caller's environment would turn the restart figure,
  // the anchor of the takeover, into a takeover too.
  const sandbox = await createSandbox({ ...settings, CLOCK_STANDBY: '0' });
  const cleanUpSandbox = cleanUpOnInterrupt(() => sandbox.cleanup());
  let plain: Omit<Measurements, 'standby' | 'cluster' | 'windows' | 'guarded'>;
  try {
    plain = await measure(sandbox, options, progress);
  } finally {
    // Gone before the standby pair starts: on two cores its clock, probe and bare app would compete
    // with the takeovers for CPU.
    await cleanUpSandbox();
  }
  const standbySandbox = await createSandbox({ ...settings, CLOCK_STANDBY: '1' });
  const cleanUpStandbySandbox = cleanUpOnInterrupt(() => standbySandbox.cleanup());
  let standby: Measurements['standby'];
  try {
    standby = await measureStandby(standbySandbox, options, progress);
  } finally {
    await cleanUpStandbySandbox();
  }
  // A daemon of its own, after the others are gone: its workers would load the two cores.
  const guarded =
    options.guardedApps > 0
      ? await measureGuardedApps({ apps: options.guardedApps, seconds: options.guardedSeconds, hangs: options.workerHangs, stalls: options.workerStalls }, progress)
      : undefined;
  // Last: its hosts' etcd members and PM2 daemons would compete with everything above for the two cores.
  const cluster = options.failovers > 0 ? await measureCluster(options.failovers, options.quietSeconds, progress) : undefined;
  // After the cluster: wine's processes would compete with every Linux figure above.
  const windows = options.windowsKills > 0 ? await measureWindows(options.windowsKills, options.windowsProbeSeconds, progress) : undefined;
  const measured: Measurements = { ...plain, standby, cluster, windows, guarded };
  const figures = toFigures(measured);
  if (options.json) console.log(JSON.stringify(toJson(options, measured, figures), null, 2));
  else printTable(figures, options);
  return SCRIPT_EXIT.ok;
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  return SCRIPT_EXIT.failed;
});
