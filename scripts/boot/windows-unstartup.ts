import { SCRIPT_EXIT } from '../lib/cli.ts';
import { waitFor } from '../lib/wait.ts';
import { commandLine, NSSM_MISSING_LINE, removePlan, statusCommands } from './nssm.ts';
import { decodeOutput, type ServiceState } from './service-state.ts';
import { elevated, EXIT_NOTHING_REGISTERED, EXIT_NSSM_MISSING, lookUp, nssmOnPath, run } from './windows-run.ts';

// After `nssm remove` a service stays "marked for deletion" while anything (services.msc, the
// event viewer) holds a handle to it; the check waits this long for it to go.
const GONE_WITHIN_MS = 10_000;

/**
 * Why there is nothing to remove, before anything is tried: `pm2 unstartup` exits 0 having removed
 * nothing, which reads as success; here "nothing was registered" has its own exit code.
 */
export function nothingToRemove(serviceName: string, before: ServiceState): { code: number; line: string } | undefined {
  if (before.kind === 'unknown') return { code: SCRIPT_EXIT.failed, line: `cannot tell whether service ${serviceName} exists: ${before.why}` };
  if (before.kind === 'absent') return { code: EXIT_NOTHING_REGISTERED, line: `nothing removed: no service ${serviceName} is registered (sc query ${serviceName}: does not exist)` };
  return undefined;
}

/** npm run unstartup on Windows: stop and remove the NSSM service, then prove it is gone. */
export async function unstartupOnWindows(serviceName: string, dryRun: boolean): Promise<number> {
  const nssmPath = nssmOnPath();
  if (!nssmPath) {
    console.error(`unstartup: ${NSSM_MISSING_LINE}`);
    return EXIT_NSSM_MISSING;
  }
  const before = await lookUp(nssmPath, serviceName);
  const refusal = nothingToRemove(serviceName, before);
  if (refusal) {
    console.error(`unstartup: ${refusal.line}`);
    return refusal.code;
  }
  if (before.kind !== 'present') return SCRIPT_EXIT.failed;
  const plan = removePlan(nssmPath, serviceName);
  const { nssm, sc } = statusCommands(nssmPath, serviceName);
  if (dryRun) {
    console.log(`unstartup --dry-run: nothing is changed. Service ${serviceName} is registered (${before.state}). As an administrator it would run:
${plan.map((command) => `    ${commandLine(command)}`).join('\n')}
  then check it is gone: ${commandLine(nssm)} and ${commandLine(sc)} must both say it does not exist.`);
    return SCRIPT_EXIT.ok;
  }
  if (!(await elevated())) {
    console.log(`unstartup: removing a Windows service needs an administrator, and nothing has been changed; from a terminal opened with "Run as administrator" run: npm run unstartup${serviceName === 'estatus' ? '' : ` -- --service-name ${serviceName}`}`);
    return SCRIPT_EXIT.needsRoot;
  }
  for (const command of plan) {
    const result = await run(command, 120_000);
    // A stop of a service that is not running fails, and changes nothing: the removal decides.
    if (result.code !== 0) console.error(`unstartup: ${commandLine(command)} exited ${result.code}: ${decodeOutput(result.stderr).trim()}`);
  }
  const looks: ServiceState[] = [];
  const gone = await waitFor(`service ${serviceName} to be gone`, async () => {
    looks.push(await lookUp(nssmPath, serviceName));
    return looks.at(-1)?.kind === 'absent';
  }, GONE_WITHIN_MS, 500).then(() => true, () => false);
  const last = looks.at(-1);
  if (!gone) {
    const still = last?.kind === 'present'
      ? `still registered (${last.state}; if "marked for deletion", close services.msc and the event viewer, or reboot)`
      : `not confirmed gone (${last?.kind === 'unknown' ? last.why : 'no answer'})`;
    console.error(`unstartup: service ${serviceName} is ${still}`);
    return SCRIPT_EXIT.failed;
  }
  console.log(`unstartup: removed service ${serviceName} (nssm status and sc query: does not exist); clock and probe stopped with it`);
  return SCRIPT_EXIT.ok;
}
