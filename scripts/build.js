// `npm run build`: bundles apps/ into dist/, the plain JavaScript that PM2 runs, then stamps the
// build so that build-if-stale.js can tell when a source has changed since. Type checking is
// `npm run typecheck` (tsc); this only transpiles and bundles.
//
// Why a bundle (esbuild) rather than tsc's file-per-module output: a restarted clock is judged on
// how fast it is ready, and loading one file instead of a dozen (dayjs included) took the clock's
// recovery after SIGKILL from ~1.55x to ~1.45x a bare JavaScript app's here (`npm run bench`).
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
/** @type {import('esbuild').BuildOptions} */
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' };

// From scratch, so that a source deleted from apps/ leaves no compiled ghost behind.
rmSync(dist, { recursive: true, force: true });
try {
  await build({
    ...common,
    entryPoints: { 'clock/main': join(root, 'apps/clock/main.ts') },
    outdir: dist,
    format: 'esm',
    // clock.ts stays a chunk of its own: main.js starts the workers before loading it. Chunks stay
    // beside their entry: config.ts finds the project's root two levels up from the running file.
    splitting: true,
    chunkNames: 'clock/[name]-[hash]',
    // etcd's gRPC client (cluster mode only) is loaded as installed, in a chunk of its own, and only then.
    external: ['etcd3'],
  });
  // The clock's watch on the probe, loaded a second after the clock is ready, is a bundle of its own:
  // in the clock's build, the modules it shares with clock.ts would be split out of clock.ts's chunk
  // into chunks of their own, and every start would load those files too. The process table and the
  // kill it loads only to end a hung probe stay chunks of their own.
  await build({
    ...common,
    entryPoints: { 'clock/probe-watch': join(root, 'apps/clock/probe-watch.ts') },
    outdir: dist,
    format: 'esm',
    splitting: true,
    chunkNames: 'clock/watch-[name]-[hash]',
  });
  // The probe loads PM2's client library as it is installed (it is not made to be bundled).
  await build({ ...common, entryPoints: { 'probe/main': join(root, 'apps/probe/main.ts') }, outdir: dist, format: 'esm', packages: 'external' });
  // The worker is CommonJS: a worker thread boots ~6 ms faster without the ES module loader.
  await build({ ...common, entryPoints: [join(root, 'apps/clock/worker.ts')], outfile: join(dist, 'clock/worker.cjs'), format: 'cjs' });
} catch {
  console.error('build: esbuild failed (errors above); dist/ was not built');
  process.exit(1);
}
mkdirSync(dist, { recursive: true });
writeFileSync(join(dist, '.built'), `${new Date().toISOString()}\n`);
