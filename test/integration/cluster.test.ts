import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { clockLog, keepEvidence, missing, type ClusterStatus } from '../../scripts/cluster/cluster.ts';
import { failoverMs, hostNamed, lastTickAt, leaderTicking, rejoinedAsFollower, strike } from '../../scripts/cluster/faults.ts';
import { readManifest, type HostEntry, type Manifest } from '../../scripts/cluster/manifest.ts';
import { namespaceExists, signalAllIn } from '../../scripts/cluster/netns.ts';
import { inNamespace, moveEtcdLeader } from '../../scripts/cluster/hosts.ts';
import { clusterVerdict, hostTicks } from '../../scripts/cluster/verdict.ts';
import { waitFor } from '../../scripts/lib/wait.ts';
import { createSandbox, ECOSYSTEM, type Sandbox } from '../../scripts/lib/pm2-sandbox.ts';
import { readHeartbeat } from '../../apps/shared/heartbeat.ts';
import { statePaths } from '../../apps/shared/state-dir.ts';

/**
 * Cluster mode for real: three hosts in network namespaces, a real 3-member etcd cluster, a PM2
 * daemon on each (npm run cluster), and every host-level fault: the leader powered off, cut off the
 * network, frozen; an etcd member killed. Needs root, iproute2 and etcd; skipped, saying so, without.
 */

const TSX = join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const SETTINGS = { CLOCK_INTERVALS: '0.2,0.4', CLOCK_TICKS: '5', PROBE_PERIOD_MS: '200', PROBE_HANG_MS: '1000' };
const cannot = missing();

type Context = { dir: string; manifest: Manifest };

function cluster(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSX, join(PROJECT_ROOT, 'scripts', 'cluster', 'main.ts'), ...args], { env: { ...process.env, ...SETTINGS, ...env }, cwd: PROJECT_ROOT, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function statusOf(dir: string): Promise<ClusterStatus> {
  const run = await cluster(['status', '--json', '--dir', dir]);
  assert.is(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as ClusterStatus;
}

// ---

/**
 * A uvu suite around one test cluster (`up --hosts 3`, with `upArgs` and `env`), taken away after
 * it: every namespace and the cluster directory gone, checked, also when a test failed.
 */
function clusterSuite(name: string, upArgs: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const test = suite<Context>(name, {} as Context);
  test.before(async (context) => {
    if (cannot) return;
    context.dir = join(await mkdtemp(join(tmpdir(), 'estatus-test-cluster-')), 'cluster');
    const run = await cluster(['up', '--hosts', '3', ...upArgs, '--dir', context.dir], env);
    assert.is(run.code, 0, run.stderr);
    context.manifest = readManifest(context.dir) as Manifest;
  });
  test.after(async (context) => {
    if (cannot || !context.dir) return;
    const manifest = readManifest(context.dir);
    const run = await cluster(['down', '--dir', context.dir]);
    assert.is(run.code, 0, run.stderr);
    for (const entry of manifest?.hosts ?? []) assert.not.ok(namespaceExists(entry.netns), `${entry.netns} is still there`);
    assert.not.ok(existsSync(context.dir), 'the cluster directory is still there');
    await rm(join(context.dir, '..'), { recursive: true, force: true });
  });
  // A test that fails keeps the hosts' logs (clock, probe, etcd) and says where: the cluster is gone after.
  const kept = (name: string, handler: (context: Context) => Promise<void>): void =>
    test(name, async (context) => {
      try {
        await handler(context);
      } catch (error) {
        if (error instanceof Error && context.manifest) error.message += ` (the hosts' logs are kept in ${await keepEvidence(context.manifest, 'estatus-cluster-evidence-')})`;
        throw error;
      }
    });
  return Object.assign(kept, { run: () => test.run() });
}

const Cluster = clusterSuite('cluster: three hosts, one etcd cluster, one leader');

Cluster('up: one host leads and ticks, the others follow; cluster.json names every host', async (context) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  const { manifest } = context;
  assert.is(manifest.hosts.length, 3);
  for (const entry of manifest.hosts) {
    for (const field of ['name', 'netns', 'ip', 'pm2Home', 'stateDir', 'logDir'] as const) assert.type(entry[field], 'string');
  }
  const leader = await leaderTicking(manifest, 0);
  const status = await statusOf(context.dir);
  assert.is(status.leader, leader.name);
  assert.equal(status.hosts.filter((entry) => entry.role === 'follower').length, 2);
  assert.ok(status.hosts.every((entry) => entry.etcdHealthy), 'an etcd member is not healthy');
  for (const entry of manifest.hosts) if (entry !== leader) assert.is(hostTicks(entry.name, clockLog(entry)).length, 0, `follower ${entry.name} ticked`);
});

Cluster("the leader's clock SIGKILLed: PM2 restarts it, and it carries on with the same lease, on the same host, with no election", async ({ dir, manifest }) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  const leader = await leaderTicking(manifest, 0);
  const pid = (await statusOf(dir)).hosts.find((entry) => entry.name === leader.name)?.clockPid;
  assert.type(pid, 'number');
  const at = Date.now();
  process.kill(pid as number, 'SIGKILL');
  const next = await leaderTicking(manifest, at, undefined, 3);
  console.log(`    ${leader.name}'s clock killed: ${next.name} ticking ${failoverMs(manifest, '', at)} ms later`);
  assert.is(next.name, leader.name, 'the lead left the host whose clock was only restarted');
  assert.match(clockLog(leader), `carried on with the lease of this host's previous clock (${leader.name}:${pid})`);
  const ticks = hostTicks(leader.name, clockLog(leader));
  assert.is.not(ticks.at(-1)?.term, `${leader.name}:${pid}`, 'no new clock ticked');
  for (const entry of manifest.hosts) if (entry !== leader) assert.ok(hostTicks(entry.name, clockLog(entry)).every((tick) => tick.at < at), `${entry.name} ticked`);
});

for (const kind of ['power-off-leader', 'cut-leader', 'freeze-leader'] as const) {
  Cluster(`${kind}: another host ticks within seconds, the old one has stopped; healed, it follows and does not take the lead back`, async ({ dir, manifest }) => {
    if (cannot) return console.log(`  (skipped: ${cannot})`);
    const old = await leaderTicking(manifest, 0);
    const struck = await strike(dir, manifest, kind, old);
    let next: HostEntry;
    try {
      next = await leaderTicking(manifest, struck.at, old.name);
    } finally {
      if (kind === 'freeze-leader') await struck.heal();
    }
    console.log(`    ${kind} ${old.name}: ${next.name} ticking ${failoverMs(manifest, old.name, struck.at)} ms later`);
    const firstOfNext = hostTicks(next.name, clockLog(next)).find((tick) => tick.at > struck.at)?.at ?? 0;
    assert.ok(lastTickAt(old) < firstOfNext, `${old.name} ticked at ${lastTickAt(old)}, after ${next.name} began at ${firstOfNext}`);
    if (kind !== 'freeze-leader') await struck.heal();
    await rejoinedAsFollower(manifest, old);
    assert.ok(lastTickAt(old) < firstOfNext, `${old.name} ticked again once healed`);
    assert.is((await statusOf(dir)).leader, next.name, 'the healed host took the lead back');
  });
}

Cluster("etcd's Raft leadership moved onto the leader's host is handed away by the leader within seconds", async ({ dir, manifest }) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  const leader = await leaderTicking(manifest, 0);
  const handed = (): number => clockLog(leader).split('\n').filter((line) => line.includes("etcd's Raft leader was this host's member")).length;
  const before = handed();
  // Asked of whoever leads etcd at that moment, until etcd does it (a move of the leader's own may be under way).
  await waitFor(`etcd to move its leadership to ${leader.name}`, async () => {
    const etcdLeader = (await statusOf(dir)).etcdLeader;
    if (!etcdLeader) return undefined;
    if (etcdLeader === leader.name) return true;
    const refused = await moveEtcdLeader(manifest, hostNamed(manifest, etcdLeader), leader);
    if (refused) throw new Error(`etcd on ${etcdLeader} said: ${refused}`);
    return true;
  }, 10_000, 500);
  await waitFor(`the leader ${leader.name} to hand etcd's leadership away`, async () => handed() > before && (await statusOf(dir)).etcdLeader !== leader.name, 10_000, 500);
  assert.is((await statusOf(dir)).leader, leader.name, 'the clock leadership moved too');
});

Cluster("a follower frozen that holds etcd's Raft leadership: never two hosts at once, though etcd < 3.4.28 ends the leader's lease early when it thaws", async ({ dir, manifest }) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  const leader = await leaderTicking(manifest, 0);
  const etcdLeader = await waitFor("etcd's Raft leader on a follower", async () => {
    const name = (await statusOf(dir)).etcdLeader;
    return name && name !== leader.name ? hostNamed(manifest, name) : undefined;
  }, 10_000, 500);
  const at = Date.now();
  signalAllIn(etcdLeader.netns, 'SIGSTOP');
  try {
    // Long enough for etcd to elect another Raft leader and for the frozen one's lessor to fall behind.
    await leaderTicking(manifest, at, etcdLeader.name, 25);
  } finally {
    signalAllIn(etcdLeader.netns, 'SIGCONT');
  }
  const thawed = Date.now();
  const next = await leaderTicking(manifest, thawed + 1_000, undefined, 3);
  const verdict = clusterVerdict(manifest.hosts.map((entry) => ({ host: entry.name, text: clockLog(entry) })));
  assert.equal(verdict.overlaps, [], 'two hosts ticked at once');
  console.log(`    ${etcdLeader.name} (etcd's leader) frozen and thawed: ${next === leader ? `${leader.name} kept the lead` : `the lead went from ${leader.name} to ${next.name}, the leader having stopped the moment its key went`}`);
});

Cluster('kill-etcd: a follower\'s etcd member killed, the leader ticks on undisturbed; restarted, the member is healthy', async ({ dir, manifest }) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  // Settled first: a leader ticking a while, whatever the test before left moving.
  const leader = await leaderTicking(manifest, Date.now(), undefined, 10);
  const term = (): string | undefined => hostTicks(leader.name, clockLog(leader)).at(-1)?.term;
  const before = term();
  const struck = await strike(dir, manifest, 'kill-etcd', leader);
  await leaderTicking(manifest, struck.at, undefined, 6);
  assert.is((await statusOf(dir)).leader, leader.name, 'the leader changed when a follower\'s etcd died');
  await struck.heal();
  assert.is((await statusOf(dir)).leader, leader.name);
  // The same clock process, not one that lost the lead and won it back.
  assert.is(term(), before, `${leader.name}'s clock lost the leadership meanwhile`);
});

Cluster('the verdict over every host\'s log: no tick number lost, never two hosts at once', async (context) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  const verdict = clusterVerdict(context.manifest.hosts.map((entry) => ({ host: entry.name, text: clockLog(entry) })));
  console.log(`    ${verdict.ticks} ticks over ${verdict.terms.length} leadership terms (${verdict.terms.join(', ')}), ${verdict.continuity.repeats} repeated`);
  assert.equal(verdict.overlaps, [], 'two hosts ticked at once');
  assert.equal([...verdict.continuity.threads.values()].flatMap((thread) => thread.breaks), [], 'a tick number was lost');
  // At most one repeat per thread per failover: 2 threads, one failover per term after the first.
  assert.ok(verdict.continuity.repeats <= 2 * (verdict.terms.length - 1), `${verdict.continuity.repeats} repeats over ${verdict.terms.length - 1} failovers`);
  assert.ok(verdict.terms.length >= 4, `only ${verdict.terms.length} terms`);
});

Cluster.run();

// ---

const Standby = clusterSuite('cluster with a hot standby on each host (CLOCK_STANDBY=1)', [], { CLOCK_STANDBY: '1' });

Standby("the leader's active clock SIGKILLed: its host's standby takes over and carries on with the lease; the lead stays there, no tick lost", async ({ dir, manifest }) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  const leader = await leaderTicking(manifest, 0);
  // The standby must be waiting, its etcd client made, before the kill.
  await waitFor(`${leader.name}'s standby waiting`, () => /standby: clock pid \d+ is active/.test(clockLog(leader)), 20_000);
  const pid = (await statusOf(dir)).hosts.find((entry) => entry.name === leader.name)?.clockPid as number;
  const at = Date.now();
  process.kill(pid, 'SIGKILL');
  const next = await leaderTicking(manifest, at, undefined, 3);
  console.log(`    ${leader.name}'s active clock killed: ${next.name}'s standby ticking ${failoverMs(manifest, '', at)} ms later`);
  assert.is(next.name, leader.name, 'the lead left the host whose standby was there to take over');
  const log = clockLog(leader);
  assert.match(log, `took over from clock pid ${pid}`);
  assert.match(log, `carried on with the lease of this host's previous clock (${leader.name}:${pid})`);
  const verdict = clusterVerdict(manifest.hosts.map((entry) => ({ host: entry.name, text: clockLog(entry) })));
  assert.equal(verdict.overlaps, [], 'two hosts ticked at once');
  assert.equal([...verdict.continuity.threads.values()].flatMap((thread) => thread.breaks), [], 'a tick number was lost');
});

Standby.run();



// ---

type Alone = { sandbox: Sandbox };

const Unreachable = suite<Alone>('cluster mode with etcd out of reach', {} as Alone);

Unreachable.before(async (context) => {
  // Nothing listens there: every call is refused at once, as from a host whose etcd is down.
  context.sandbox = await createSandbox({ ...SETTINGS, CLOCK_ETCD: 'http://127.0.0.1:9', CLOCK_HOST: 'alone' });
  await context.sandbox.pm2('start', ECOSYSTEM);
});
Unreachable.after(async ({ sandbox }) => sandbox.cleanup());

Unreachable('the clock waits as a follower, says so once, never ticks, never crash-loops; the probe counts it healthy', async ({ sandbox }) => {
  const pid = await sandbox.onlinePid('clock');
  await waitFor('the clock to say etcd does not answer', async () => (await sandbox.outLog()).includes('following (etcd does not answer'));
  await waitFor('the probe to see the follower healthy', async () => ((await sandbox.outLog('probe')) + (await sandbox.errLog('probe'))).includes(`clock pid ${pid} is healthy`));
  // Several retries' worth of waiting (back-off 0.25, 0.5, 1, 2 s …).
  const heartbeatPath = statePaths(sandbox.stateDir).heartbeat;
  await waitFor('five seconds of following', async () => {
    const beat = await readHeartbeat(heartbeatPath);
    return beat?.phase === 'following' && Date.now() - beat.startedAt > 5_000 ? beat : undefined;
  });
  const log = await sandbox.outLog();
  assert.is(log.split('\n').filter((line) => line.includes('etcd does not answer')).length, 1, 'said more than once');
  assert.is(hostTicks('alone', log).length, 0, 'it ticked without the leadership');
  const clock = (await sandbox.list()).find((p) => p.name === 'clock');
  assert.is(clock?.pid, pid);
  assert.is(clock?.restarts, 0);
  const probe = (await sandbox.outLog('probe')) + (await sandbox.errLog('probe'));
  assert.not.match(probe, /is hung|is stalled|killed/);
});

Unreachable.run();

// ---

const Tls = clusterSuite('cluster over mutual TLS (up --tls): etcd speaks https, to certified clients only', ['--tls']);

Tls('one host leads and ticks through etcd over https; a client without a certificate is refused; a killed leader clock carries on', async ({ dir, manifest }) => {
  if (cannot) return console.log(`  (skipped: ${cannot})`);
  const leader = await leaderTicking(manifest, 0);
  const status = await statusOf(dir);
  assert.ok(status.hosts.every((entry) => entry.etcdHealthy && entry.etcdVersion), 'an etcd member does not answer over https');
  // The same request as status makes, without the client certificate: etcd must not answer it.
  const bare = `require('node:https').request('https://${leader.ip}:2379/v3/maintenance/status', { method: 'POST', ca: require('node:fs').readFileSync(${JSON.stringify(join(manifest.tlsDir as string, 'ca.pem'))}), timeout: 2000 }, (r) => process.exit(r.statusCode === 200 ? 0 : 3)).on('error', () => process.exit(2)).end('{}')`;
  const refused = await inNamespace(leader.netns, [process.execPath, '-e', bare], process.env, 10_000);
  assert.is.not(refused.code, 0, 'etcd answered a client without a certificate');
  const pid = status.hosts.find((entry) => entry.name === leader.name)?.clockPid as number;
  const at = Date.now();
  process.kill(pid, 'SIGKILL');
  const next = await leaderTicking(manifest, at, undefined, 3);
  assert.is(next.name, leader.name);
  assert.match(clockLog(leader), `carried on with the lease of this host's previous clock (${leader.name}:${pid})`);
});

Tls.run();
