import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  isClockOfOurState,
  isPm2Clock,
  scriptOf,
  stateDirOf,
  type ClockIdentity,
  type Pm2Facts,
} from '../../apps/probe/identity.ts';
import type { ProcessInfo } from '../../apps/probe/proc-table.ts';

function envOf(pairs: Record<string, string> = {}): Map<string, string> {
  return new Map(Object.entries(pairs));
}

const NO_ENV = envOf();

const Script = suite('scriptOf');

Script('node and the script', () => {
  assert.is(scriptOf(['node', '/a/main.js'], NO_ENV), '/a/main.js');
  assert.is(scriptOf(['/usr/bin/node', '/a/main.js', '--flag', 'arg'], NO_ENV), '/a/main.js');
  assert.is(scriptOf(['/home/me/.nvm/versions/node/v20.11.0/bin/node', '/a/main.js'], NO_ENV), '/a/main.js');
  assert.is(scriptOf(['nodejs', '/a/main.js'], NO_ENV), '/a/main.js');
  assert.is(scriptOf(['node20', '/a/main.js'], NO_ENV), '/a/main.js');
});

Script('options whose value is the next argument are skipped with it', () => {
  assert.is(scriptOf(['node', '--import', 'tsx', '/a/main.ts'], NO_ENV), '/a/main.ts');
  assert.is(scriptOf(['node', '-r', 'x', '/a/m.js'], NO_ENV), '/a/m.js');
  assert.is(scriptOf(['node', '--require', 'dotenv/config', '--title', 'clock', '/a/m.js'], NO_ENV), '/a/m.js');
  assert.is(scriptOf(['node', '--import=tsx', '/a/main.ts'], NO_ENV), '/a/main.ts');
});

Script('options with = are one argument; the script may be relative', () => {
  assert.is(scriptOf(['/usr/bin/node', '--max-old-space-size=64', 'rel/main.js'], NO_ENV), 'rel/main.js');
  assert.is(scriptOf(['node', '--enable-source-maps', '--no-warnings', 'dist/clock/main.js'], NO_ENV), 'dist/clock/main.js');
});

Script('eval, print and the REPL run no script', () => {
  assert.is(scriptOf(['node', '-e', 'code', '/a/main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['node', '--eval', 'code', '/a/main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['node', '-p', '1+1', '/a/main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['node', '-i'], NO_ENV), undefined);
  assert.is(scriptOf(['node'], NO_ENV), undefined);
  assert.is(scriptOf(['node', '--no-warnings'], NO_ENV), undefined);
});

// `--eval=CODE` and `--print=CODE` are eval options too: `node --eval='…' /a/main.js` evaluates the
// code and never runs /a/main.js (checked on Node 20.20).
Script('eval written with = runs no script either', () => {
  assert.is(scriptOf(['node', '--eval=code', '/a/main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['node', '--print=code', '/a/main.js'], NO_ENV), undefined);
});

Script('-- ends the options: the next argument is the script', () => {
  assert.is(scriptOf(['node', '--', '/a/main.js'], NO_ENV), '/a/main.js');
  assert.is(scriptOf(['node', '--no-warnings', '--', '-weird-name.js'], NO_ENV), '-weird-name.js');
  assert.is(scriptOf(['node', '--'], NO_ENV), undefined);
});

Script('a program that is not node runs no node script', () => {
  assert.is(scriptOf(['python3', '/a/main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['/usr/bin/nodemon', '/a/main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['/opt/not-node', '/a/main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['bun', '/a/main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['/a/main.js'], NO_ENV), undefined);
});

Script('Windows: node.exe by its full path; not-node.exe and node.exe.bak are not node', () => {
  assert.is(scriptOf(['C:\\Program Files\\nodejs\\node.exe', 'C:\\p\\dist\\clock\\main.js'], NO_ENV), 'C:\\p\\dist\\clock\\main.js');
  assert.is(scriptOf(['Z:\\w\\.windows\\node-v20.20.2\\bin\\node.exe', '--no-warnings', 'dist\\clock\\main.js'], NO_ENV), 'dist\\clock\\main.js');
  assert.is(scriptOf(['C:\\bin\\not-node.exe', 'C:\\p\\main.js'], NO_ENV), undefined);
  assert.is(scriptOf(['C:\\bin\\node.exe.bak', 'C:\\p\\main.js'], NO_ENV), undefined);
});

Script('a PM2 title is read with pm_exec_path', () => {
  assert.is(scriptOf(['node /abs/main.js'], envOf({ pm_exec_path: '/abs/main.js' })), '/abs/main.js');
  assert.is(scriptOf(['node /abs/main.js   '], envOf({ pm_exec_path: '/abs/main.js' })), '/abs/main.js');
});

Script('a PM2 title that does not name pm_exec_path is no script', () => {
  assert.is(scriptOf(['node /abs/main.js'], envOf({ pm_exec_path: '/elsewhere/main.js' })), undefined);
  assert.is(scriptOf(['node /abs/main.js'], envOf({ pm_exec_path: '' })), undefined);
  assert.is(scriptOf(['node /abs/main.js'], NO_ENV), undefined);
});

Script('pm_exec_path does not override a real argv', () => {
  assert.is(scriptOf(['node', '/abs/main.js'], envOf({ pm_exec_path: '/elsewhere/main.js' })), '/abs/main.js');
});

Script('no argv (kernel thread, zombie) is no script', () => {
  assert.is(scriptOf([], NO_ENV), undefined);
  assert.is(scriptOf([], envOf({ pm_exec_path: '/abs/main.js' })), undefined);
  assert.is(scriptOf([''], NO_ENV), undefined);
});

Script.run();

// ---

const StateDir = suite('stateDirOf');

StateDir('unset: state/ in the project, two levels above the entry', () => {
  assert.is(stateDirOf(NO_ENV, '/p/dist/clock/main.js'), '/p/state');
  assert.is(stateDirOf(envOf({ OTHER: 'x' }), '/srv/estatus/dist/clock/main.js'), '/srv/estatus/state');
});

StateDir('absolute: as it is', () => {
  assert.is(stateDirOf(envOf({ STATE_DIR: '/var/lib/estatus' }), '/p/dist/clock/main.js'), '/var/lib/estatus');
});

StateDir('relative: from the project root, not from the entry or the probe', () => {
  assert.is(stateDirOf(envOf({ STATE_DIR: 'run/state' }), '/p/dist/clock/main.js'), '/p/run/state');
  assert.is(stateDirOf(envOf({ STATE_DIR: './state' }), '/p/dist/clock/main.js'), '/p/state');
  assert.is(stateDirOf(envOf({ STATE_DIR: '../shared-state' }), '/p/dist/clock/main.js'), '/shared-state');
});

StateDir.run();

// ---

/** A fixture project on disk: the real entry, a look-alike elsewhere, and symlinks into both. */
interface Fixture {
  root: string;
  project: string;
  entry: string;
  stateDir: string;
  /** A symlink to the project. */
  link: string;
  /** Another project with a clock entry of the same name. */
  other: string;
  otherState: string;
  pm2Home: string;
  pm2HomeLink: string;
  id: ClockIdentity;
}

function makeFixture(): Fixture {
  // realpath: the temp dir may itself sit behind a symlink (macOS /var), and the entry must be real.
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'estatus-identity-')));
  const project = join(root, 'project');
  const other = join(root, 'other');
  for (const dir of [project, other]) {
    mkdirSync(join(dir, 'dist', 'clock'), { recursive: true });
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'dist', 'clock', 'main.js'), '');
    mkdirSync(join(dir, 'node_modules', 'pm2', 'lib'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', 'pm2', 'lib', 'ProcessContainerFork.js'), '');
  }
  mkdirSync(join(project, 'custom-state'));
  const link = join(root, 'project-link');
  symlinkSync(project, link);
  const pm2Home = join(root, 'pm2-home');
  mkdirSync(pm2Home);
  const pm2HomeLink = join(root, 'pm2-home-link');
  symlinkSync(pm2Home, pm2HomeLink);
  const entry = join(project, 'dist', 'clock', 'main.js');
  const stateDir = join(project, 'state');
  const uid = process.getuid?.() ?? 1000;
  return {
    root,
    project,
    entry,
    stateDir,
    link,
    other,
    otherState: join(other, 'state'),
    pm2Home,
    pm2HomeLink,
    id: { entry, stateDir, user: String(uid) },
  };
}

function clockProcess(fixture: Fixture, overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid: 4242,
    ppid: 4000,
    state: 'S',
    createTime: 57126,
    user: fixture.id.user,
    argv: ['node', fixture.entry],
    cwd: fixture.project,
    ...overrides,
  };
}

const Ours = suite('isClockOfOurState', { fixture: undefined as Fixture | undefined });

Ours.before((context) => {
  context.fixture = makeFixture();
});

Ours.after((context) => {
  if (context.fixture) rmSync(context.fixture.root, { recursive: true, force: true });
});

function fixtureOf(context: { fixture: Fixture | undefined }): Fixture {
  if (!context.fixture) throw new Error('expected the fixture project to be built in before(), got none');
  return context.fixture;
}

Ours('our uid, our entry, the default state dir', (context) => {
  const f = fixtureOf(context);
  assert.ok(isClockOfOurState(clockProcess(f), NO_ENV, f.id));
  assert.ok(isClockOfOurState(clockProcess(f, { state: 'R' }), envOf({ STATE_DIR: f.stateDir }), f.id));
});

Ours('a relative script, resolved against the cwd', (context) => {
  const f = fixtureOf(context);
  assert.ok(isClockOfOurState(clockProcess(f, { argv: ['/usr/bin/node', 'dist/clock/main.js'] }), NO_ENV, f.id));
  const fromDist = clockProcess(f, { argv: ['node', 'clock/main.js'], cwd: join(f.project, 'dist') });
  assert.ok(isClockOfOurState(fromDist, NO_ENV, f.id));
  assert.ok(isClockOfOurState(clockProcess(f, { argv: ['node', '--import', 'x', './dist/clock/main.js'] }), NO_ENV, f.id));
});

Ours('through a symlinked project path: real paths are compared', (context) => {
  const f = fixtureOf(context);
  const viaLink = clockProcess(f, { argv: ['node', 'dist/clock/main.js'], cwd: f.link });
  assert.ok(isClockOfOurState(viaLink, NO_ENV, f.id));
  const absoluteViaLink = clockProcess(f, { argv: ['node', join(f.link, 'dist', 'clock', 'main.js')], cwd: '/' });
  assert.ok(isClockOfOurState(absoluteViaLink, envOf({ STATE_DIR: join(f.link, 'state') }), f.id));
});

Ours('STATE_DIR relative to the project, or absolute, naming our state dir', (context) => {
  const f = fixtureOf(context);
  assert.ok(isClockOfOurState(clockProcess(f), envOf({ STATE_DIR: 'state' }), f.id));
  const custom: ClockIdentity = { ...f.id, stateDir: join(f.project, 'custom-state') };
  assert.ok(isClockOfOurState(clockProcess(f), envOf({ STATE_DIR: 'custom-state' }), custom));
  assert.ok(isClockOfOurState(clockProcess(f), envOf({ STATE_DIR: join(f.project, 'custom-state') }), custom));
  assert.not.ok(isClockOfOurState(clockProcess(f), NO_ENV, custom), 'unset means state/, not custom-state/');
});

Ours('a PM2 title, read with pm_exec_path', (context) => {
  const f = fixtureOf(context);
  const titled = clockProcess(f, { argv: [`node ${f.entry}`] });
  assert.ok(isClockOfOurState(titled, envOf({ pm_exec_path: f.entry }), f.id));
  assert.not.ok(isClockOfOurState(titled, NO_ENV, f.id));
});

// PM2 runs a fork-mode app through its ProcessContainerFork.js when its interpreter's name ends in
// "node" (Linux, where the title then hides it; Windows only with interpreter: 'node').
Ours('PM2\'s own fork container of this project, running pm_exec_path', (context) => {
  const f = fixtureOf(context);
  const container = join(f.project, 'node_modules', 'pm2', 'lib', 'ProcessContainerFork.js');
  const contained = clockProcess(f, { argv: ['node', container] });
  assert.ok(isClockOfOurState(contained, envOf({ pm_exec_path: f.entry }), f.id));
  assert.not.ok(isClockOfOurState(contained, envOf({ pm_exec_path: join(f.other, 'dist', 'clock', 'main.js') }), f.id), 'it runs another script');
  assert.not.ok(isClockOfOurState(contained, NO_ENV, f.id), 'no pm_exec_path');
  const foreign = join(f.other, 'node_modules', 'pm2', 'lib', 'ProcessContainerFork.js');
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['node', foreign] }), envOf({ pm_exec_path: f.entry }), f.id), 'another PM2\'s container');
});

Ours('another uid', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isClockOfOurState(clockProcess(f, { user: String(Number(f.id.user) + 1) }), NO_ENV, f.id));
});

Ours('a zombie', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isClockOfOurState(clockProcess(f, { state: 'Z' }), NO_ENV, f.id));
});

Ours('a look-alike: another file with the same name', (context) => {
  const f = fixtureOf(context);
  const lookAlike = join(f.other, 'dist', 'clock', 'main.js');
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['node', lookAlike] }), NO_ENV, f.id));
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['node', lookAlike] }), envOf({ STATE_DIR: f.stateDir }), f.id));
  const relative = clockProcess(f, { argv: ['node', 'dist/clock/main.js'], cwd: f.other });
  assert.not.ok(isClockOfOurState(relative, NO_ENV, f.id));
});

Ours('an entry that does not exist', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['node', 'dist/clock/main.js'], cwd: '/' }), NO_ENV, f.id));
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['node', join(f.project, 'dist', 'clock', 'gone.js')] }), NO_ENV, f.id));
});

Ours('another STATE_DIR', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isClockOfOurState(clockProcess(f), envOf({ STATE_DIR: f.otherState }), f.id));
  assert.not.ok(isClockOfOurState(clockProcess(f), envOf({ STATE_DIR: 'custom-state' }), f.id));
  assert.not.ok(isClockOfOurState(clockProcess(f), envOf({ STATE_DIR: join(f.root, 'no-such-state') }), f.id));
});

Ours('no environment (not ours to read, or gone)', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isClockOfOurState(clockProcess(f), undefined, f.id));
});

Ours('no cwd, even with an absolute script', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isClockOfOurState(clockProcess(f, { cwd: undefined }), NO_ENV, f.id));
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['node', 'dist/clock/main.js'], cwd: undefined }), NO_ENV, f.id));
});

Ours('no script: eval, not node, no argv', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['node', '-e', 'x', f.entry] }), NO_ENV, f.id));
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['python3', f.entry] }), NO_ENV, f.id));
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: [] }), NO_ENV, f.id));
});

// An eval process that merely names our entry as an argument is not the clock.
Ours('an eval written with = is not the clock', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isClockOfOurState(clockProcess(f, { argv: ['node', '--eval=setInterval(() => {}, 1e3)', f.entry] }), NO_ENV, f.id));
});

Ours.run();

// ---

const LAUNCHED_AT = 1_700_000_000_000;

const Pm2 = suite('isPm2Clock', { fixture: undefined as Fixture | undefined });

Pm2.before((context) => {
  context.fixture = makeFixture();
});

Pm2.after((context) => {
  if (context.fixture) rmSync(context.fixture.root, { recursive: true, force: true });
});

function pm2Facts(f: Fixture, overrides: Partial<Pm2Facts> = {}): Pm2Facts {
  return { pid: 4242, pmId: 3, launchedAt: LAUNCHED_AT, home: f.pm2Home, daemonPid: 4000, ...overrides };
}

function pm2Env(f: Fixture, overrides: Record<string, string | undefined> = {}): Map<string, string> {
  const pairs: Record<string, string | undefined> = {
    name: 'clock',
    pm_id: '3',
    PM2_HOME: f.pm2Home,
    pm_exec_path: f.entry,
    STATE_DIR: f.stateDir,
    ...overrides,
  };
  const env = new Map<string, string>();
  for (const [name, value] of Object.entries(pairs)) if (value !== undefined) env.set(name, value);
  return env;
}

function pm2Process(f: Fixture, overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  return clockProcess(f, { argv: [`node ${f.entry}`], ...overrides });
}

Pm2('everything matches: the clock PM2 launched', (context) => {
  const f = fixtureOf(context);
  assert.ok(isPm2Clock(pm2Process(f), pm2Env(f), f.id, pm2Facts(f), LAUNCHED_AT + 150));
  assert.ok(isPm2Clock(pm2Process(f, { argv: ['node', f.entry] }), pm2Env(f), f.id, pm2Facts(f), LAUNCHED_AT - 150));
});

Pm2('no start time known: the other facts decide', (context) => {
  const f = fixtureOf(context);
  assert.ok(isPm2Clock(pm2Process(f), pm2Env(f), f.id, pm2Facts(f), undefined));
});

Pm2('PM2_HOME is compared by real path', (context) => {
  const f = fixtureOf(context);
  assert.ok(isPm2Clock(pm2Process(f), pm2Env(f, { PM2_HOME: f.pm2HomeLink }), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.ok(isPm2Clock(pm2Process(f), pm2Env(f), f.id, pm2Facts(f, { home: f.pm2HomeLink }), LAUNCHED_AT));
});

Pm2('PM2_HOME unset means ~/.pm2', (context) => {
  const f = fixtureOf(context);
  const env = pm2Env(f, { PM2_HOME: undefined });
  assert.ok(isPm2Clock(pm2Process(f), env, f.id, pm2Facts(f, { home: join(homedir(), '.pm2') }), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), env, f.id, pm2Facts(f), LAUNCHED_AT));
});

Pm2('start times under 2 s apart match; 2 s or more do not', (context) => {
  const f = fixtureOf(context);
  const check = (startedAt: number) => isPm2Clock(pm2Process(f), pm2Env(f), f.id, pm2Facts(f), startedAt);
  assert.ok(check(LAUNCHED_AT + 1_999));
  assert.ok(check(LAUNCHED_AT - 1_999));
  assert.not.ok(check(LAUNCHED_AT + 2_000));
  assert.not.ok(check(LAUNCHED_AT - 2_000));
  assert.not.ok(check(LAUNCHED_AT + 5_000), 'a clock that started 5 s after PM2 launched its app is another process');
  assert.not.ok(check(LAUNCHED_AT - 3_600_000), 'a process from before the launch');
});

Pm2('PM2 gave the process its launch stamp (pm_uptime): that decides, whatever the wall clocks did since', (context) => {
  const f = fixtureOf(context);
  const env = pm2Env(f, { pm_uptime: String(LAUNCHED_AT) });
  // The wall clock stepped an hour, or four years, between the launch and this look: the same launch.
  assert.ok(isPm2Clock(pm2Process(f), env, f.id, pm2Facts(f), LAUNCHED_AT - 3_600_000));
  assert.ok(isPm2Clock(pm2Process(f), env, f.id, pm2Facts(f), LAUNCHED_AT + 4 * 365 * 86_400_000));
  // Another launch of the same app (PM2's view is of an earlier or later one): not this process.
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { pm_uptime: String(LAUNCHED_AT - 1) }), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { pm_uptime: 'x' }), f.id, pm2Facts(f), LAUNCHED_AT));
});

Pm2('another pid than PM2 has for the app', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isPm2Clock(pm2Process(f, { pid: 4243 }), pm2Env(f), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f), f.id, pm2Facts(f, { pid: 4243 }), LAUNCHED_AT));
});

Pm2('a parent that is not the daemon, or no daemon pid known', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isPm2Clock(pm2Process(f, { ppid: 1 }), pm2Env(f), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f), f.id, pm2Facts(f, { daemonPid: undefined }), LAUNCHED_AT));
});

Pm2('an app name other than clock', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { name: 'probe' }), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { name: 'clock ' }), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { name: undefined }), f.id, pm2Facts(f), LAUNCHED_AT));
});

Pm2('another pm_id', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { pm_id: '4' }), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { pm_id: undefined }), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f), f.id, pm2Facts(f, { pmId: 0 }), LAUNCHED_AT));
});

Pm2('another PM2_HOME: another daemon', (context) => {
  const f = fixtureOf(context);
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { PM2_HOME: join(f.root, 'other-pm2') }), f.id, pm2Facts(f), LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f), f.id, pm2Facts(f, { home: join(f.root, 'other-pm2') }), LAUNCHED_AT));
});

Pm2('not a clock of our state: nothing else matters', (context) => {
  const f = fixtureOf(context);
  const facts = pm2Facts(f);
  assert.not.ok(isPm2Clock(pm2Process(f), undefined, f.id, facts, LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f, { user: String(Number(f.id.user) + 1) }), pm2Env(f), f.id, facts, LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f, { state: 'Z' }), pm2Env(f), f.id, facts, LAUNCHED_AT));
  assert.not.ok(isPm2Clock(pm2Process(f), pm2Env(f, { STATE_DIR: f.otherState }), f.id, facts, LAUNCHED_AT));
  const lookAlike = join(f.other, 'dist', 'clock', 'main.js');
  const env = pm2Env(f, { pm_exec_path: lookAlike });
  assert.not.ok(isPm2Clock(pm2Process(f, { argv: [`node ${lookAlike}`] }), env, f.id, facts, LAUNCHED_AT));
});

Pm2.run();
