import { ConfigError, readClockConfig, readProbeConfig } from '../../apps/shared/config.ts';
import { SCRIPT_EXIT } from '../lib/cli.ts';
import { DEFAULT_FAULTS, defaultFaults, MAX_FAULTS, parseChaosArgs } from './options.ts';
import { FAULT_DESCRIPTIONS, FAULT_KINDS, MACHINE_FAULT_KINDS, MACHINE_RUN_KINDS, STANDBY_FAULT_DESCRIPTIONS, STANDBY_FAULT_KINDS, WORKER_FAULT_KINDS } from './plan.ts';
import { WORKER_MARGIN_MS } from './worker-targets.ts';
import { DISK_SIZES, machineMissing } from './machine.ts';
import { DISK_FAULT_MS, HELD_DEADLINE_MS } from './machine-faults.ts';
import { createProgress } from './progress.ts';
import { RECOVERY_DEADLINE_MS } from './health.ts';
import { renderReport, verdict } from './report.ts';
import { chaosSettings, runChaos } from './run.ts';
import { watchInterrupts } from '../lib/interrupt.ts';
import { missing } from '../cluster/cluster.ts';
import { CLUSTER_FAULT_DESCRIPTIONS, CLUSTER_FAULT_KINDS } from '../cluster/faults.ts';
import { clusterVerdictOk, renderClusterReport, runClusterChaos } from './cluster-run.ts';

const HELP = `npm run chaos -- [--faults N] [--seed S] [--standby | --cluster | --machine] [--no-worker] [--kinds K,K…]

Breaks the clock, the probe and a guarded worker on purpose, one fault at a time at random moments,
checks that each heals, then reads the clock's whole PM2 log and checks that no tick was lost. It
runs against a PM2 daemon of its own (a temporary PM2_HOME, state and logs, removed afterwards): your
own PM2, clock and probe are never touched.

The faults, chosen at random (every kind once in each round of ${FAULT_KINDS.length + WORKER_FAULT_KINDS.length}), each after 0.5 to 2 s of healthy ticking:
${[...FAULT_KINDS, ...WORKER_FAULT_KINDS].map((kind) => `  ${kind.padEnd(18)} ${FAULT_DESCRIPTIONS[kind]}`).join('\n')}

The worker is the example of a guarded app that is not the clock (examples/guarded-worker, started
from its own ecosystem file with its own settings), under the same probe. A fault of the worker has
healed once a new worker process is online in PM2 and has written a ready beat (timed on the monotonic
clock, from the signal to the look that saw it); it must leave the clock the same process, and a fault
of the clock or the probe (kill-daemon aside) must leave the worker so: otherwise the run fails. The
report judges two targets: a hung worker replaced within its GUARD_HANG_MS + ${WORKER_MARGIN_MS / 1000} s, a stalled one
within its GUARD_STALL_MS + ${WORKER_MARGIN_MS / 1000} s of the moment it owed progress (its last beat's owedInMs).

After each: healthy within ${RECOVERY_DEADLINE_MS / 1000} s, that is PM2 says clock and probe online, the process table holds
exactly one clock of this state (PM2's), its heartbeat is fresh, and it prints ticks again; with the
worker, PM2 says it online too, the process table holds exactly PM2's worker, its beat its own, ready
and fresh. Time to recover: from the fault to the first tick the replacement printed (by the tick's
own time in PM2's log); for the probe, to PM2 reporting a new one online. All along, the process
table is sampled every 50 ms: never more than one clock for longer than one probe period. At the
end, for every run and thread: no tick number missing, no more repeats than crashes, and back to run
1 only where the clock logged a damaged checkpoint. Progress goes to stderr, the report to stdout.

  --faults N   how many faults (default ${DEFAULT_FAULTS}, ${defaultFaults(false)} with --no-worker, ${defaultFaults(true, false, false, true)} with --standby, ${defaultFaults(false, true)} with --cluster,
               ${defaultFaults(false, false, true)} with --machine, two rounds of --kinds; at most ${MAX_FAULTS})
  --seed S     seed of the random choices (default: a new one, printed): the same seed, the same faults
  --standby    hot-standby mode: the sandbox runs CLOCK_STANDBY=1 (see below)
  --cluster    cluster mode: three test hosts, host-level faults (see below)
  --machine    faults of the machine too: disks full and read-only, steps of the wall clock, a hung probe (see below)
  --no-worker  no worker beside the clock, none of its faults (--machine and --cluster run none either)
  --kinds K,…  only these kinds of the mode, each once per round (e.g. --machine --kinds fill-log,hang-probe)

--standby: PM2 runs two clock instances; exactly one is active (owns the state lock, writes the
heartbeat, ticks), the other is the standby, waiting to take over. "The clock" a fault strikes is the
active one, the heartbeat's writer; each round of ${STANDBY_FAULT_KINDS.length + WORKER_FAULT_KINDS.length} (${STANDBY_FAULT_KINDS.length} with --no-worker) adds a kill of the standby:
${STANDBY_FAULT_KINDS.map((kind) => `  ${kind.padEnd(18)} ${STANDBY_FAULT_DESCRIPTIONS[kind]}`).join('\n')}
Healthy then means: PM2 says both clock instances and the probe online; the process table holds
exactly PM2's two clocks; one of them writes a fresh, ticking heartbeat and says it is active, the
other says it is the standby and waits on the state lock. After a fault on the active, the standby
must have taken over (its "took over from clock pid N" line), and time to recover runs to the first
tick after that line; after a kill of the standby, the active must not change, and time to recover
runs to PM2 reporting the new standby waiting. All along: never more than two clocks for longer than
one probe period, and never two ticking at once (in both modes the heartbeat is watched: only the
owner of the state writes it, so once another clock has written it the old one never may again).

--cluster: three test hosts on this machine (npm run cluster: network namespaces, a 3-member etcd,
a PM2 daemon on each; Linux, root, Debian's etcd-server), and host-level faults, every kind once in
each round of ${CLUSTER_FAULT_KINDS.length}:
${CLUSTER_FAULT_KINDS.map((kind) => `  ${kind.padEnd(18)} ${CLUSTER_FAULT_DESCRIPTIONS[kind]}`).join('\n')}
After each: another host ticks (time to recover: the fault to its first tick), the old leader had
stopped ticking before, and once healed it follows and the lead stays. At the end, over every host's
log: no tick number lost, at most one repeat per thread per failover, never two hosts at once.

--machine (Linux, root, Debian's libfaketime): the sandbox's LOG_DIR and STATE_DIR each a tmpfs of
their own (${DISK_SIZES.log} and ${DISK_SIZES.state}, unmounted at the end whatever happens), the clock and the probe
each under libfaketime with a wall clock of its own (PM2's daemon and chaos keep the true time;
monotonic clocks are left alone, as a real step leaves them). Every plain kind, and these, once in
each round of ${MACHINE_RUN_KINDS.length}:
${MACHINE_FAULT_KINDS.map((kind) => `  ${kind.padEnd(18)} ${FAULT_DESCRIPTIONS[kind]}`).join('\n')}
A disk stays full or read-only until PM2's \`held\` metric says the clock holds for it (at most
${HELD_DEADLINE_MS / 1000} s: the log's last 4 KB page takes lines until it is full) and ${DISK_FAULT_MS / 1000} s at the least; time to
recover runs from the moment it is given back to the first tick printed after (by the tick's own
time in PM2's log). A step is watched for twice (PROBE_HANG_MS + PROBE_PERIOD_MS) after it and as
long after the step back: the clock must stay the same process, the probe heal nothing (its
\`heals: …\` metrics), every thread tick on; a heal then is a false heal and fails the run. Time to
recover: from the step to the first tick after it. A hung probe: from kill -STOP to PM2 reporting
a new probe online, the stopped one gone. The report judges the issue's targets on these figures.

Environment: CLOCK_INTERVALS (default 0.2,0.4), CLOCK_TICKS (default 5), PROBE_PERIOD_MS (default 200),
PROBE_HANG_MS (default 1000) set the sandbox's clock and probe.

Exit codes: 0 every fault recovered and no tick was lost; 1 something did not recover, a tick was
lost, two clocks overlapped too long or ticked at once, or the run itself failed (the lines before
say which); 3 --cluster or --machine needs root; 100 wrong usage; 130 interrupted by Ctrl-C (143 by
SIGTERM), after cleaning up.`;

async function main(): Promise<number> {
  const parsed = parseChaosArgs(process.argv.slice(2));
  if (parsed.kind === 'help') {
    console.log(HELP);
    return SCRIPT_EXIT.ok;
  }
  if (parsed.kind === 'usage') {
    console.error(`chaos: ${parsed.message}; see npm run chaos -- --help`);
    return SCRIPT_EXIT.usage;
  }
  const { options } = parsed;
  try {
    // Checked here, as the clock and the probe would check them: a bad one is wrong usage, not a failed heal.
    readClockConfig(chaosSettings(process.env, options.standby));
    readProbeConfig(chaosSettings(process.env, options.standby));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`chaos: ${error.message}`);
    return SCRIPT_EXIT.usage;
  }
  const progress = createProgress();
  // The run stops at its next step and cleans up its sandbox on the way out.
  const interruption = watchInterrupts('chaos', 'unwind');
  const noWorker = !options.worker && !options.cluster && !options.machine;
  const mode = `${options.standby ? ' --standby' : options.cluster ? ' --cluster' : options.machine ? ' --machine' : ''}${noWorker ? ' --no-worker' : ''}${options.kinds ? ` --kinds ${options.kinds.join(',')}` : ''}`;
  if (options.machine) {
    const cannot = machineMissing();
    if (cannot) {
      console.error(`chaos: --machine: ${cannot}`);
      return process.getuid?.() !== 0 ? SCRIPT_EXIT.needsRoot : SCRIPT_EXIT.failed;
    }
  }
  progress.note(`seed ${options.seed}: npm run chaos -- --faults ${options.faults} --seed ${options.seed}${mode} repeats this run`);
  try {
    if (options.cluster) {
      const cannot = missing();
      if (cannot) {
        console.error(`chaos: --cluster: ${cannot}`);
        return process.getuid?.() !== 0 ? SCRIPT_EXIT.needsRoot : SCRIPT_EXIT.failed;
      }
      const outcome = await runClusterChaos(options, progress, interruption.signal);
      process.stdout.write(renderClusterReport(outcome));
      return clusterVerdictOk(outcome).ok ? SCRIPT_EXIT.ok : SCRIPT_EXIT.failed;
    }
    const outcome = await runChaos(options, progress, interruption.signal);
    process.stdout.write(renderReport(outcome));
    return verdict(outcome).ok ? SCRIPT_EXIT.ok : SCRIPT_EXIT.failed;
  } catch (error) {
    const interrupted = interruption.exitCode();
    if (interrupted !== undefined) return interrupted;
    throw error;
  }
}

// Exits here rather than when the event loop drains: after an interrupt, a step that was cut short
// may still hold a timer or a socket for a while, and the sandbox it served is already gone.
process.exit(await main().catch((error: unknown) => {
  console.error(`chaos: ${error instanceof Error ? error.message : String(error)}`);
  return SCRIPT_EXIT.failed;
}));
