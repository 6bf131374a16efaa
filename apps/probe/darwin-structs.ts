/**
 * macOS's process structures, read from the bytes the kernel returns (x86_64 and arm64 share these
 * layouts). Offsets from <sys/sysctl.h> / <sys/proc.h> (struct kinfo_proc = extern_proc + eproc,
 * 648 bytes), as golang.org/x/sys/unix ztypes_darwin_amd64.go lays them out, and <sys/proc_info.h>.
 */

export const KINFO_PROC_SIZE = 648;
// struct extern_proc: p_starttime (timeval: i64 tv_sec, i32 tv_usec) at 0, p_stat at 36, p_pid at
// 40, p_comm[17] at 243. struct eproc at 296: e_pcred (at +16) .p_ruid at +80 in it; e_ppid at +264.
const STARTTIME_SEC = 0;
const STARTTIME_USEC = 8;
const STAT = 36;
const PID = 40;
const COMM = 243;
const COMM_LENGTH = 17;
const RUID = 296 + 16 + 80;
const PPID = 296 + 264;
// struct proc_vnodepathinfo: pvi_cdir (vnode_info_path: a 152-byte vnode_info, then vip_path[1024]) first.
export const VNODE_PATH_INFO_SIZE = 2352;
const CDIR_PATH = 152;
const PATH_MAX = 1024;

// p_stat: SIDL 1, SRUN 2, SSLEEP 3, SSTOP 4, SZOMB 5, in the letters Linux uses.
const STATES = ['?', 'I', 'R', 'S', 'T', 'Z'];

export interface KinfoProc {
  pid: number;
  ppid: number;
  state: string;
  /** p_starttime in µs since the epoch. */
  createTime: number;
  /** The real uid. */
  uid: number;
  /** The executable's name, cut at 16 bytes by the kernel. */
  comm: string;
}

/** The kinfo_proc at `offset`, or undefined if the buffer holds none there. */
export function parseKinfoProc(buffer: Buffer, offset = 0): KinfoProc | undefined {
  if (buffer.length < offset + KINFO_PROC_SIZE) return undefined;
  const at = (field: number): number => offset + field;
  const comm = buffer.subarray(at(COMM), at(COMM) + COMM_LENGTH);
  const end = comm.indexOf(0);
  return {
    pid: buffer.readInt32LE(at(PID)),
    ppid: buffer.readInt32LE(at(PPID)),
    state: STATES[buffer.readInt8(at(STAT))] ?? '?',
    createTime: Number(buffer.readBigInt64LE(at(STARTTIME_SEC))) * 1_000_000 + buffer.readInt32LE(at(STARTTIME_USEC)),
    uid: buffer.readUInt32LE(at(RUID)),
    comm: comm.subarray(0, end < 0 ? COMM_LENGTH : end).toString('utf8'),
  };
}

/** Every kinfo_proc of a KERN_PROC_ALL answer. */
export function parseKinfoProcs(buffer: Buffer): KinfoProc[] {
  const procs: KinfoProc[] = [];
  for (let offset = 0; offset + KINFO_PROC_SIZE <= buffer.length; offset += KINFO_PROC_SIZE) {
    const proc = parseKinfoProc(buffer, offset);
    if (proc) procs.push(proc);
  }
  return procs;
}

/**
 * A KERN_PROCARGS2 answer: i32 argc, the executable's path, NUL padding, argc NUL-terminated
 * arguments, then NAME=value strings up to an empty one. Undefined when it does not hold that.
 */
export function parseProcArgs2(buffer: Buffer): { argv: string[]; env: Map<string, string> } | undefined {
  if (buffer.length < 4) return undefined;
  const argc = buffer.readInt32LE(0);
  let offset = buffer.indexOf(0, 4);
  if (argc < 0 || offset < 0) return undefined;
  while (offset < buffer.length && buffer[offset] === 0) offset++;
  const next = (): string | undefined => {
    if (offset >= buffer.length) return undefined;
    const end = buffer.indexOf(0, offset);
    const text = buffer.toString('utf8', offset, end < 0 ? buffer.length : end);
    offset = end < 0 ? buffer.length : end + 1;
    return text;
  };
  const argv: string[] = [];
  for (let index = 0; index < argc; index++) {
    const arg = next();
    if (arg === undefined) return undefined;
    argv.push(arg);
  }
  const env = new Map<string, string>();
  for (let pair = next(); pair; pair = next()) {
    const equals = pair.indexOf('=');
    if (equals > 0) env.set(pair.slice(0, equals), pair.slice(equals + 1));
  }
  return { argv, env };
}

/** The current directory's path from a proc_vnodepathinfo (pvi_cdir.vip_path). */
export function parseCwd(buffer: Buffer): string | undefined {
  if (buffer.length < CDIR_PATH + PATH_MAX) return undefined;
  const path = buffer.subarray(CDIR_PATH, CDIR_PATH + PATH_MAX);
  const end = path.indexOf(0);
  const text = path.subarray(0, end < 0 ? PATH_MAX : end).toString('utf8');
  return text === '' ? undefined : text;
}
