// A worker under guard, written from the README's "Guard any app" alone: it imports nothing of this
// repository. It does a job every WORKER_EVERY_MS and owes the next within twice that; after every
// 5th job it has none for WORKER_IDLE_MS and owes nothing (an idle app is never stalled).
// Break it on purpose, under PM2 on any platform: `npx pm2 trigger worker stall` (a job gets stuck:
// it beats on and makes no progress) or `... hang` (its event loop blocks for good); on Unix also
// SIGUSR2 (stall), SIGUSR1 (hang) or kill -STOP (hang).
import { mkdir, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';

const every = setting('WORKER_EVERY_MS', 1000);
const idleMs = setting('WORKER_IDLE_MS', 3 * every);
const beatPath = process.env.GUARD_HEARTBEAT; // absent: not under guard, and it runs all the same
const beatEvery = Math.min(250, Math.floor((Number(process.env.GUARD_HANG_MS) || 3000) / 4));

let seq = 0;
let ready = false;
let owedAt = null; // the performance.now() by which progress is owed; null: owes none
let lastProgress = null;
let stuck = false;
let jobs = 0;
let failing;
let timer;

function setting(name, fallback) {
  const text = process.env[name] ?? String(fallback);
  if (/^\d+$/.test(text) && Number(text) >= 10) return Number(text);
  console.error(`worker: ${name}=${JSON.stringify(text)} is not valid: expected whole milliseconds from 10`);
  process.exit(78); // a bad setting: the ecosystem file tells PM2 not to restart into it
}

// The contract: one JSON object, written to a temporary file beside the beat, then renamed over it.
function beat() {
  if (!beatPath) return;
  const now = performance.now();
  const owedInMs = owedAt === null ? null : Math.round(owedAt - now);
  const progressAgoMs = lastProgress === null ? null : Math.round(now - lastProgress);
  const temp = `${beatPath}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify({ guard: 1, pid: process.pid, seq: ++seq, ready, owedInMs, progressAgoMs })}\n`, { mode: 0o600 });
    renameSync(temp, beatPath);
    if (failing) console.error(`worker: writes ${beatPath} again`);
    failing = undefined;
  } catch (error) {
    if (failing !== error.code) console.error(`worker: cannot write ${beatPath} (${error.code}); trying again at the next beat`);
    failing = error.code;
    if (error.code === 'ENOENT') mkdir(dirname(beatPath), { recursive: true, mode: 0o700 }, () => {}); // its folder, owner-only
  }
}

function job() {
  if (stuck) return;
  lastProgress = performance.now();
  console.log(`job ${++jobs} done`);
  if (jobs % 5 !== 0) {
    owedAt = lastProgress + 2 * every;
    timer = setTimeout(job, every);
    return;
  }
  owedAt = null;
  console.log(`no job for ${idleMs} ms: owes nothing`);
  timer = setTimeout(() => {
    if (stuck) return;
    owedAt = performance.now() + 2 * every; // a job arrived: owed from now, though no progress yet
    timer = setTimeout(job, every);
  }, idleMs);
}

const breaks = {
  stall() {
    stuck = true;
    owedAt ??= performance.now() + 2 * every;
    console.error('worker: a job is stuck; beating on, making no progress');
  },
  hang() {
    console.error('worker: blocking the event loop for good');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  },
};

function stop(why) {
  clearTimeout(timer);
  clearInterval(beating);
  try {
    if (JSON.parse(readFileSync(beatPath, 'utf8')).pid === process.pid) rmSync(beatPath); // a successor's beat is not ours
  } catch {}
  console.log(`stopped (${why}) after ${jobs} jobs`);
  process.exit(0);
}

// A listener of its own also keeps Node from opening its debugger on SIGUSR1.
process.on('SIGUSR2', breaks.stall);
process.on('SIGUSR1', breaks.hang);
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('message', (message) => {
  if (message === 'shutdown') stop('shutdown');
  else if (message === 'stall' || message === 'hang') process.send({ type: 'axm:reply', data: { action_name: message, return: 'done' } }, breaks[message]);
});
for (const name of Object.keys(breaks)) process.send?.({ type: 'axm:action', data: { action_name: name, action_type: 'custom', arity: 0 } });

const beating = setInterval(beat, beatEvery);
owedAt = performance.now() + 2 * every;
timer = setTimeout(job, every);
ready = true;
beat();
process.send?.('ready');
