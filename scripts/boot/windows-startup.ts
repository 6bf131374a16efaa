import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { win32 } from 'node:path';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { SCRIPT_EXIT } from '../lib/cli.ts';
import { commandLine, installPlan, logDirOf, NSSM_MISSING_LINE, pm2HomeOf, type WindowsBootFacts } from './nssm.ts';
import { elevated, EXIT_NSSM_MISSING, lookUp, nssmOnPath, run } from './windows-run.ts';
import { decodeOutput } from './service-state.ts';

/** npm run startup on Windows: the NSSM service that runs pm2-runtime from boot. */
export async function startupOnWindows(serviceName: string, dryRun: boolean): Promise<number> {
  const nssmPath = nssmOnPath();
  if (!nssmPath) {
    console.error(`startup: ${NSSM_MISSING_LINE}`);
    return EXIT_NSSM_MISSING;
  }
  const facts: WindowsBootFacts = { serviceName, root: PROJECT_ROOT, nodePath: process.execPath, nssmPath, home: homedir(), env: process.env };
  const before = await lookUp(nssmPath, serviceName);
  if (before.kind === 'unknown') {
    console.error(`startup: cannot tell whether service ${serviceName} exists: ${before.why}`);
    return SCRIPT_EXIT.failed;
  }
  const plan = installPlan(facts, before.kind === 'present');
  const start = { file: nssmPath, args: ['start', serviceName] };
  if (dryRun) {
    console.log(`startup --dry-run: nothing is changed. Service ${serviceName} is ${before.kind === 'present' ? `registered (${before.state}): its settings would be applied again` : 'not registered'}. As an administrator it would:
  create ${logDirOf(facts)} (if missing), check that no PM2 daemon runs for ${pm2HomeOf(facts)}, then run (command lines as Windows receives them):
${[...plan, start].map((command) => `    ${commandLine(command)}`).join('\n')}
  then check that nssm status ${serviceName} says SERVICE_RUNNING.`);
    return SCRIPT_EXIT.ok;
  }
  if (!(await elevated())) {
    console.log(`startup: registering a Windows service needs an administrator, and nothing has been changed; from a terminal opened with "Run as administrator", in ${PROJECT_ROOT}, run: npm run startup`);
    return SCRIPT_EXIT.needsRoot;
  }
  const daemon = runningDaemon(pm2HomeOf(facts));
  if (daemon !== undefined) {
    console.error(`startup: a PM2 daemon (pid ${daemon}) already runs for ${pm2HomeOf(facts)}, and the service runs its own: stop it with npx pm2 kill (the clock resumes from its checkpoint), then npm run startup again`);
    return SCRIPT_EXIT.failed;
  }
  await mkdir(logDirOf(facts), { recursive: true });
  for (const command of plan) {
    const result = await run(command);
    if (result.code !== 0) {
      console.error(`startup: failed (exit ${result.code}): ${commandLine(command)}: ${decodeOutput(result.stderr).trim() || decodeOutput(result.stdout).trim()}`);
      return SCRIPT_EXIT.failed;
    }
  }
  console.log(`startup: service ${serviceName} ${before.kind === 'present' ? 'reconfigured (restart it to apply: nssm restart ' + serviceName + ')' : 'registered'}`);
  if (!(before.kind === 'present' && before.state === 'SERVICE_RUNNING')) await run(start, 120_000);
  const after = await lookUp(nssmPath, serviceName);
  if (after.kind !== 'present' || after.state !== 'SERVICE_RUNNING') {
    console.error(`startup: service ${serviceName} is not running (${after.kind === 'present' ? after.state : after.kind === 'unknown' ? after.why : 'not registered'}); see ${win32.join(logDirOf(facts), 'service.err.log')} and the Windows event log (source nssm)`);
    return SCRIPT_EXIT.failed;
  }
  console.log(`startup: done: service ${serviceName} runs pm2-runtime (PM2_HOME ${pm2HomeOf(facts)}) as LocalSystem from boot; it starts clock and probe from ecosystem.config.js`);
  return SCRIPT_EXIT.ok;
}

/** The pid of a live PM2 daemon for `pm2Home`, from its pm2.pid file. */
function runningDaemon(pm2Home: string): number | undefined {
  const file = win32.join(pm2Home, 'pm2.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}
