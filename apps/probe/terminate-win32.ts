import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Terminator } from './terminate.ts';
import { PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_TERMINATE, SYNCHRONIZE, win32Api, type Win32Api } from './win32-api.ts';
import { creationTime, stillActive } from './win32-process.ts';

const POLL_MS = 50;
// What a process ended this way exits with: what taskkill /F gives.
const TERMINATED_EXIT_CODE = 1;

/**
 * Windows: the handle is opened first, the process checked through it (creation time, still running),
 * and ended through that same handle. While a handle is open Windows never reuses its pid, so the
 * process checked is the process ended.
 */
export function win32Terminator(): Terminator {
  const api = win32Api();
  const isStillAlive = (pid: number, createTime: number): boolean =>
    withVerified(api, pid, createTime, PROCESS_QUERY_LIMITED_INFORMATION, () => true) ?? false;
  const killVerified = (pid: number, createTime: number): boolean =>
    withVerified(api, pid, createTime, PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, (handle) => api.TerminateProcess(handle, TERMINATED_EXIT_CODE) !== 0) ?? false;
  return {
    killName: 'TerminateProcess',
    isStillAlive,
    killVerified,
    async terminate(pid, createTime, graceMs) {
      if (!killVerified(pid, createTime)) return 'gone';
      const deadline = performance.now() + graceMs;
      while (performance.now() < deadline && isStillAlive(pid, createTime)) await sleep(POLL_MS);
      return 'killed';
    },
  };
}

/** Runs `act` on a handle to `pid` if, through that handle, it is still running with `createTime`. */
function withVerified<T>(api: Win32Api, pid: number, createTime: number, access: number, act: (handle: number) => T): T | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const handle = api.OpenProcess(access, 0, pid);
  if (!handle) return undefined;
  try {
    return creationTime(api, handle) === createTime && stillActive(api, handle) ? act(handle) : undefined;
  } finally {
    api.CloseHandle(handle);
  }
}
