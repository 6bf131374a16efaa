/**
 * Whether a Windows service is registered, from `nssm status NAME` and `sc query NAME`. sc's exit
 * code is the Win32 error, the same in every language: 1060 is ERROR_SERVICE_DOES_NOT_EXIST. NSSM's
 * messages are in the system's language, so only its exit code and its SERVICE_* state word count.
 */
export interface Output {
  code: number;
  stdout: Uint8Array | string;
  stderr: Uint8Array | string;
}

export type ServiceState =
  | { kind: 'present'; state: string }
  | { kind: 'absent' }
  | { kind: 'unknown'; why: string };

export const ERROR_SERVICE_DOES_NOT_EXIST = 1060;

/**
 * NSSM 2.24 writes UTF-16LE to its stdout and stderr (_O_U16TEXT), even into a pipe; its later
 * builds (2.24-101, which winget and Chocolatey install) write UTF-8.
 */
export function decodeOutput(bytes: Uint8Array | string): string {
  if (typeof bytes === 'string') return bytes;
  const buffer = Buffer.from(bytes);
  const text = buffer.includes(0) ? buffer.toString('utf16le') : buffer.toString('utf8');
  return text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
}

export function serviceState(nssmStatus: Output, scQuery: Output): ServiceState {
  const state = /^SERVICE_[A-Z_]+$/m.exec(decodeOutput(nssmStatus.stdout).trim())?.[0];
  const scState = /^\s*STATE\s*:\s*\d+\s+(\w+)/m.exec(decodeOutput(scQuery.stdout))?.[1];
  if (scQuery.code === ERROR_SERVICE_DOES_NOT_EXIST) {
    return nssmStatus.code === 0 && state
      ? { kind: 'unknown', why: `nssm status says ${state} but sc query says it does not exist` }
      : { kind: 'absent' };
  }
  if (nssmStatus.code === 0 && state) return { kind: 'present', state };
  if (scQuery.code === 0) return { kind: 'present', state: scState ? `SERVICE_${scState}` : 'registered' };
  const said = oneLine(nssmStatus.stderr) || oneLine(scQuery.stdout) || oneLine(scQuery.stderr);
  return { kind: 'unknown', why: `nssm status exited ${nssmStatus.code}, sc query exited ${scQuery.code}${said ? `: ${said}` : ''}` };
}

function oneLine(bytes: Uint8Array | string): string {
  return decodeOutput(bytes).split('\n').map((line) => line.trim()).filter(Boolean).join(' ');
}
