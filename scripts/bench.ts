import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../apps/shared/config.ts';
import { readHeartbeat } from '../apps/shared/heartbeat.ts';
import { statePaths } from '../apps/shared/state-dir.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from './lib/pm2-sandbox.ts';
import { median, percentile } from './lib/stats.ts';
import { waitFor } from './lib/wait.ts';

const HELP = `npm run bench -- [--kills N] [--json]

Measures, side by side in one run against a PM2 daemon of its own (a temporary PM2_HOME):
  recovery after SIGKILL   kill -9 of the clock -> the clock ready again (lock, checkpoint, workers),
                           beside the same for a bare JavaScript app under the same PM2 (the floor)
  memory                   resident memory of the clock process (main thread + workers)
Prints figures; asserts nothing.

  --kills N   kills per app (default 20)
  --json      machine-readable output
Exit codes: 0 measured, 1 failed to measure, 100 wrong usage.`;

// Kill only a clock that has been ready for over a second: the figure is the healthy-restart path,
// not the crash-loop back-off.
const SETTLE_MS = 1_200;

interface Figure {
  name: string;
  value: string;
  anchor: string;
  target: string;
  met: boolean;
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs({ options: { kills: { type: 'string', default: '20' }, json: { type: 'boolean' }, help: { type: 'boolean' } } }).values;
  } catch (error) {
    console.error(`bench: ${(error as Error).message}; see npm run bench -- --help`);
    return 100;
  }
  if (options.help) {
    console.log(HELP);
    return 0;
  }
  const kills = Number(options.kills);
  if (!Number.isInteger(kills) || kills < 1) {
    console.error(`bench: --kills expects a whole number from 1, got "${options.kills}"`);
    return 100;
  }
  const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const sandbox = await createSandbox({ CLOCK_INTERVALS: '2,4', CLOCK_TICKS: '20' });
  try {
    const readyFile = join(sandbox.dir, 'bare-ready.json');
    await sandbox.pm2('start', ECOSYSTEM);
    await sandbox.pm2With({ BARE_READY_FILE: readyFile }, 'start', join(PROJECT_ROOT, 'scripts/lib/bare-app.js'), '--name', 'bare');
    const heartbeatPath = statePaths(sandbox.stateDir).heartbeat;
    const clockMs: number[] = [];
    const bareMs: number[] = [];
    for (let kill = 1; kill <= kills; kill++) {
      progress(`kill ${kill}/${kills}`);
      clockMs.push(await recovery(sandbox, 'clock', async () => (await readHeartbeat(heartbeatPath))?.readyAt ?? undefined));
      bareMs.push(await recovery(sandbox, 'bare', async () => JSON.parse(await readFile(readyFile, 'utf8')).readyAt));
    }
    const rssMb = await residentMb(await sandbox.onlinePid('clock'));
    const ratio = median(clockMs) / median(bareMs);
    const figures: Figure[] = [
      {
        name: 'recovery after SIGKILL (median, p95)',
        value: `${median(clockMs)} ms, ${percentile(clockMs, 0.95)} ms`,
        anchor: `bare JS app: ${median(bareMs)} ms, ${percentile(bareMs, 0.95)} ms (ratio ${ratio.toFixed(2)})`,
        target: '<= 1.5 x bare',
        met: ratio <= 1.5,
      },
      { name: 'clock resident memory', value: `${rssMb.toFixed(1)} MB`, anchor: 'main thread + 2 workers', target: '< 80 MB', met: rssMb < 80 },
    ];
    if (options.json) console.log(JSON.stringify({ kills, clockMs, bareMs, rssMb, figures }, null, 2));
    else printTable(figures, kills);
    return 0;
  } finally {
    await sandbox.cleanup();
  }
}

/**
 * SIGKILLs app `name` and returns the ms from the kill to the moment the new process says it is
 * ready, as that process itself recorded it (`readyAt`): no polling delay is counted.
 */
async function recovery(sandbox: Sandbox, name: string, readyAt: () => Promise<number | undefined>): Promise<number> {
  const pid = await sandbox.onlinePid(name);
  await waitFor(`${name} to have been ready for ${SETTLE_MS} ms`, async () => {
    const at = await readyAt().catch(() => undefined);
    return at !== undefined && Date.now() - at > SETTLE_MS;
  });
  const before = await readyAt();
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  const after = await waitFor(`${name} to be ready again`, async () => {
    const at = await readyAt().catch(() => undefined);
    return at !== undefined && at !== before ? at : undefined;
  });
  return after - killedAt;
}

async function residentMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

function printTable(figures: Figure[], kills: number): void {
  const rows = [['figure', 'measured', 'anchor', 'target', ''], ...figures.map((f) => [f.name, f.value, f.anchor, f.target, f.met ? 'met' : 'MISSED'])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log(`estatus bench: ${kills} SIGKILLs per app, Node ${process.version}, PM2 in a temporary PM2_HOME`);
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
});
