import { existsSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SCRIPT_EXIT } from '../lib/cli.ts';
import { cleanUpOnInterrupt, watchInterrupts } from '../lib/interrupt.ts';
import { down, missing, status, up } from './cluster.ts';
import { readManifest } from './manifest.ts';

const HELP = `npm run cluster -- up [--hosts N] [--dir DIR] [--tls]
npm run cluster -- status --dir DIR [--json]
npm run cluster -- down --dir DIR

A real cluster of test hosts on this machine, for tests, demos and the benchmark (Linux, root):
each host is a network namespace joined to the others by a bridge (in a namespace of its own), with
an address in a private /24 that exists only inside them; on each, an etcd member of one N-member
cluster and a PM2 daemon running the ecosystem with CLOCK_ETCD pointing at all members.

  up       makes it (default 3 hosts; DIR default: a new temporary folder), writes DIR/cluster.json:
           {"hosts":[{"name":"h1","netns":…,"ip":…,"pm2Home":…,"stateDir":…,"logDir":…},…]}
           --tls: etcd speaks https to clients only, and only to a client certificate signed by
           a CA made for this cluster (openssl; in DIR/tls); the clocks get CLOCK_ETCD_CA/CERT/KEY
  status   which host leads, and each host's clock, heartbeat, lease and etcd member (--json: one object)
  down     removes every namespace, link, process and file it made (also after a failed up or Ctrl-C)

The clocks' settings come from the environment as usual (CLOCK_INTERVALS, CLOCK_TICKS, PROBE_PERIOD_MS,
PROBE_HANG_MS, CLOCK_LEASE_S, CLOCK_STANDBY, CLOCK_FAULTS). Nothing outside what it made is touched.

Exit codes: 0 done; 1 a step failed (the line before says which; etcd missing: apt-get install
etcd-server); 3 needs root; 4 not Linux; 100 wrong usage; 130 interrupted (cleaned up).`;

const SETTINGS = ['CLOCK_INTERVALS', 'CLOCK_TICKS', 'PROBE_PERIOD_MS', 'PROBE_HANG_MS', 'CLOCK_LEASE_S', 'CLOCK_STANDBY', 'CLOCK_FAULTS', 'CLOCK_CLUSTER'];

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: { hosts: { type: 'string', default: '3' }, dir: { type: 'string' }, json: { type: 'boolean', default: false }, tls: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
      allowPositionals: true,
    });
  } catch (error) {
    console.error(`cluster: ${(error as Error).message}; see npm run cluster -- --help`);
    return SCRIPT_EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return SCRIPT_EXIT.ok;
  }
  const verb = positionals[0];
  if (positionals.length !== 1 || !['up', 'status', 'down'].includes(verb ?? '')) {
    console.error(`cluster: expected one of up, status, down, got "${positionals.join(' ')}"; see npm run cluster -- --help`);
    return SCRIPT_EXIT.usage;
  }
  const hosts = Number(values.hosts);
  if (!/^\d+$/.test(values.hosts ?? '') || hosts < 1 || hosts > 9) {
    console.error(`cluster: --hosts expects a whole number from 1 to 9, got "${values.hosts}"`);
    return SCRIPT_EXIT.usage;
  }
  const dir = values.dir === undefined ? undefined : resolve(values.dir);
  if (verb !== 'up' && dir === undefined) {
    console.error(`cluster: ${verb} needs --dir DIR (the folder up wrote cluster.json to)`);
    return SCRIPT_EXIT.usage;
  }
  const cannot = missing();
  if (cannot) {
    console.error(`cluster: ${cannot}`);
    if (process.platform !== 'linux') return SCRIPT_EXIT.unsupported;
    return process.getuid?.() !== 0 ? SCRIPT_EXIT.needsRoot : SCRIPT_EXIT.failed;
  }
  const progress = (line: string): void => void process.stderr.write(`cluster: ${line}\n`);
  watchInterrupts('cluster', 'exit');
  if (verb === 'up') {
    const settings = Object.fromEntries(SETTINGS.flatMap((name) => (process.env[name] !== undefined ? [[name, process.env[name] as string]] : [])));
    const dirCreated = dir === undefined || !existsSync(dir);
    const target = dir ?? (await mkdtemp(join(tmpdir(), 'estatus-cluster-')));
    // Ctrl-C, or a step that fails: whatever was made so far is taken away again.
    const undo = cleanUpOnInterrupt(async () => {
      if (readManifest(target)) await down(target, progress);
      else if (dirCreated) rmSync(target, { recursive: true, force: true });
    });
    try {
      await up({ hosts, dir: target, dirCreated, settings, tls: values.tls === true, progress });
      console.log(target);
      progress(`up: ${target}/cluster.json; npm run cluster -- down --dir ${target} takes it away`);
      return SCRIPT_EXIT.ok;
    } catch (error) {
      progress(`up failed: ${(error as Error).message}; taking away what was made`);
      await undo();
      return SCRIPT_EXIT.failed;
    }
  }
  const manifest = readManifest(dir as string);
  if (!manifest) {
    console.error(`cluster: no cluster.json in ${dir}`);
    return SCRIPT_EXIT.failed;
  }
  if (verb === 'status') {
    const found = await status(manifest);
    if (values.json) console.log(JSON.stringify(found));
    else {
      console.log(`leader: ${found.leader ?? 'none'} (etcd's own Raft leader: ${found.etcdLeader ?? 'none answered'})`);
      for (const host of found.hosts) {
        const lease = host.leaseAgeMs === null ? '' : `, lease confirmed ${(host.leaseAgeMs / 1000).toFixed(1)} s ago`;
        const etcd = host.etcdHealthy ? `healthy${host.etcdVersion ? ` ${host.etcdVersion}` : ''}${host.etcdLeads ? ', Raft leader' : ''}` : 'NOT healthy';
        console.log(`${host.name}  ${host.ip.padEnd(15)}  ${(host.role ?? 'silent').padEnd(8)}  clock ${host.clockPid ?? '-'}${lease}  etcd ${etcd}`);
      }
    }
    return SCRIPT_EXIT.ok;
  }
  await down(dir as string, progress);
  return SCRIPT_EXIT.ok;
}

process.exit(await main().catch((error: unknown) => {
  console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
  return SCRIPT_EXIT.failed;
}));
