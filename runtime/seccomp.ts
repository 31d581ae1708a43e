// Seccomp for containers, with dockerd's semantics:
//  * profiles in docker's JSON format (what `--security-opt seccomp=<file>` sends, and the daemon's
//    --seccomp-profile): the OCI LinuxSeccomp fields plus `archMap` and per-rule `includes` /
//    `excludes` conditions on capabilities, architectures and minimum kernel;
//  * the builtin default profile, generated here from its facts: an allowlist (EPERM for anything
//    else), syscalls unlocked by particular capabilities, clone without namespace flags and clone3
//    answering ENOSYS unless CAP_SYS_ADMIN, and the arch-specific calls.
// resolveSeccompProfile() turns a profile into the LinuxSeccomp runc takes, for one container.
// Syscall names unknown to the host's libseccomp are skipped by runc, so the list can run ahead
// of the kernel.

import { arch as osArch, release } from 'node:os';
import { InvalidParameter, errorMessage } from '../lib/errors';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall } from './oci-types';

/** A conditional rule set (docker profile format). */
export interface SeccompFilter {
  caps?: string[];
  arches?: string[];
  /** "<kernel>.<major>", e.g. "4.8". */
  minKernel?: string;
}

export interface SeccompRule {
  names?: string[];
  /** Old single-name form. */
  name?: string;
  action: string;
  errnoRet?: number;
  args?: LinuxSeccompArg[] | null;
  comment?: string;
  includes?: SeccompFilter | null;
  excludes?: SeccompFilter | null;
}

export interface SeccompArchMap {
  architecture: string;
  subArchitectures?: string[] | null;
}

/** A seccomp profile in docker's format. */
export interface SeccompProfile {
  defaultAction?: string;
  defaultErrnoRet?: number;
  architectures?: string[] | null;
  archMap?: SeccompArchMap[] | null;
  flags?: string[] | null;
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompRule[] | null;
}

/** What a profile is resolved against. `arch` is libseccomp's native name (amd64, arm64, ...). */
export interface SeccompContext {
  /** The container's bounding capability set. */
  caps: readonly string[];
  arch?: string;
  /** Kernel release, as `uname -r` prints it. */
  kernelRelease?: string;
}

const EPERM = 1;
const ENOSYS = 38;
const ALLOW = 'SCMP_ACT_ALLOW';
const ERRNO = 'SCMP_ACT_ERRNO';

// ---- the builtin profile's facts ---------------------------------------------------------------

/** Allowed for every container, grouped by what they are for. */
const ALWAYS_ALLOWED: Record<string, string> = {
  'paths and directories': `access faccessat faccessat2 chdir fchdir getcwd chmod fchmod fchmodat fchmodat2 chown chown32
    fchown fchown32 fchownat lchown lchown32 link linkat symlink symlinkat unlink unlinkat rename renameat renameat2 mkdir
    mkdirat rmdir mknod mknodat readlink readlinkat truncate truncate64 umask utime utimes utimensat utimensat_time64
    futimesat getdents getdents64 name_to_handle_at`,
  'file status': `stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx statfs statfs64 fstatfs fstatfs64
    statmount listmount`,
  'file descriptors': `creat open openat openat2 close close_range dup dup2 dup3 fcntl fcntl64 flock ioctl ftruncate
    ftruncate64 fallocate pipe pipe2`,
  'reading and writing': `read readv pread64 preadv preadv2 write writev pwrite64 pwritev pwritev2 lseek _llseek sendfile
    sendfile64 splice tee vmsplice copy_file_range readahead fadvise64 fadvise64_64 fsync fdatasync sync syncfs
    sync_file_range`,
  'async io': `io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64 ioprio_get
    ioprio_set`,
  'extended attributes': `getxattr lgetxattr fgetxattr getxattrat setxattr lsetxattr fsetxattr setxattrat listxattr
    llistxattr flistxattr listxattrat removexattr lremovexattr fremovexattr removexattrat`,
  'file notifications': 'inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark',
  memory: `brk mmap mmap2 munmap mremap mprotect madvise mincore mlock mlock2 mlockall munlock munlockall msync
    remap_file_pages membarrier memfd_create memfd_secret mseal map_shadow_stack pkey_alloc pkey_free pkey_mprotect
    cachestat`,
  processes: `fork vfork execve execveat exit exit_group wait4 waitid waitpid kill tkill tgkill pidfd_open
    pidfd_send_signal process_mrelease prctl seccomp capget capset restart_syscall set_tid_address set_robust_list
    get_robust_list rseq set_thread_area get_thread_area uretprobe getrusage times sysinfo uname getcpu getrandom
    riscv_hwprobe landlock_create_ruleset landlock_add_rule landlock_restrict_self`,
  'process identity': `getpid getppid gettid getpgid getpgrp setpgid getsid setsid getuid getuid32 geteuid geteuid32
    getgid getgid32 getegid getegid32 getresuid getresuid32 getresgid getresgid32 getgroups getgroups32 setuid setuid32
    setgid setgid32 setreuid setreuid32 setregid setregid32 setresuid setresuid32 setresgid setresgid32 setfsuid
    setfsuid32 setfsgid setfsgid32 setgroups setgroups32`,
  'limits and scheduling': `getrlimit setrlimit ugetrlimit prlimit64 getpriority setpriority sched_yield
    sched_getaffinity sched_setaffinity sched_getattr sched_setattr sched_getparam sched_setparam sched_getscheduler
    sched_setscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval
    sched_rr_get_interval_time64`,
  signals: `rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
    rt_sigtimedwait_time64 rt_tgsigqueueinfo sigaltstack signalfd signalfd4 sigprocmask sigreturn pause alarm`,
  'clocks and timers': `adjtimex clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 nanosleep gettimeofday time getitimer setitimer timer_create
    timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create
    timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64`,
  'futexes and waiting': `futex futex_time64 futex_requeue futex_wait futex_waitv futex_wake poll ppoll ppoll_time64
    select _newselect pselect6 pselect6_time64 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_wait
    epoll_wait_old epoll_pwait epoll_pwait2 eventfd eventfd2`,
  'System V IPC and message queues': `ipc msgget msgctl msgsnd msgrcv semget semctl semop semtimedop semtimedop_time64
    shmget shmctl shmat shmdt mq_open mq_unlink mq_getsetattr mq_notify mq_timedsend mq_timedsend_time64
    mq_timedreceive mq_timedreceive_time64`,
  sockets: `socketcall socketpair bind connect listen accept accept4 getsockname getpeername getsockopt setsockopt
    shutdown send sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64`,
};

/** Syscalls a capability unlocks (the kernel would refuse most of them anyway without it). */
const CAPABILITY_GATED: [cap: string, names: string][] = [
  ['CAP_DAC_READ_SEARCH', 'open_by_handle_at'],
  [
    'CAP_SYS_ADMIN',
    `bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr lsm_list_modules
    lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname
    sethostname setns syslog umount umount2 unshare`,
  ],
  ['CAP_SYS_BOOT', 'reboot'],
  ['CAP_SYS_CHROOT', 'chroot'],
  ['CAP_SYS_MODULE', 'delete_module init_module finit_module'],
  ['CAP_SYS_PACCT', 'acct'],
  ['CAP_SYS_PTRACE', 'kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'],
  ['CAP_SYS_RAWIO', 'iopl ioperm'],
  ['CAP_SYS_TIME', 'settimeofday stime clock_settime clock_settime64'],
  ['CAP_SYS_TTY_CONFIG', 'vhangup'],
  ['CAP_SYS_NICE', 'get_mempolicy mbind set_mempolicy set_mempolicy_home_node'],
  ['CAP_SYSLOG', 'syslog'],
  ['CAP_BPF', 'bpf'],
  ['CAP_PERFMON', 'perf_event_open'],
];

/** Syscalls that exist (or are safe) only on some architectures. */
const ARCH_SPECIFIC: [arches: string[], names: string][] = [
  [['ppc64le'], 'sync_file_range2 swapcontext'],
  [['arm', 'arm64'], 'arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'],
  [['amd64', 'x32'], 'arch_prctl'],
  [['amd64', 'x32', 'x86'], 'modify_ldt'],
  [['s390', 's390x'], 's390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'],
  [['riscv64'], 'riscv_flush_icache'],
];

/** personality(2) personas allowed: PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32, and the query 0xffffffff. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** socket(2) is allowed for every address family except 38 (AF_ALG) and 40 (AF_VSOCK). */
const SOCKET_FAMILY_RULES: LinuxSeccompArg[] = [
  { index: 0, value: 38, op: 'SCMP_CMP_LT' },
  { index: 0, value: 39, op: 'SCMP_CMP_EQ' },
  { index: 0, value: 40, op: 'SCMP_CMP_GT' },
];

/** CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** Per-arch subarchitectures a filter must also cover (libseccomp names). */
const ARCH_MAP: SeccompArchMap[] = [
  { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
  { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  { architecture: 'SCMP_ARCH_MIPS64', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64N32'] },
  { architecture: 'SCMP_ARCH_MIPS64N32', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64'] },
  { architecture: 'SCMP_ARCH_MIPSEL64', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64N32'] },
  { architecture: 'SCMP_ARCH_MIPSEL64N32', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64'] },
  { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
  { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: [] },
  { architecture: 'SCMP_ARCH_LOONGARCH64', subArchitectures: [] },
];

const words = (s: string): string[] => s.split(/\s+/).filter((w) => w !== '');

/** The builtin profile in docker's conditional format (resolve it with resolveSeccompProfile). */
export function builtinSeccompProfile(): SeccompProfile {
  const rules: SeccompRule[] = [
    { names: Object.values(ALWAYS_ALLOWED).flatMap(words).sort(), action: ALLOW },
    // ptrace and friends are harmless from 4.8 on, where seccomp can no longer be bypassed by it.
    { names: ['process_vm_readv', 'process_vm_writev', 'ptrace'], action: ALLOW, includes: { minKernel: '4.8' } },
    ...SOCKET_FAMILY_RULES.map((arg) => ({ names: ['socket'], action: ALLOW, args: [arg] })),
    ...PERSONALITIES.map((value) => ({ names: ['personality'], action: ALLOW, args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] })),
    ...ARCH_SPECIFIC.map(([arches, names]) => ({ names: words(names), action: ALLOW, includes: { arches } })),
  ];
  for (const [cap, names] of CAPABILITY_GATED) {
    rules.push({ names: words(names), action: ALLOW, includes: { caps: [cap] } });
    if (cap === 'CAP_SYS_ADMIN') {
      // Without CAP_SYS_ADMIN: clone only without namespace flags (flags are argument 1 on s390),
      // and clone3 (whose flags seccomp cannot inspect) says ENOSYS so libcs fall back to clone.
      rules.push(
        {
          names: ['clone'],
          action: ALLOW,
          args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }],
          excludes: { caps: [cap], arches: ['s390', 's390x'] },
        },
        {
          names: ['clone'],
          action: ALLOW,
          args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }],
          includes: { arches: ['s390', 's390x'] },
          excludes: { caps: [cap] },
        },
        { names: ['clone3'], action: ERRNO, errnoRet: ENOSYS, excludes: { caps: [cap] } },
      );
    }
  }
  return { defaultAction: ERRNO, defaultErrnoRet: EPERM, archMap: ARCH_MAP, syscalls: rules };
}

// ---- parsing and resolving ---------------------------------------------------------------------

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStrings(v: unknown, what: string): void {
  if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
    throw new Error(`${what} must be an array of strings`);
  }
}

function checkFilter(v: unknown, what: string): void {
  if (v === undefined || v === null) return;
  if (!isRecord(v)) throw new Error(`${what} must be an object`);
  checkStrings(v.caps, `${what}.caps`);
  checkStrings(v.arches, `${what}.arches`);
  if (v.minKernel !== undefined && v.minKernel !== '') parseKernelVersion(v.minKernel);
}

/** "<kernel>.<major>" → [kernel, major]; what dockerd accepts for minKernel. */
function parseKernelVersion(v: unknown): [number, number] {
  const bad = (why = ''): Error => new Error(`invalid kernel version: ${JSON.stringify(v)}, expected "<kernel>.<major>"${why}`);
  if (typeof v !== 'string') throw bad();
  const parts = v.split('.');
  if (parts.length !== 2 || !parts.every((p) => /^\d+$/.test(p))) throw bad();
  const [k, m] = parts.map(Number);
  if (k > 255 || m > 255) throw bad();
  if (k === 0 && m === 0) throw bad(': version cannot be 0.0');
  return [k, m];
}

/**
 * Parses a profile in docker's JSON format. Errors are InvalidParameter worded as dockerd
 * ("Decoding seccomp profile failed: ...").
 */
export function parseSeccompProfile(json: string): SeccompProfile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
    if (!isRecord(parsed)) throw new Error('a profile must be a JSON object');
    if (parsed.defaultAction !== undefined && typeof parsed.defaultAction !== 'string') throw new Error('defaultAction must be a string');
    if (parsed.defaultErrnoRet !== undefined && typeof parsed.defaultErrnoRet !== 'number')
      throw new Error('defaultErrnoRet must be a number');
    checkStrings(parsed.architectures, 'architectures');
    checkStrings(parsed.flags, 'flags');
    if (parsed.archMap !== undefined && parsed.archMap !== null) {
      if (!Array.isArray(parsed.archMap)) throw new Error('archMap must be an array');
      for (const a of parsed.archMap) {
        if (!isRecord(a) || typeof a.architecture !== 'string') throw new Error('archMap entries need an architecture');
        checkStrings(a.subArchitectures, 'subArchitectures');
      }
    }
    if (parsed.syscalls !== undefined && parsed.syscalls !== null) {
      if (!Array.isArray(parsed.syscalls)) throw new Error('syscalls must be an array');
      for (const r of parsed.syscalls) {
        if (!isRecord(r)) throw new Error('syscalls entries must be objects');
        checkStrings(r.names, 'names');
        if (r.name !== undefined && typeof r.name !== 'string') throw new Error('name must be a string');
        if (typeof r.action !== 'string') throw new Error('each syscall rule needs an action');
        if (r.errnoRet !== undefined && typeof r.errnoRet !== 'number') throw new Error('errnoRet must be a number');
        if (r.args !== undefined && r.args !== null) {
          if (!Array.isArray(r.args)) throw new Error('args must be an array');
          for (const a of r.args) {
            if (!isRecord(a) || typeof a.index !== 'number' || typeof a.op !== 'string') throw new Error('args entries need index and op');
            if (a.value !== undefined && typeof a.value !== 'number') throw new Error('args value must be a number');
            if (a.valueTwo !== undefined && typeof a.valueTwo !== 'number') throw new Error('args valueTwo must be a number');
          }
        }
        checkFilter(r.includes, 'includes');
        checkFilter(r.excludes, 'excludes');
      }
    }
  } catch (err) {
    throw new InvalidParameter(`Decoding seccomp profile failed: ${errorMessage(err)}`);
  }
  return parsed as SeccompProfile;
}

/** Node's process.arch → libseccomp's native architecture name (the names used in `arches`). */
export function seccompNativeArch(nodeArch: string = osArch()): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: 'x86',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    s390: 's390',
    riscv64: 'riscv64',
    loong64: 'loongarch64',
    mips: 'mips',
    mipsel: 'mipsel',
    mips64el: 'mipsel64',
  };
  return map[nodeArch] ?? nodeArch;
}

/** libseccomp native name → the SCMP_ARCH_* constant of the main architecture. */
const NATIVE_TO_SCMP: Record<string, string> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  loongarch64: 'SCMP_ARCH_LOONGARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64',
  mipsel64n32: 'SCMP_ARCH_MIPSEL64N32',
  mipsel: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

function kernelAtLeast(kernelRelease: string, min: string): boolean {
  const [wantK, wantM] = parseKernelVersion(min);
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return false;
  const k = Number(m[1]);
  const maj = Number(m[2]);
  return k > wantK || (k === wantK && maj >= wantM);
}

/**
 * The LinuxSeccomp for one container: rules whose conditions hold for its capabilities, the host
 * architecture and kernel; archMap expanded for the host architecture. Undefined when the profile
 * has neither a default action nor rules (dockerd treats that as "no seccomp").
 */
export function resolveSeccompProfile(profile: SeccompProfile, ctx: SeccompContext): LinuxSeccomp | undefined {
  const rules = profile.syscalls ?? [];
  if (!profile.defaultAction && rules.length === 0) return undefined;
  const archMap = profile.archMap ?? [];
  const explicitArches = profile.architectures ?? [];
  if (explicitArches.length > 0 && archMap.length > 0) {
    throw new InvalidParameter(
      "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'",
    );
  }
  const arch = ctx.arch ?? seccompNativeArch();
  const kernel = ctx.kernelRelease ?? release();
  const architectures = [...explicitArches];
  const scmpArch = NATIVE_TO_SCMP[arch];
  const entry = scmpArch ? archMap.find((a) => a.architecture === scmpArch) : undefined;
  if (entry) architectures.push(entry.architecture, ...(entry.subArchitectures ?? []));

  const syscalls: LinuxSyscall[] = [];
  for (const rule of rules) {
    let names = rule.names ?? [];
    if (rule.name) {
      if (names.length > 0)
        throw new InvalidParameter("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
      names = [rule.name];
    }
    const ex = rule.excludes;
    if (ex) {
      if (ex.arches?.includes(arch)) continue;
      if (ex.caps?.some((c) => ctx.caps.includes(c))) continue;
      if (ex.minKernel && kernelAtLeast(kernel, ex.minKernel)) continue;
    }
    const inc = rule.includes;
    if (inc) {
      if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(arch)) continue;
      if (inc.caps && !inc.caps.every((c) => ctx.caps.includes(c))) continue;
      if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) continue;
    }
    const out: LinuxSyscall = { names: [...names], action: rule.action };
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0) {
      out.args = rule.args.map((a) => ({ index: a.index, value: a.value ?? 0, ...(a.valueTwo ? { valueTwo: a.valueTwo } : {}), op: a.op }));
    }
    syscalls.push(out);
  }

  const result: LinuxSeccomp = { defaultAction: profile.defaultAction ?? '' };
  if (profile.defaultErrnoRet !== undefined) result.defaultErrnoRet = profile.defaultErrnoRet;
  if (architectures.length > 0) result.architectures = architectures;
  if (profile.flags && profile.flags.length > 0) result.flags = [...profile.flags];
  if (profile.listenerPath) result.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) result.listenerMetadata = profile.listenerMetadata;
  result.syscalls = syscalls;
  return result;
}

/** The builtin profile resolved for a container with these (bounding) capabilities. */
export function defaultSeccompProfile(caps: readonly string[], host: Omit<SeccompContext, 'caps'> = {}): LinuxSeccomp {
  // The builtin profile always has a default action, so it always resolves.
  return resolveSeccompProfile(builtinSeccompProfile(), { ...host, caps }) as LinuxSeccomp;
}
