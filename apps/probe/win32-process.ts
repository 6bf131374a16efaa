import type { Win32Api } from './win32-api.ts';
import { STILL_ACTIVE } from './win32-api.ts';

/**
 * What Windows tells of one process through a handle already open on it. Reading through one handle
 * means every answer is about the same process: a handle keeps its pid from being reused.
 */

// FILETIME counts 100 ns since 1601-01-01; the Unix epoch is this many of them later.
const EPOCH_AS_FILETIME = 116_444_736_000_000_000n;
// ProcessBasicInformation (x64): PebBaseAddress at 8, InheritedFromUniqueProcessId at 40, 48 bytes.
const PROCESS_BASIC_INFORMATION = 0;
const PBI_SIZE = 48;
// PEB (x64): ProcessParameters at 0x20. RTL_USER_PROCESS_PARAMETERS (x64), as psutil reads it:
// CurrentDirectory.DosPath at 0x38, CommandLine at 0x70 (UNICODE_STRING: u16 length, pointer at +8),
// Environment at 0x80, EnvironmentSize at 0x3f0.
const PEB_PARAMETERS = 0x20n;
const PARAMS_SIZE = 0x400;
const CWD = 0x38;
const COMMAND_LINE = 0x70;
const ENVIRONMENT = 0x80;
const ENVIRONMENT_SIZE = 0x3f0;
// An environment block whose size the PEB does not give (older Windows) is read up to this much.
const ENVIRONMENT_LIMIT = 1 << 20;
const TOKEN_QUERY = 0x0008;
const TOKEN_USER = 1;

/** A FILETIME as µs since the Unix epoch: an integer a double holds exactly until the year 2255. */
export function filetimeToMicros(filetime: bigint): number {
  return Number((filetime - EPOCH_AS_FILETIME) / 10n);
}

/** The creation time (µs since the epoch), or undefined when it cannot be read. */
export function creationTime(api: Win32Api, handle: number): number | undefined {
  const times = [Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8)] as const;
  return api.GetProcessTimes(handle, ...times) ? filetimeToMicros(times[0].readBigUInt64LE()) : undefined;
}

/** Whether it still runs: an exited process keeps its object (and pid) while a handle holds it. */
export function stillActive(api: Win32Api, handle: number): boolean {
  const code = Buffer.alloc(4);
  return api.GetExitCodeProcess(handle, code) !== 0 && code.readUInt32LE() === STILL_ACTIVE;
}

export interface BasicInfo {
  ppid: number;
  peb: bigint;
}

export function basicInfo(api: Win32Api, handle: number): BasicInfo | undefined {
  const info = Buffer.alloc(PBI_SIZE);
  if (api.NtQueryInformationProcess(handle, PROCESS_BASIC_INFORMATION, info, PBI_SIZE, Buffer.alloc(4)) !== 0) return undefined;
  return { ppid: Number(info.readBigUInt64LE(40)), peb: info.readBigUInt64LE(8) };
}

export interface Parameters {
  commandLine: string;
  cwd: string;
  /** The environment block's address and size in bytes (0: not recorded). */
  environment: bigint;
  environmentSize: number;
}

/** The process's RTL_USER_PROCESS_PARAMETERS, read from its memory (needs PROCESS_VM_READ). */
export function parameters(api: Win32Api, handle: number, peb: bigint): Parameters | undefined {
  const pointer = readMemory(api, handle, peb + PEB_PARAMETERS, 8);
  const params = pointer && readMemory(api, handle, pointer.readBigUInt64LE(), PARAMS_SIZE);
  if (!params) return undefined;
  const commandLine = readUnicodeString(api, handle, params, COMMAND_LINE);
  const cwd = readUnicodeString(api, handle, params, CWD);
  if (commandLine === undefined || cwd === undefined) return undefined;
  return {
    commandLine,
    // The DosPath of a directory ends with a backslash; a root (C:\) keeps it.
    cwd: /^[A-Za-z]:\\$/.test(cwd) ? cwd : cwd.replace(/\\$/, ''),
    environment: params.readBigUInt64LE(ENVIRONMENT),
    environmentSize: Number(params.readBigUInt64LE(ENVIRONMENT_SIZE)),
  };
}

/** The environment block: NAME=value strings, each NUL-terminated, the last followed by another NUL. */
export function environment(api: Win32Api, handle: number, params: Parameters): Map<string, string> | undefined {
  const size = params.environmentSize > 0 ? params.environmentSize : ENVIRONMENT_LIMIT;
  let block = readMemory(api, handle, params.environment, size);
  // Without a recorded size, the block may end before the limit, at an unreadable page: halve until readable.
  for (let length = size >> 1; !block && params.environmentSize === 0 && length >= 4096; length >>= 1) {
    block = readMemory(api, handle, params.environment, length);
  }
  if (!block) return undefined;
  const env = new Map<string, string>();
  const text = block.toString('utf16le');
  const end = text.indexOf('\0\0');
  // A name may start with '=' (cmd.exe's per-drive "=C:=C:\dir"): the separator is the first '=' after it.
  for (const pair of (end >= 0 ? text.slice(0, end) : text).split('\0')) {
    const equals = pair.indexOf('=', 1);
    if (equals > 0) env.set(pair.slice(0, equals), pair.slice(equals + 1));
  }
  return env;
}

/** The owner's SID as a string (S-1-5-21-…), through the process's token. */
export function ownerSid(api: Win32Api, handle: number): string | undefined {
  const tokenOut = Buffer.alloc(8);
  if (!api.OpenProcessToken(handle, TOKEN_QUERY, tokenOut)) return undefined;
  const token = Number(tokenOut.readBigInt64LE());
  try {
    const info = Buffer.alloc(256);
    if (!api.GetTokenInformation(token, TOKEN_USER, info, info.length, Buffer.alloc(4))) return undefined;
    // TOKEN_USER starts with a pointer to the SID, which lies inside the same buffer.
    const text: unknown[] = [null];
    if (!api.ConvertSidToStringSidW(info.readBigUInt64LE(0), text)) return undefined;
    try {
      return api.koffi.decode(text[0], 'char16_t', -1) as string;
    } finally {
      api.LocalFree(text[0]);
    }
  } finally {
    api.CloseHandle(token);
  }
}

/** Splits a command line as Windows programs do (CommandLineToArgvW: quotes, backslashes). */
export function splitCommandLine(api: Win32Api, commandLine: string): string[] {
  if (commandLine.trim() === '') return [];
  const argc = [0];
  const argv = api.CommandLineToArgvW(commandLine, argc);
  if (!argv) return [commandLine];
  try {
    return api.koffi.decode(argv, api.koffi.array('char16_t *', argc[0] ?? 0)) as string[];
  } finally {
    api.LocalFree(argv);
  }
}

function readUnicodeString(api: Win32Api, handle: number, struct: Buffer, offset: number): string | undefined {
  const length = struct.readUInt16LE(offset);
  if (length === 0) return '';
  return readMemory(api, handle, struct.readBigUInt64LE(offset + 8), length)?.toString('utf16le');
}

function readMemory(api: Win32Api, handle: number, address: bigint, length: number): Buffer | undefined {
  if (address === 0n) return undefined;
  const into = Buffer.alloc(length);
  return api.ReadProcessMemory(handle, address, into, length, null) ? into : undefined;
}
