import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

/**
 * The few Windows calls the probe makes, through koffi (an FFI whose win32 binary ships in an npm
 * package), declared once. Handles are intptr_t; remote addresses uint64_t (a pointer on x64, but
 * one that is never ours to dereference); every other pointer a Buffer the call writes into.
 */
export interface Win32Api {
  koffi: typeof Koffi;
  OpenProcess(access: number, inherit: number, pid: number): number;
  CloseHandle(handle: number): number;
  GetCurrentProcess(): number;
  GetProcessTimes(handle: number, creation: Buffer, exit: Buffer, kernel: Buffer, user: Buffer): number;
  GetExitCodeProcess(handle: number, code: Buffer): number;
  TerminateProcess(handle: number, exitCode: number): number;
  WaitForSingleObject(handle: number, ms: number): number;
  ReadProcessMemory(handle: number, address: bigint, into: Buffer, length: number, read: null): number;
  LocalFree(memory: unknown): unknown;
  OpenProcessToken(handle: number, access: number, token: Buffer): number;
  GetTokenInformation(token: number, infoClass: number, into: Buffer, length: number, needed: Buffer): number;
  ConvertSidToStringSidW(sid: bigint, text: unknown[]): number;
  NtQueryInformationProcess(handle: number, infoClass: number, into: Buffer, length: number, returned: Buffer): number;
  NtQuerySystemInformation(infoClass: number, into: Buffer, length: number, returned: Buffer): number;
  CommandLineToArgvW(commandLine: string, argc: number[]): unknown;
}

export const PROCESS_TERMINATE = 0x0001;
export const PROCESS_VM_READ = 0x0010;
export const PROCESS_QUERY_INFORMATION = 0x0400;
export const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
export const SYNCHRONIZE = 0x0010_0000;
export const STILL_ACTIVE = 259;
export const WAIT_OBJECT_0 = 0;

let api: Win32Api | undefined;

/** The bindings, loaded on first use; throws one line naming what is missing and how to get it. */
export function win32Api(): Win32Api {
  api ??= bind(loadKoffi());
  return api;
}

function loadKoffi(): typeof Koffi {
  try {
    // Required, not imported: a bundle must not load the native module on a platform that never uses it.
    return createRequire(import.meta.url)('koffi') as typeof Koffi;
  } catch (error) {
    throw new Error(
      `koffi could not load its Windows binary (@koromix/koffi-win32-${process.arch}): ${(error as Error).message.split('\n')[0]}; ` +
        'run `npm run windows` once (it installs it), or `npm install` on Windows',
    );
  }
}

function bind(koffi: typeof Koffi): Win32Api {
  const kernel32 = koffi.load('kernel32.dll');
  const advapi32 = koffi.load('advapi32.dll');
  const ntdll = koffi.load('ntdll.dll');
  const shell32 = koffi.load('shell32.dll');
  return {
    koffi,
    OpenProcess: kernel32.func('intptr_t __stdcall OpenProcess(uint32_t access, int inherit, uint32_t pid)'),
    CloseHandle: kernel32.func('int __stdcall CloseHandle(intptr_t handle)'),
    GetCurrentProcess: kernel32.func('intptr_t __stdcall GetCurrentProcess()'),
    GetProcessTimes: kernel32.func('int __stdcall GetProcessTimes(intptr_t handle, void *creation, void *exit, void *kernel, void *user)'),
    GetExitCodeProcess: kernel32.func('int __stdcall GetExitCodeProcess(intptr_t handle, void *code)'),
    TerminateProcess: kernel32.func('int __stdcall TerminateProcess(intptr_t handle, uint32_t exitCode)'),
    WaitForSingleObject: kernel32.func('uint32_t __stdcall WaitForSingleObject(intptr_t handle, uint32_t ms)'),
    ReadProcessMemory: kernel32.func('int __stdcall ReadProcessMemory(intptr_t handle, uint64_t address, void *into, uintptr_t length, void *read)'),
    LocalFree: kernel32.func('void * __stdcall LocalFree(void *memory)'),
    OpenProcessToken: advapi32.func('int __stdcall OpenProcessToken(intptr_t handle, uint32_t access, void *token)'),
    GetTokenInformation: advapi32.func('int __stdcall GetTokenInformation(intptr_t token, int infoClass, void *into, uint32_t length, void *needed)'),
    ConvertSidToStringSidW: advapi32.func('int __stdcall ConvertSidToStringSidW(uint64_t sid, _Out_ void **text)'),
    NtQueryInformationProcess: ntdll.func('int32_t __stdcall NtQueryInformationProcess(intptr_t handle, uint32_t infoClass, void *into, uint32_t length, void *returned)'),
    NtQuerySystemInformation: ntdll.func('int32_t __stdcall NtQuerySystemInformation(uint32_t infoClass, void *into, uint32_t length, void *returned)'),
    CommandLineToArgvW: shell32.func('void * __stdcall CommandLineToArgvW(const char16_t *commandLine, _Out_ int *argc)'),
  };
}
