// `npm install` / `npm ci`: builds the death bell (native/death_bell.c), the hot standby's early
// notice of an active clock's death (see apps/clock/death-bell.ts). Optional: without a C compiler,
// or off Linux, the install goes on and a standby learns of a death when the kernel closes the dead
// clock's socket instead (~5-10 ms later here).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
// npm hands its own node-gyp to the scripts it runs; by hand, one on the PATH.
const nodeGyp = process.env.npm_config_node_gyp;
const [command, args] = nodeGyp ? [process.execPath, [nodeGyp, 'rebuild']] : ['node-gyp', ['rebuild']];
if (process.platform !== 'linux') {
  console.warn(`build-native: the death bell is built on Linux only; a standby will learn of deaths when the lock's ${process.platform === 'win32' ? 'named pipe' : 'socket'} closes`);
  process.exit(0);
}
const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (result.status !== 0) {
  const why = result.error ? result.error.message : (result.stderr ?? '').trim().split('\n').slice(-3).join(' / ');
  console.warn(`build-native: the death bell was not built (${why}); a standby will learn of deaths from the lock socket`);
}
