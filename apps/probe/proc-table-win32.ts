import type { ProcessInfo, ProcessStat, ProcessWanted, ProcTable } from './proc-table.ts';
import { PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_VM_READ, win32Api, type Win32Api } from './win32-api.ts';
import { basicInfo, creationTime, environment, filetimeToMicros, ownerSid, parameters, splitCommandLine, stillActive } from './win32-process.ts';

/**
 * The process table on Windows, through the OS itself (no program started per look): a full scan
 * is one NtQuerySystemInformation call; one process is read through one handle (its creation time,
 * parent, owner's SID, and its command line, cwd and environment from its PEB, as psutil does).
 */
export function win32Table(): ProcTable {
  const api = win32Api();
  const me = ownerSid(api, api.GetCurrentProcess());
  if (me === undefined) throw new Error('Windows did not tell this process\'s own user (OpenProcessToken / GetTokenInformation failed)');
  return {
    listPids: () => scan(api).map((entry) => entry.pid),
    readStat: (pid) => withHandle(api, pid, PROCESS_QUERY_LIMITED_INFORMATION, (handle) => readStat(api, pid, handle)),
    readProcess: (pid) => withHandle(api, pid, READ_ACCESS, (handle) => readProcess(api, pid, handle)),
    readEnviron: (pid) =>
      withHandle(api, pid, READ_ACCESS, (handle) => {
        const peb = basicInfo(api, handle)?.peb;
        const params = peb === undefined ? undefined : parameters(api, handle, peb);
        return params && environment(api, handle, params);
      }),
    findProcesses: (needle, image) => findAny(api, [{ needle, image }]),
    findAny: (wanted) => findAny(api, wanted),
    startedAtMs: (createTime) => createTime / 1000,
    currentUser: () => me,
    pathKey: (path) => path.toLowerCase(),
  };
}

/** One pass over the scan; a process's command line is read only where its image is one some search wants. */
function findAny(api: Win32Api, wanted: readonly ProcessWanted[]): ProcessInfo[] {
  const searches = wanted.map(({ needle, image }) => ({ needle, image: image === undefined ? undefined : `${image}.exe`.toLowerCase() }));
  const found: ProcessInfo[] = [];
  for (const entry of scan(api)) {
    const image = entry.image.toLowerCase();
    const here = searches.filter((search) => search.image === undefined || search.image === image);
    if (here.length === 0) continue;
    const proc = withHandle(api, entry.pid, READ_ACCESS, (handle) => readProcess(api, entry.pid, handle));
    // The pid's process may have been replaced since the scan: only the one scanned counts.
    if (!proc || proc.createTime !== entry.createTime) continue;
    const commandLine = proc.argv.join(' ');
    if (here.some((search) => commandLine.includes(search.needle))) found.push(proc);
  }
  return found;
}

const READ_ACCESS = PROCESS_QUERY_INFORMATION | PROCESS_VM_READ;
const SYSTEM_PROCESS_INFORMATION = 5;
const STATUS_INFO_LENGTH_MISMATCH = 0xc000_0004;
const SCAN_BUFFER_START = 256 * 1024;
// SYSTEM_PROCESS_INFORMATION (x64): NextEntryOffset at 0, CreateTime at 0x20, ImageName at 0x38
// (UNICODE_STRING), UniqueProcessId at 0x50, InheritedFromUniqueProcessId at 0x58.
const NEXT = 0;
const CREATE_TIME = 0x20;
const IMAGE_NAME = 0x38;
const PID = 0x50;
const PPID = 0x58;

interface ScanEntry {
  pid: number;
  ppid: number;
  createTime: number;
  /** The executable's file name (node.exe); empty for the idle process. */
  image: string;
}

let scanBufferSize = SCAN_BUFFER_START;

/** Every process, in one system call: pid, parent, creation time and image name. */
function scan(api: Win32Api): ScanEntry[] {
  const returned = Buffer.alloc(4);
  let buffer = Buffer.alloc(scanBufferSize);
  for (;;) {
    const status = api.NtQuerySystemInformation(SYSTEM_PROCESS_INFORMATION, buffer, buffer.length, returned) >>> 0;
    if (status === 0) break;
    if (status !== STATUS_INFO_LENGTH_MISMATCH) throw new Error(`NtQuerySystemInformation(SystemProcessInformation) failed with NTSTATUS 0x${status.toString(16)}`);
    // Processes may start between two calls: leave room for them.
    scanBufferSize = Math.max(scanBufferSize * 2, returned.readUInt32LE() + 64 * 1024);
    buffer = Buffer.alloc(scanBufferSize);
  }
  // The image names point into the buffer itself, by absolute address.
  const base = api.koffi.address(buffer);
  const entries: ScanEntry[] = [];
  for (let offset = 0; ; ) {
    const nameLength = buffer.readUInt16LE(offset + IMAGE_NAME);
    const nameAt = Number(buffer.readBigUInt64LE(offset + IMAGE_NAME + 8) - base);
    entries.push({
      pid: Number(buffer.readBigUInt64LE(offset + PID)),
      ppid: Number(buffer.readBigUInt64LE(offset + PPID)),
      createTime: filetimeToMicros(buffer.readBigUInt64LE(offset + CREATE_TIME)),
      image: nameLength > 0 && nameAt >= 0 && nameAt + nameLength <= buffer.length ? buffer.toString('utf16le', nameAt, nameAt + nameLength) : '',
    });
    const next = buffer.readUInt32LE(offset + NEXT);
    if (next === 0) break;
    offset += next;
  }
  return entries;
}

function readStat(api: Win32Api, pid: number, handle: number): ProcessStat | undefined {
  const createTime = creationTime(api, handle);
  const info = basicInfo(api, handle);
  if (createTime === undefined || !info) return undefined;
  return { pid, ppid: info.ppid, state: stillActive(api, handle) ? 'R' : 'Z', createTime };
}

function readProcess(api: Win32Api, pid: number, handle: number): ProcessInfo | undefined {
  const stat = readStat(api, pid, handle);
  const peb = basicInfo(api, handle)?.peb;
  const user = ownerSid(api, handle);
  if (!stat || peb === undefined || user === undefined) return undefined;
  const params = stat.state === 'R' ? parameters(api, handle, peb) : undefined;
  return { ...stat, user, argv: params ? splitCommandLine(api, params.commandLine) : [], cwd: params?.cwd };
}

/** Runs `read` on a handle to `pid` opened with `access`, closed after; undefined where it cannot be opened. */
function withHandle<T>(api: Win32Api, pid: number, access: number, read: (handle: number) => T | undefined): T | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const handle = api.OpenProcess(access, 0, pid);
  if (!handle) return undefined;
  try {
    return read(handle);
  } finally {
    api.CloseHandle(handle);
  }
}
