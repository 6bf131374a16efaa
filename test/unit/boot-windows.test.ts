import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { SCRIPT_EXIT } from '../../scripts/lib/cli.ts';
import { appParameters, commandLine, findNssm, installPlan, NSSM_MISSING_LINE, removePlan, serviceEnvironment, type WindowsBootFacts } from '../../scripts/boot/nssm.ts';
import { decodeOutput, serviceState, type Output } from '../../scripts/boot/service-state.ts';
import { quoteWindowsArg, windowsCommandLine } from '../../scripts/boot/windows-command-line.ts';
import { EXIT_NOTHING_REGISTERED, EXIT_NSSM_MISSING, isElevated } from '../../scripts/boot/windows-run.ts';
import { startupOnWindows } from '../../scripts/boot/windows-startup.ts';
import { nothingToRemove, unstartupOnWindows } from '../../scripts/boot/windows-unstartup.ts';

// NSSM cannot run here (no Windows host, and not under wine): the plan is checked as data, and the
// status outputs are fixtures written from NSSM's source (test/fixtures/nssm/README.md).
type Recorded = { utf16?: boolean; code: number; stdout: string; stderr: string };
const recorded = JSON.parse(readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'nssm', 'status.json'), 'utf8')) as {
  nssm: Record<string, Recorded>;
  sc: Record<string, Recorded>;
};
function output(from: Record<string, Recorded>, name: string): Output {
  const entry = from[name];
  if (!entry) throw new Error(`test/fixtures/nssm/status.json has no "${name}"`);
  const bytes = (text: string) => Buffer.from(text, entry.utf16 ? 'utf16le' : 'utf8');
  return { code: entry.code, stdout: bytes(entry.stdout), stderr: bytes(entry.stderr) };
}

const ROOT = 'C:\\Users\\Ada Lovelace\\src\\estatus';
const facts = (env: Record<string, string> = {}): WindowsBootFacts => ({
  serviceName: 'estatus',
  root: ROOT,
  nodePath: 'C:\\Program Files\\nodejs\\node.exe',
  nssmPath: 'C:\\tools\\nssm.exe',
  home: 'C:\\Users\\Ada Lovelace',
  env,
});

// ---

const Quote = suite('Windows command lines (libuv\'s quoting, split back by the C runtime)');

Quote('plain words stay bare; spaces, tabs and empty strings are quoted', () => {
  assert.is(quoteWindowsArg('estatus'), 'estatus');
  assert.is(quoteWindowsArg('C:\\tools\\nssm.exe'), 'C:\\tools\\nssm.exe');
  assert.is(quoteWindowsArg('C:\\Program Files\\nodejs\\node.exe'), '"C:\\Program Files\\nodejs\\node.exe"');
  assert.is(quoteWindowsArg('a\tb'), '"a\tb"');
  assert.is(quoteWindowsArg(''), '""');
});

Quote('quotes are escaped, and backslashes doubled only before a quote or the closing quote', () => {
  assert.is(quoteWindowsArg('say "hi"'), '"say \\"hi\\""');
  assert.is(quoteWindowsArg('C:\\a b\\'), '"C:\\a b\\\\"');
  assert.is(quoteWindowsArg('a\\"b'), '"a\\\\\\"b"');
  assert.is(windowsCommandLine(['x.exe', 'a b', 'c']), 'x.exe "a b" c');
});

Quote.run();

// ---

const Plan = suite('npm run startup on Windows: the nssm commands');

Plan('a new service: install, then every setting, in a root with spaces', () => {
  const lines = installPlan(facts(), false).map(commandLine);
  const nssm = 'C:\\tools\\nssm.exe';
  assert.equal(lines, [
    `${nssm} install estatus "C:\\Program Files\\nodejs\\node.exe" "\\"C:\\Users\\Ada Lovelace\\src\\estatus\\node_modules\\pm2\\bin\\pm2-runtime\\" \\"C:\\Users\\Ada Lovelace\\src\\estatus\\ecosystem.config.js\\""`,
    `${nssm} set estatus AppDirectory "C:\\Users\\Ada Lovelace\\src\\estatus"`,
    `${nssm} set estatus DisplayName "estatus (estatus)"`,
    `${nssm} set estatus Description "PM2 (pm2-runtime ecosystem.config.js) keeping the clock and the probe running; npm run unstartup removes it"`,
    `${nssm} set estatus ObjectName LocalSystem`,
    `${nssm} set estatus Start SERVICE_AUTO_START`,
    `${nssm} set estatus AppEnvironmentExtra "PM2_HOME=C:\\Users\\Ada Lovelace\\.pm2"`,
    `${nssm} set estatus AppStdout "C:\\Users\\Ada Lovelace\\src\\estatus\\logs\\service.out.log"`,
    `${nssm} set estatus AppStderr "C:\\Users\\Ada Lovelace\\src\\estatus\\logs\\service.err.log"`,
    `${nssm} set estatus AppRotateFiles 1`,
    `${nssm} set estatus AppRotateOnline 1`,
    `${nssm} set estatus AppRotateBytes 10485760`,
    `${nssm} set estatus AppExit Default Restart`,
    `${nssm} set estatus AppThrottle 5000`,
    `${nssm} set estatus AppRestartDelay 0`,
    `${nssm} set estatus AppNoConsole 0`,
    `${nssm} set estatus AppStopMethodSkip 0`,
    `${nssm} set estatus AppStopMethodConsole 15000`,
    `${nssm} set estatus AppStopMethodWindow 1500`,
    `${nssm} set estatus AppStopMethodThreads 1500`,
  ]);
});

Plan('AppParameters is one string NSSM hands node.exe unchanged, split back into the two paths', () => {
  assert.is(appParameters('C:\\estatus'), 'C:\\estatus\\node_modules\\pm2\\bin\\pm2-runtime C:\\estatus\\ecosystem.config.js');
  assert.is(appParameters(ROOT), '"C:\\Users\\Ada Lovelace\\src\\estatus\\node_modules\\pm2\\bin\\pm2-runtime" "C:\\Users\\Ada Lovelace\\src\\estatus\\ecosystem.config.js"');
});

Plan('an existing service is configured again (Application, AppParameters), never installed twice', () => {
  const commands = installPlan(facts(), true);
  assert.not.ok(commands.some((command) => command.args[0] === 'install'));
  assert.equal(commands[0]?.args, ['set', 'estatus', 'Application', 'C:\\Program Files\\nodejs\\node.exe']);
  assert.equal(commands[1]?.args.slice(0, 3), ['set', 'estatus', 'AppParameters']);
});

Plan('the environment: PM2_HOME, STATE_DIR and LOG_DIR made absolute, CLOCK_* and PROBE_* as given, nothing else', () => {
  const env = serviceEnvironment(facts({ PM2_HOME: 'D:\\pm2', STATE_DIR: 'state2', LOG_DIR: 'E:\\logs', CLOCK_INTERVALS: '0.2,0.4', PROBE_PERIOD_MS: '200', SECRET: 'x', PATH: 'C:\\x' }));
  assert.equal(env, ['PM2_HOME=D:\\pm2', `STATE_DIR=${ROOT}\\state2`, 'LOG_DIR=E:\\logs', 'CLOCK_INTERVALS=0.2,0.4', 'PROBE_PERIOD_MS=200']);
  const stdout = installPlan(facts({ LOG_DIR: 'E:\\logs' }), false).find((command) => command.args[2] === 'AppStdout');
  assert.equal(stdout?.args[3], 'E:\\logs\\service.out.log');
});

Plan('unstartup: nssm stop, then nssm remove NAME confirm', () => {
  assert.equal(removePlan('C:\\tools\\nssm.exe', 'estatus').map(commandLine), ['C:\\tools\\nssm.exe stop estatus', 'C:\\tools\\nssm.exe remove estatus confirm']);
});

Plan.run();

// ---

const Missing = suite('without NSSM: one line, its own exit code');

Missing('nssm.exe is looked for in each PATH directory, quoted ones too', () => {
  const present = new Set(['C:\\tools\\nssm\\win64\\nssm.exe']);
  assert.is(findNssm('C:\\Windows;"C:\\tools\\nssm\\win64";C:\\other', (file) => present.has(file)), 'C:\\tools\\nssm\\win64\\nssm.exe');
  assert.is(findNssm('C:\\Windows;;C:\\other', (file) => present.has(file)), undefined);
});

Missing('startup and unstartup say how to get it, in one line, and exit 7 (no other script exit code)', async () => {
  assert.not.ok((Object.values(SCRIPT_EXIT) as number[]).includes(EXIT_NSSM_MISSING));
  assert.not.ok((Object.values(SCRIPT_EXIT) as number[]).includes(EXIT_NOTHING_REGISTERED));
  assert.is.not(EXIT_NSSM_MISSING, EXIT_NOTHING_REGISTERED);
  const lines: string[] = [];
  const error = console.error;
  const path = process.env.PATH;
  console.error = (line: string) => lines.push(line);
  process.env.PATH = 'C:\\Windows;C:\\nowhere';
  try {
    assert.is(await startupOnWindows('estatus', true), EXIT_NSSM_MISSING);
    assert.is(await unstartupOnWindows('estatus', false), EXIT_NSSM_MISSING);
  } finally {
    console.error = error;
    process.env.PATH = path;
  }
  assert.equal(lines, [`startup: ${NSSM_MISSING_LINE}`, `unstartup: ${NSSM_MISSING_LINE}`]);
  assert.not.ok(NSSM_MISSING_LINE.includes('\n'));
  for (const way of ['https://nssm.cc/download', 'winget install NSSM.NSSM', 'choco install nssm']) assert.ok(NSSM_MISSING_LINE.includes(way), way);
});

Missing.run();

// ---

const State = suite('is the service there? (nssm status + sc query, fixtures)');

State('NSSM 2.24 writes UTF-16LE, later builds UTF-8: both decode', () => {
  assert.is(decodeOutput(output(recorded.nssm, 'running-2.24').stdout).trim(), 'SERVICE_RUNNING');
  assert.is(decodeOutput(output(recorded.nssm, 'stopped-2.24-101').stdout).trim(), 'SERVICE_STOPPED');
});

State('registered: the state NSSM says', () => {
  assert.equal(serviceState(output(recorded.nssm, 'running-2.24'), output(recorded.sc, 'running')), { kind: 'present', state: 'SERVICE_RUNNING' });
  assert.equal(serviceState(output(recorded.nssm, 'stopped-2.24-101'), output(recorded.sc, 'stopped')), { kind: 'present', state: 'SERVICE_STOPPED' });
});

State('gone: sc query exits 1060, whatever language NSSM speaks', () => {
  assert.equal(serviceState(output(recorded.nssm, 'missing-2.24'), output(recorded.sc, 'missing')), { kind: 'absent' });
  assert.equal(serviceState(output(recorded.nssm, 'missing-german'), output(recorded.sc, 'missing')), { kind: 'absent' });
});

State('access denied, or the two disagree: unknown, never "gone"', () => {
  const denied = serviceState(output(recorded.nssm, 'access-denied'), output(recorded.sc, 'access-denied'));
  assert.is(denied.kind, 'unknown');
  assert.match(denied.kind === 'unknown' ? denied.why : '', /Access is denied/);
  assert.is(serviceState(output(recorded.nssm, 'running-2.24'), output(recorded.sc, 'missing')).kind, 'unknown');
});

State('unstartup with nothing registered removes nothing and says so: exit 8, not 0', () => {
  const before = serviceState(output(recorded.nssm, 'missing-2.24'), output(recorded.sc, 'missing'));
  const refusal = nothingToRemove('estatus', before);
  assert.is(refusal?.code, EXIT_NOTHING_REGISTERED);
  assert.match(refusal?.line ?? '', /^nothing removed: no service estatus is registered/);
  assert.is(nothingToRemove('estatus', serviceState(output(recorded.nssm, 'access-denied'), output(recorded.sc, 'access-denied')))?.code, SCRIPT_EXIT.failed);
  assert.is(nothingToRemove('estatus', serviceState(output(recorded.nssm, 'running-2.24'), output(recorded.sc, 'running'))), undefined);
});

State('elevation: whoami /groups with the High or System mandatory level', () => {
  assert.ok(isElevated('Mandatory Label\\High Mandatory Level Label S-1-16-12288'));
  assert.ok(isElevated('Mandatory Label\\System Mandatory Level Label S-1-16-16384'));
  assert.not.ok(isElevated('Mandatory Label\\Medium Mandatory Level Label S-1-16-8192'));
});

State.run();
