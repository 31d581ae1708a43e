// berthd's configuration: command-line flags and daemon.json, spelled and checked as dockerd
// spells and checks them (moby cmd/dockerd + daemon/config), so existing unit files, scripts and
// daemon.json files carry over. One table (FLAGS) describes every option once: its flag, its
// daemon.json key, its value kind and whether Berth uses it.
//
// Deliberate differences from dockerd (also in docs/config.md):
//  * daemon.json keys dockerd does not know only WARN (dockerd refuses to start); keys dockerd
//    knows but Berth ignores warn too, in a separate message. Flags dockerd knows but Berth
//    ignores are accepted with a warning; unknown flags are still an error.
//  * A few options whose silent omission would weaken isolation (userns-remap, selinux-enabled,
//    authorization-plugins, rootless, tls/tlsverify) refuse to start instead of warning.
//  * tcp:// hosts are refused: Berth serves unix sockets (and systemd-passed sockets) only.
//  * Some values dockerd checks only when it builds the default bridge (mtu, bip, address pools)
//    are checked here, so a bad value fails before anything is started.
//  * Defaults: data root /var/lib/berth, exec root /var/run/berth, config /etc/berth/daemon.json,
//    containerd namespace derived from the data root (see containerdNamespaceFor).

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { isIP, isIPv4 } from 'node:net';
import * as path from 'node:path';
import { RegistryConfigError, validateInsecureRegistry, validateMirror } from './registry-settings';

export const DEFAULT_HOST = 'unix:///var/run/docker.sock';
export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const DEFAULT_EXEC_ROOT = '/var/run/berth';
/** The pidfile when the exec root is the default one; otherwise `<exec-root>/berthd.pid`. */
export const DEFAULT_PIDFILE = '/var/run/berth.pid';
export const PIDFILE_NAME = 'berthd.pid';
export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';
export const DEFAULT_CONTAINERD_NAMESPACE = 'berth';
export const DEFAULT_GROUP = 'docker';
export const DEFAULT_MTU = 1500;
export const DEFAULT_SHUTDOWN_TIMEOUT = 15;
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Raised for anything wrong on the command line or in daemon.json; the message is for the user. */
export class ConfigError extends Error {
  /** 'usage': a command-line mistake (main prints "See 'berthd --help'."). 'config': a bad value or file. */
  constructor(
    message: string,
    readonly kind: 'usage' | 'config' = 'config',
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Until live restore is implemented: refused rather than accepted and ignored. */
export const LIVE_RESTORE_REFUSED =
  'live-restore is not supported by Berth yet: containers stop with the daemon; remove --live-restore or "live-restore": true';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'panic';
export type CgroupDriver = 'cgroupfs' | 'systemd';

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

export interface AddressPool {
  /** A CIDR, e.g. "10.10.0.0/16". */
  base: string;
  /** Prefix length of each network carved out of `base`. */
  size: number;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface Proxies {
  /** '' when unset. Falls back to HTTP_PROXY/http_proxy etc. from the environment, as dockerd does. */
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

export interface DaemonConfig {
  /** The daemon.json actually read, or null when the default file does not exist. */
  configFile: string | null;

  // --- API and process ---
  /** Normalised: `unix:///absolute/path`, `fd://` (all systemd sockets) or `fd://N`. Never empty. */
  hosts: string[];
  /** Group given the unix sockets; the api layer uses it only if it exists. '' = daemon's own group. */
  group: string;
  dataRoot: string;
  execRoot: string;
  /** null when `--pidfile ""` (no pidfile, as dockerd). */
  pidfile: string | null;
  /**
   * `<data-root>/tmp`, berthd's own scratch directory (emptied at start). $DOCKER_TMPDIR is
   * deliberately not honoured: dockerd never empties that directory, and main does.
   */
  tmpDir: string;
  /** Address (socket path) of an existing containerd; null = berthd decides (runs its own). */
  containerd: string | null;
  containerdNamespace: string;
  /** `debug` forces 'debug'. */
  logLevel: LogLevel;
  debug: boolean;
  shutdownTimeout: number; // seconds; -1 = wait for ever
  liveRestore: boolean;
  experimental: boolean;
  features: Record<string, boolean>;
  /** The daemon.json `builder` section, kept as given for the build code. */
  builder: { [key: string]: JsonValue };
  labels: string[];
  proxies: Proxies;
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  maxDownloadAttempts: number;
  /** `--insecure-registry`, validated and normalised (CIDRs masked, schemes dropped). */
  insecureRegistries: string[];
  /** `--registry-mirror`, validated, each with a trailing slash. */
  registryMirrors: string[];

  // --- networking ---
  /** `-b`: null = Berth's default bridge; 'none' = no default bridge network. */
  bridge: string | null;
  /** `--bip`, e.g. "172.18.0.1/16", or null. */
  bip: string | null;
  fixedCidr: string | null;
  mtu: number;
  iptables: boolean;
  ipForward: boolean;
  ipMasq: boolean;
  icc: boolean;
  /** Default host IP for published ports. */
  ip: string;
  userlandProxy: boolean;
  userlandProxyPath: string | null;
  /** [] = the built-in pools. */
  defaultAddressPools: AddressPool[];
  dns: string[];
  dnsSearch: string[];
  dnsOpts: string[];
  hostGatewayIps: string[];

  // --- containers ---
  logDriver: string;
  logOpts: Record<string, string>;
  defaultUlimits: Record<string, Ulimit>;
  cgroupParent: string | null;
  /** exec-opts as a map, keys lower-cased, e.g. { 'native.cgroupdriver': 'cgroupfs' }. */
  execOpts: Record<string, string>;
  cgroupDriver: CgroupDriver;
  defaultRuntime: string;
  init: boolean;
  initPath: string | null;
  defaultShmSize: number; // bytes
  defaultIpcMode: 'private' | 'shareable';
  defaultCgroupnsMode: 'host' | 'private';
  noNewPrivileges: boolean;
  /** 'builtin' (default), 'unconfined' or a path. */
  seccompProfile: string;
}

export type DaemonAction = 'run' | 'help' | 'version' | 'validate';

export interface ParseResult {
  config: DaemonConfig;
  warnings: string[];
  /** What main should do: serve, print usage, print the version, or stop after validating. */
  action: DaemonAction;
}

export interface ParseOptions {
  /** Reads daemon.json; throw an error with code ENOENT for a missing file. */
  readFile?: (p: string) => string;
  env?: NodeJS.ProcessEnv;
  /** Whether the host runs cgroup v2 (decides the default cgroupns mode); probed when omitted. */
  cgroupV2?: boolean;
}

// ---------------------------------------------------------------------------------------------
// The option table

type Kind =
  | 'string'
  | 'bool'
  | 'int'
  | 'list' // repeatable flag, JSON array of strings
  | 'map' // repeatable k=v flag, JSON object of strings
  | 'ulimit' // repeatable name=soft[:hard], JSON {name:{Name,Soft,Hard}}
  | 'pool' // repeatable base=…,size=…, JSON [{base,size}]
  | 'bytes' // "64m", JSON string
  | 'mapmap' // repeatable a=b=c, JSON {a:{b:c}}
  | 'json'; // file only, kept as JSON

/** 'yes': parsed and stored; 'warn': accepted and ignored; 'refuse': an error when set; 'cli': a flag that only steers this run. */
type Support = 'yes' | 'warn' | 'refuse' | 'cli';

interface Option {
  /** Flag name, or null for file-only keys. */
  flag: string | null;
  short?: string;
  /** daemon.json key (dockerd's "named option" name where it differs from the flag). */
  key: string;
  kind: Kind;
  support: Support;
  help?: string;
  /** Checks one value (one element of a list) and returns it normalised. */
  check?: (v: string) => string;
}

const opt = (flag: string | null, key: string | null, kind: Kind, support: Support, help?: string, extra: Partial<Option> = {}): Option => ({
  flag,
  key: key ?? flag ?? '',
  kind,
  support,
  help,
  ...extra,
});

const OPTIONS: Option[] = [
  // served and stored
  opt('host', 'hosts', 'list', 'yes', 'Daemon socket(s) to connect to', { short: 'H', check: checkHostSyntax }),
  opt('data-root', null, 'string', 'yes', `Root directory of persistent state (default "${DEFAULT_DATA_ROOT}")`),
  opt('exec-root', null, 'string', 'yes', `Root directory for execution state files (default "${DEFAULT_EXEC_ROOT}")`),
  opt('pidfile', null, 'string', 'yes', `Path to use for daemon PID file (default "${DEFAULT_PIDFILE}", or <exec-root>/${PIDFILE_NAME} with a non-default --exec-root)`, { short: 'p' }),
  opt('config-file', null, 'string', 'cli', `Daemon configuration file (default "${DEFAULT_CONFIG_FILE}")`),
  opt('containerd', null, 'string', 'yes', 'containerd grpc address (default: berthd runs its own containerd)'),
  opt('containerd-namespace', null, 'string', 'yes', `Containerd namespace to use (default "${DEFAULT_CONTAINERD_NAMESPACE}" for the default data root, else "berth-<hash of data root>")`),
  opt('group', null, 'string', 'yes', `Group for the unix socket (default "${DEFAULT_GROUP}")`, { short: 'G' }),
  opt('log-level', null, 'string', 'yes', 'Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")', { short: 'l' }),
  opt('debug', null, 'bool', 'yes', 'Enable debug mode', { short: 'D' }),
  opt('validate', null, 'bool', 'cli', 'Validate daemon configuration and exit'),
  opt('version', null, 'bool', 'cli', 'Print version information and quit', { short: 'v' }),
  opt('help', null, 'bool', 'cli', 'Print usage', { short: 'h' }),
  opt('bridge', null, 'string', 'yes', 'Attach containers to a network bridge ("none" disables the default bridge)', { short: 'b' }),
  opt('bip', null, 'string', 'yes', 'IPv4 address for the default bridge (CIDR)'),
  opt('fixed-cidr', null, 'string', 'yes', 'IPv4 subnet for the default bridge network'),
  opt('mtu', null, 'int', 'yes', `Set the containers network MTU (default ${DEFAULT_MTU})`),
  opt('iptables', null, 'bool', 'yes', 'Enable addition of iptables rules (default true)'),
  opt('ip-forward', null, 'bool', 'yes', 'Enable IP forwarding in system configuration (default true)'),
  opt('ip-masq', null, 'bool', 'yes', 'Enable IP masquerading for the default bridge network (default true)'),
  opt('icc', null, 'bool', 'yes', 'Enable inter-container communication for the default bridge network (default true)'),
  opt('ip', null, 'string', 'yes', 'Host IP for port publishing from the default bridge network (default 0.0.0.0)', { check: checkIp }),
  opt('userland-proxy', null, 'bool', 'yes', 'Use userland proxy for loopback traffic (default true)'),
  opt('userland-proxy-path', null, 'string', 'yes', 'Path to the userland proxy binary'),
  opt('default-address-pool', 'default-address-pools', 'pool', 'yes', 'Default address pools for node specific local networks'),
  opt('dns', null, 'list', 'yes', 'DNS server to use', { check: checkIp }),
  opt('dns-search', null, 'list', 'yes', 'DNS search domains to use', { check: checkDnsSearch }),
  opt('dns-opt', 'dns-opts', 'list', 'yes', 'DNS options to use'),
  opt('host-gateway-ip', 'host-gateway-ips', 'list', 'yes', "IP address that the special 'host-gateway' string in --add-host resolves to", { check: checkIp }),
  opt('log-driver', null, 'string', 'yes', 'Default driver for container logs (default "json-file")'),
  opt('log-opt', 'log-opts', 'map', 'yes', 'Default log driver options for containers'),
  opt('default-ulimit', 'default-ulimits', 'ulimit', 'yes', 'Default ulimits for containers'),
  opt('cgroup-parent', null, 'string', 'yes', 'Set parent cgroup for all containers'),
  opt('exec-opt', 'exec-opts', 'list', 'yes', 'Runtime execution options (native.cgroupdriver=cgroupfs|systemd)'),
  opt('label', 'labels', 'list', 'yes', 'Set key=value labels to the daemon', { check: checkLabel }),
  opt('default-runtime', null, 'string', 'yes', 'Default OCI runtime for containers (default "runc")'),
  opt('init', null, 'bool', 'yes', 'Run an init in the container to forward signals and reap processes'),
  opt('init-path', null, 'string', 'yes', 'Path to the init binary'),
  opt('shutdown-timeout', null, 'int', 'yes', `Set the default shutdown timeout (default ${DEFAULT_SHUTDOWN_TIMEOUT})`),
  opt('live-restore', null, 'bool', 'yes', 'Enable live restore of containers when the daemon stops'),
  opt('experimental', null, 'bool', 'yes', 'Enable experimental features'),
  opt('max-concurrent-downloads', null, 'int', 'yes', 'Set the max concurrent downloads (default 3)'),
  opt('insecure-registry', 'insecure-registries', 'list', 'yes', 'Enable insecure registry communication'),
  opt('registry-mirror', 'registry-mirrors', 'list', 'yes', 'Preferred Docker registry mirror'),
  opt('max-concurrent-uploads', null, 'int', 'yes', 'Set the max concurrent uploads (default 5)'),
  opt('max-download-attempts', null, 'int', 'yes', 'Set the max download attempts for each pull (default 5)'),
  opt('default-shm-size', null, 'bytes', 'yes', 'Default shm size for containers (default 64MiB)'),
  opt('default-ipc-mode', null, 'string', 'yes', 'Default mode for containers ipc ("shareable" | "private") (default "private")'),
  opt('default-cgroupns-mode', null, 'string', 'yes', 'Default mode for containers cgroup namespace ("host" | "private")'),
  opt('no-new-privileges', null, 'bool', 'yes', 'Set no-new-privileges by default for new containers'),
  opt('seccomp-profile', null, 'string', 'yes', 'Path to seccomp profile ("unconfined" disables the default profile)'),
  opt('http-proxy', null, 'string', 'yes', 'HTTP proxy URL to use for outgoing traffic'),
  opt('https-proxy', null, 'string', 'yes', 'HTTPS proxy URL to use for outgoing traffic'),
  opt('no-proxy', null, 'string', 'yes', 'Comma-separated list of hosts or IP addresses for which the proxy is skipped'),
  opt(null, 'features', 'json', 'yes'),
  opt(null, 'builder', 'json', 'yes'),

  // known to dockerd, refused because ignoring them would weaken isolation or access control
  opt('userns-remap', null, 'string', 'refuse'),
  opt('selinux-enabled', null, 'bool', 'refuse'),
  opt('authorization-plugin', 'authorization-plugins', 'list', 'refuse'),
  opt('rootless', null, 'bool', 'refuse'),
  opt('tls', null, 'bool', 'refuse'),
  opt('tlsverify', null, 'bool', 'refuse'),

  // known to dockerd, accepted and ignored with a warning
  opt('add-runtime', 'runtimes', 'list', 'warn'),
  opt('allow-nondistributable-artifacts', null, 'list', 'warn'),
  opt('api-cors-header', null, 'string', 'warn'),
  opt('bip6', null, 'string', 'warn'),
  opt('cdi-spec-dir', 'cdi-spec-dirs', 'list', 'warn'),
  opt('containerd-plugins-namespace', 'containerd-plugin-namespace', 'string', 'warn'),
  opt('cpu-rt-period', null, 'int', 'warn'),
  opt('cpu-rt-runtime', null, 'int', 'warn'),
  opt('cri-containerd', null, 'bool', 'warn'),
  opt('default-gateway', null, 'string', 'warn'),
  opt('default-gateway-v6', null, 'string', 'warn'),
  opt('default-network-opt', 'default-network-opts', 'mapmap', 'warn'),
  opt('fixed-cidr-v6', null, 'string', 'warn'),
  opt('firewall-backend', null, 'string', 'warn'),
  opt('ip6tables', null, 'bool', 'warn'),
  opt('ip-forward-no-drop', null, 'bool', 'warn'),
  opt('ipv6', null, 'bool', 'warn'),
  opt('log-format', null, 'string', 'warn'),
  opt('metrics-addr', null, 'string', 'warn'),
  opt('network-control-plane-mtu', null, 'int', 'warn'),
  opt('network-diagnostic-port', null, 'int', 'warn'),
  opt('node-generic-resource', 'node-generic-resources', 'list', 'warn'),
  opt('oom-score-adjust', null, 'int', 'warn'),
  opt('raw-logs', null, 'bool', 'warn'),
  opt('storage-driver', null, 'string', 'warn', undefined, { short: 's' }),
  opt('storage-opt', 'storage-opts', 'list', 'warn'),
  opt('swarm-default-advertise-addr', null, 'string', 'warn'),
  opt('tlscacert', null, 'string', 'warn'),
  opt('tlscert', null, 'string', 'warn'),
  opt('tlskey', null, 'string', 'warn'),
  opt(null, 'deprecated-key-path', 'json', 'warn'),
  opt(null, 'cluster-store', 'json', 'warn'),
  opt(null, 'cluster-advertise', 'json', 'warn'),
  opt(null, 'cluster-store-opts', 'json', 'warn'),
  opt(null, 'default-init', 'json', 'warn'),
  opt(null, 'resolv-conf', 'json', 'warn'),
];

const BY_FLAG = new Map(OPTIONS.filter((o) => o.flag !== null).map((o) => [o.flag as string, o]));
const BY_SHORT = new Map(OPTIONS.filter((o) => o.short !== undefined).map((o) => [o.short as string, o]));
const BY_KEY = new Map(OPTIONS.filter((o) => o.support !== 'cli').map((o) => [o.key, o]));

/** daemon.json keys whose object value is the option itself; other objects are flattened, as dockerd does. */
const FLAT_KEYS = new Set(['cluster-store-opts', 'default-network-opts', 'log-opts', 'runtimes', 'default-ulimits', 'features', 'builder']);

// ---------------------------------------------------------------------------------------------
// Values

interface PoolValue {
  base: string;
  size: number;
}
type Value = string | boolean | number | string[] | Record<string, string> | Record<string, Ulimit> | PoolValue[] | Record<string, Record<string, string>> | JsonValue;

/** One source of settings (command line or file), keyed by daemon.json key. */
type Layer = Map<string, Value>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// Command line (pflag semantics: --f v, --f=v, -f v, -fv, -f=v, combined bool shorthands)

interface CliResult {
  layer: Layer;
  /** Flags given, by option, in command-line order of first use. */
  given: Option[];
}

function flagDisplay(o: Option): string {
  return o.short ? `-${o.short}, --${o.flag}` : `--${o.flag}`;
}

function parseArgv(argv: string[]): CliResult {
  const layer: Layer = new Map();
  const given: Option[] = [];
  const set = (o: Option, raw: string): void => {
    try {
      addCliValue(layer, o, raw);
    } catch (err) {
      throw new ConfigError(`invalid argument ${JSON.stringify(raw)} for ${JSON.stringify(flagDisplay(o))} flag: ${(err as Error).message}`, 'usage');
    }
    if (!given.includes(o)) given.push(o);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--' && i === argv.length - 1) break;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') {
      throw new ConfigError('"berthd" accepts no argument(s).', 'usage');
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const o = BY_FLAG.get(name);
      if (!o) throw new ConfigError(`unknown flag: --${name}`, 'usage');
      if (eq !== -1) set(o, arg.slice(eq + 1));
      else if (o.kind === 'bool') set(o, 'true');
      else if (i + 1 < argv.length) set(o, argv[++i]);
      else throw new ConfigError(`flag needs an argument: --${name}`, 'usage');
      continue;
    }
    const shorts = arg.slice(1);
    for (let j = 0; j < shorts.length; j++) {
      const c = shorts[j];
      const o = BY_SHORT.get(c);
      if (!o) throw new ConfigError(`unknown shorthand flag: '${c}' in ${arg}`, 'usage');
      const rest = shorts.slice(j + 1);
      if (rest.startsWith('=')) {
        set(o, rest.slice(1));
        break;
      }
      if (o.kind === 'bool') {
        set(o, 'true');
        continue;
      }
      if (rest !== '') set(o, rest);
      else if (i + 1 < argv.length) set(o, argv[++i]);
      else throw new ConfigError(`flag needs an argument: '${c}' in -${shorts}`, 'usage');
      break;
    }
  }
  return { layer, given };
}

function parseBool(raw: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  throw new Error(`parsing ${JSON.stringify(raw)}: invalid syntax (want true or false)`);
}

function parseInteger(raw: string): number {
  if (!/^[+-]?[0-9]+$/.test(raw.trim())) throw new Error(`parsing ${JSON.stringify(raw)}: not an integer`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`parsing ${JSON.stringify(raw)}: value out of range`);
  return n;
}

function addCliValue(layer: Layer, o: Option, raw: string): void {
  const k = o.key;
  switch (o.kind) {
    case 'string':
      layer.set(k, o.check ? o.check(raw) : raw);
      return;
    case 'bool':
      layer.set(k, parseBool(raw));
      return;
    case 'int':
      layer.set(k, parseInteger(raw));
      return;
    case 'bytes':
      layer.set(k, parseBytes(raw));
      return;
    case 'list': {
      const list = (layer.get(k) as string[] | undefined) ?? [];
      list.push(o.check ? o.check(raw) : raw);
      layer.set(k, list);
      return;
    }
    case 'map': {
      const map = (layer.get(k) as Record<string, string> | undefined) ?? {};
      const eq = raw.indexOf('=');
      if (eq === -1) map[raw] = '';
      else map[raw.slice(0, eq)] = raw.slice(eq + 1);
      layer.set(k, map);
      return;
    }
    case 'mapmap': {
      const map = (layer.get(k) as Record<string, Record<string, string>> | undefined) ?? {};
      const m = /^([^=]*)=([^=]*)=(.*)$/s.exec(raw);
      if (!m) throw new Error(`invalid value ${JSON.stringify(raw)} for map option, should be root-key=key=value`);
      (map[m[1]] ??= {})[m[2]] = m[3];
      layer.set(k, map);
      return;
    }
    case 'ulimit': {
      const map = (layer.get(k) as Record<string, Ulimit> | undefined) ?? {};
      const u = parseUlimitFlag(raw);
      map[u.name] = u;
      layer.set(k, map);
      return;
    }
    case 'pool': {
      const pools = (layer.get(k) as PoolValue[] | undefined) ?? [];
      pools.push(parsePoolFlag(raw));
      layer.set(k, pools);
      return;
    }
    case 'json':
      throw new Error('not a flag');
  }
}

// ---------------------------------------------------------------------------------------------
// daemon.json

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v === 'boolean' ? 'boolean' : typeof v}`);

function decodeConfigText(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Reads a file as dockerd does: UTF-8, UTF-8 with BOM, or UTF-16 LE/BE with BOM. */
function defaultReadFile(p: string): string {
  const buf = fs.readFileSync(p);
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le');
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) {
    const swapped = Buffer.from(buf.subarray(2));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  return buf.toString('utf8');
}

/** Top-level keys plus the contents of non-flat objects (e.g. "proxies"), as dockerd's configValuesSet. */
function flattenFile(obj: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(obj)) {
    if (isRecord(v) && !FLAT_KEYS.has(k)) {
      for (const [k2, v2] of Object.entries(v)) out.set(k2, v2);
    } else {
      out.set(k, v);
    }
  }
  return out;
}

function fileValue(o: Option, v: unknown): Value {
  const k = o.key;
  const fail = (what: string): never => {
    throw new Error(`"${k}" must be ${what}, not ${describe(v)}`);
  };
  const str = (x: unknown, what: string): string => (typeof x === 'string' ? x : fail(what));
  switch (o.kind) {
    case 'string':
      return o.check ? o.check(str(v, 'a string')) : str(v, 'a string');
    case 'bool':
      return typeof v === 'boolean' ? v : fail('a boolean (true or false)');
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) ? v : fail('an integer');
    case 'bytes':
      return parseBytes(str(v, 'a size string such as "64m"'));
    case 'list': {
      if (!Array.isArray(v)) return fail('an array of strings');
      const bad = v.findIndex((x) => typeof x !== 'string');
      if (bad !== -1) throw new Error(`"${k}" must be an array of strings; element ${bad} is ${describe(v[bad])}`);
      return (v as string[]).map((x) => (o.check ? o.check(x) : x));
    }
    case 'map': {
      if (!isRecord(v)) return fail('an object of strings');
      const bad = Object.entries(v).find(([, x]) => typeof x !== 'string');
      if (bad) throw new Error(`"${k}" must be an object of strings; "${bad[0]}" is ${describe(bad[1])}`);
      return { ...(v as Record<string, string>) };
    }
    case 'mapmap': {
      if (!isRecord(v) || !Object.values(v).every((x) => isRecord(x) && Object.values(x).every((y) => typeof y === 'string'))) {
        return fail('an object of objects of strings');
      }
      return v as Record<string, Record<string, string>>;
    }
    case 'ulimit': {
      if (!isRecord(v)) return fail('an object such as {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}');
      const out: Record<string, Ulimit> = {};
      for (const [name, u] of Object.entries(v)) {
        if (!isRecord(u)) throw new Error(`"${k}.${name}" must be an object with Name, Soft and Hard, not ${describe(u)}`);
        const field = (f: string): unknown => Object.entries(u).find(([fk]) => fk.toLowerCase() === f)?.[1];
        const num = (f: string): number => {
          const x = field(f);
          if (x === undefined) return 0;
          if (typeof x !== 'number' || !Number.isSafeInteger(x)) throw new Error(`"${k}.${name}.${f}" must be an integer, not ${describe(x)}`);
          return x;
        };
        const given = field('name');
        if (given !== undefined && given !== name) throw new Error(`"${k}.${name}.Name" must be "${name}", not ${JSON.stringify(given)}`);
        out[name] = checkUlimit({ name, soft: num('soft'), hard: num('hard') });
      }
      return out;
    }
    case 'pool': {
      if (!Array.isArray(v)) return fail('an array of {"base": CIDR, "size": prefix length}');
      return v.map((p, i) => {
        if (!isRecord(p)) throw new Error(`"${k}[${i}]" must be an object with base and size, not ${describe(p)}`);
        const field = (f: string): unknown => Object.entries(p).find(([fk]) => fk.toLowerCase() === f)?.[1];
        const base = field('base');
        const size = field('size');
        if (typeof base !== 'string') throw new Error(`"${k}[${i}].base" must be a string, not ${describe(base)}`);
        if (typeof size !== 'number' || !Number.isSafeInteger(size)) throw new Error(`"${k}[${i}].size" must be an integer, not ${describe(size)}`);
        return { base, size };
      });
    }
    case 'json':
      return v as JsonValue;
  }
}

interface FileResult {
  layer: Layer;
  /** Every key set in the file (after flattening), with its JSON value, for conflict reports. */
  raw: Map<string, unknown>;
  warnings: string[];
}

function loadFile(file: string, text: string): FileResult {
  const wrap = (msg: string): ConfigError => new ConfigError(`unable to configure the Docker daemon with file ${file}: ${msg}`);
  const body = decodeConfigText(text).trim();
  const layer: Layer = new Map();
  const raw = new Map<string, unknown>();
  if (body === '') return { layer, raw, warnings: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw wrap(`invalid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) throw wrap(`the configuration must be a JSON object, not ${describe(parsed)}`);

  const unknown: string[] = [];
  const ignored: string[] = [];
  const misnamed: string[] = [];
  const refused: string[] = [];
  for (const [key, value] of flattenFile(parsed)) {
    if (value === null) continue; // as Go's decoder: null leaves the default in place
    const o = BY_KEY.get(key);
    if (!o) {
      const byFlag = BY_FLAG.get(key);
      if (byFlag && byFlag.support !== 'cli' && byFlag.key !== key) misnamed.push(`${key} (the key is "${byFlag.key}")`);
      else unknown.push(key);
      continue;
    }
    raw.set(key, value);
    if (o.support === 'warn') {
      ignored.push(key);
      continue;
    }
    if (o.support === 'refuse') {
      if (isSet(value)) refused.push(key);
      continue;
    }
    try {
      layer.set(key, fileValue(o, value));
    } catch (err) {
      throw wrap((err as Error).message);
    }
  }
  if (refused.length > 0) throw wrap(refusalMessage(refused));
  const warnings: string[] = [];
  const all = [...unknown.sort(), ...misnamed.sort()];
  if (all.length > 0) warnings.push(`${file}: the following directives don't match any configuration option and are ignored: ${all.join(', ')}`);
  if (ignored.length > 0) warnings.push(`${file}: the following directives are not supported by Berth and are ignored: ${ignored.sort().join(', ')}`);
  return { layer, raw, warnings };
}

function isSet(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  return v !== null && v !== undefined;
}

function refusalMessage(keys: string[]): string {
  return `not supported by Berth, refusing to start rather than ignore: ${keys.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Conflicts (findConfigurationConflicts): printed as Go's %v prints the values

function goFormat(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (isRecord(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goFormat(v[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}

function flagString(o: Option, v: Value): string {
  switch (o.kind) {
    case 'ulimit':
      return `[${Object.keys(v as Record<string, Ulimit>)
        .sort()
        .map((n) => {
          const u = (v as Record<string, Ulimit>)[n];
          return `${u.name}=${u.soft}:${u.hard}`;
        })
        .join(' ')}]`;
    case 'pool':
      return (v as PoolValue[]).map((p) => `${p.base} ${p.size}`).join(', ');
    default:
      return goFormat(v);
  }
}

/** user:password in a proxy URL is printed as xxxxx:xxxxx, as dockerd's MaskCredentials. */
function maskCredentials(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username === '' && u.password === '') return raw;
    u.username = 'xxxxx';
    u.password = 'xxxxx';
    return u.toString();
  } catch {
    return raw;
  }
}

function findConflicts(cli: CliResult, file: FileResult): string[] {
  const conflicts: string[] = [];
  const flags = [...cli.given].filter((o) => o.support !== 'cli').sort((a, b) => (a.flag as string).localeCompare(b.flag as string));
  for (const o of flags) {
    if (!file.raw.has(o.key)) continue;
    let flagValue = flagString(o, cli.layer.get(o.key) as Value);
    let fileValue = goFormat(file.raw.get(o.key));
    if (o.key === 'http-proxy' || o.key === 'https-proxy') {
      flagValue = maskCredentials(flagValue);
      fileValue = maskCredentials(fileValue);
    }
    conflicts.push(`${o.key}: (from flag: ${flagValue}, from file: ${fileValue})`);
  }
  return conflicts;
}

// ---------------------------------------------------------------------------------------------
// Value checks shared by flags and file

function checkHostSyntax(raw: string): string {
  const host = raw.trim();
  if (host === '') return host; // "" means the default, as dockerd
  const sep = host.indexOf('://');
  const proto = sep === -1 ? 'tcp' : host.slice(0, sep);
  const addr = sep === -1 ? host : host.slice(sep + 3);
  switch (proto) {
    case 'unix':
      if (addr.includes('://')) throw new Error(`invalid bind address (${host}): invalid unix address: ${addr}`);
      return host;
    case 'fd':
      if (addr !== '' && addr !== '*' && !/^[0-9]+$/.test(addr)) {
        throw new Error(`invalid bind address (${host}): failed to parse systemd fd address: should be a number: ${addr}`);
      }
      if (addr !== '' && addr !== '*' && Number(addr) < 3) {
        throw new Error(`invalid bind address (${host}): systemd passes sockets from fd 3 on`);
      }
      return host;
    case 'tcp':
      throw new Error(`invalid bind address (${host}): Berth serves the API on unix sockets only (unix:///path or fd:// from systemd); tcp is not supported`);
    default:
      throw new Error(`invalid bind address (${host}): unsupported proto '${proto}'`);
  }
}

/** Final form of a host: unix paths absolute, unix:// alone = the default socket, fd://* = fd://. */
function normaliseHost(host: string): string {
  if (host === '') return DEFAULT_HOST;
  const sep = host.indexOf('://');
  const proto = host.slice(0, sep);
  const addr = host.slice(sep + 3);
  if (proto === 'unix') return addr === '' ? DEFAULT_HOST : `unix://${path.resolve(addr)}`;
  return addr === '*' || addr === '' ? 'fd://' : `fd://${Number(addr)}`;
}

function checkIp(raw: string): string {
  const ip = raw.trim();
  if (isIP(ip) === 0) throw new Error(`${raw} is not an ip address`);
  return ip;
}

/** A domain for resolv.conf's search line; "." stands for the empty domain. */
function checkDnsSearch(raw: string): string {
  const v = raw.replace(/^ +| +$/g, '');
  if (v === '.') return v;
  const label = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
  const m = new RegExp(`^(${label}(?:\\.${label})*)\\.?$`).exec(v);
  if (!/[a-zA-Z]/.test(v) || !m || m[1].length >= 255) throw new Error(`${raw} is not a valid domain`);
  return m[1];
}

function checkLabel(raw: string): string {
  if (!raw.includes('=')) throw new Error(`bad attribute format: ${raw}`);
  const lower = raw.toLowerCase();
  if (lower.startsWith('com.docker.') || lower.startsWith('io.docker.') || lower.startsWith('org.dockerproject.')) {
    throw new Error(`label ${raw} is not allowed: the namespaces com.docker.*, io.docker.*, and org.dockerproject.* are reserved for internal use`);
  }
  return raw;
}

/** Resource names dockerd accepts in --default-ulimit (go-units). */
const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

function checkUlimit(u: Ulimit): Ulimit {
  if (!ULIMIT_NAMES.has(u.name)) throw new Error(`invalid ulimit type: ${u.name}`);
  if (u.soft > u.hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${u.soft} > ${u.hard}`);
  return u;
}

function parseUlimitFlag(raw: string): Ulimit {
  const eq = raw.indexOf('=');
  if (eq === -1) throw new Error(`invalid ulimit argument: ${raw}`);
  const name = raw.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const parts = raw.slice(eq + 1).split(':');
  if (parts.length > 2) throw new Error(`too many limit value arguments - ${raw.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const soft = parseInteger(parts[0]);
  const hard = parts.length === 2 ? parseInteger(parts[1]) : soft;
  return checkUlimit({ name, soft, hard });
}

function parsePoolFlag(raw: string): PoolValue {
  let base: string | undefined;
  let size: number | undefined;
  for (const field of raw.split(',')) {
    const eq = field.indexOf('=');
    if (eq === -1) throw new Error(`invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const val = field.slice(eq + 1);
    if (key === 'base') base = val;
    else if (key === 'size') {
      if (!/^[+-]?[0-9]+$/.test(val)) throw new Error(`invalid size value: ${JSON.stringify(raw)} (must be integer)`);
      size = Number(val);
    } else throw new Error(`unexpected key '${key}' in '${field}'`);
  }
  return { base: base ?? '', size: size ?? 0 };
}

interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

function parseCidr(raw: string): Cidr | null {
  const slash = raw.indexOf('/');
  if (slash === -1) return null;
  const address = raw.slice(0, slash);
  const prefixText = raw.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^[0-9]{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  return { address, prefix, family: family as 4 | 6 };
}

function checkPool(p: PoolValue): AddressPool {
  const cidr = parseCidr(p.base);
  if (!cidr) throw new ConfigError(`invalid base pool ${JSON.stringify(p.base)}: invalid CIDR address: ${p.base}`);
  const bits = cidr.family === 4 ? 32 : 128;
  if (p.size <= 0 || p.size < cidr.prefix || p.size > bits) throw new ConfigError(`invalid pools size: ${p.size}`);
  return { base: p.base, size: p.size };
}

/** docker/go-units RAMInBytes: "64m", "1.5GiB", "1024" (binary multiples). */
function parseBytes(raw: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(raw);
  if (!m) throw new Error(`invalid size: '${raw}'`);
  const mult: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
  const n = parseFloat(m[1]) * (m[2] ? mult[m[2].toLowerCase()] : 1);
  if (!Number.isFinite(n)) throw new Error(`invalid size: '${raw}'`);
  return Math.floor(n);
}

/** containerd's identifier rule for namespaces. */
function checkNamespace(ns: string): string {
  if (ns.length === 0 || ns.length > 76 || !/^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/.test(ns)) {
    throw new ConfigError(`invalid containerd-namespace ${JSON.stringify(ns)}: must match [A-Za-z0-9]+([._-][A-Za-z0-9]+)* and be at most 76 characters`);
  }
  return ns;
}

/** `berth` for the default data root, else `berth-<first 8 hex of sha256(data root)>`, so two daemons never share one. */
export function containerdNamespaceFor(dataRoot: string): string {
  const root = path.resolve(dataRoot);
  if (root === DEFAULT_DATA_ROOT) return DEFAULT_CONTAINERD_NAMESPACE;
  return `${DEFAULT_CONTAINERD_NAMESPACE}-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
}

/** The default pidfile for an exec root (see DEFAULT_PIDFILE). */
export function defaultPidfileFor(execRoot: string): string {
  const root = path.resolve(execRoot);
  return root === DEFAULT_EXEC_ROOT ? DEFAULT_PIDFILE : path.join(root, PIDFILE_NAME);
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'panic'];

function checkLogLevel(raw: string): LogLevel {
  const level = raw.toLowerCase();
  // dockerd's "warning" is logrus' spelling of warn
  const normalised = level === 'warning' ? 'warn' : level;
  if (!(LOG_LEVELS as readonly string[]).includes(normalised)) throw new ConfigError(`unable to parse logging level: ${raw}`);
  return normalised as LogLevel;
}

function parseExecOpts(list: string[]): { opts: Record<string, string>; cgroupDriver: CgroupDriver } {
  const opts: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    const k = (eq === -1 ? kv : kv.slice(0, eq)).trim().toLowerCase();
    const v = eq === -1 ? '' : kv.slice(eq + 1).trim();
    if (eq === -1 || k === '' || v === '') throw new ConfigError(`invalid exec-opt (${kv}): must be formatted 'opt=value'`);
    if (k === 'isolation') throw new ConfigError(`invalid exec-opt (${kv}): option '${k}' is only supported on windows`);
    if (k !== 'native.cgroupdriver') throw new ConfigError(`invalid exec-opt (${kv}): unknown option: '${k}'`);
    if (v !== 'cgroupfs' && v !== 'systemd') throw new ConfigError(`native.cgroupdriver option ${v} not supported`);
    opts[k] = v;
  }
  return { opts, cgroupDriver: (opts['native.cgroupdriver'] as CgroupDriver | undefined) ?? 'cgroupfs' };
}

/** Duplicate label keys must agree (GetConflictFreeLabels); duplicates collapse. */
function conflictFreeLabels(labels: string[]): string[] {
  const seen = new Map<string, string>();
  for (const l of labels) {
    const eq = l.indexOf('=');
    const k = l.slice(0, eq);
    const v = l.slice(eq + 1);
    const prev = seen.get(k);
    if (prev !== undefined && prev !== v) throw new ConfigError(`conflict labels for ${k}=${v} and ${k}=${prev}`);
    seen.set(k, v);
  }
  return [...seen].map(([k, v]) => `${k}=${v}`);
}

function absOrNull(p: string | undefined): string | null {
  return p === undefined || p === '' ? null : path.resolve(p);
}

function probeCgroupV2(): boolean {
  try {
    return fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point

/**
 * Parses berthd's command line and daemon.json into a checked DaemonConfig.
 * Throws ConfigError on any mistake. Only reads the config file (through opts.readFile) and, when
 * opts.cgroupV2 is not given, probes /sys/fs/cgroup.
 */
export function parseDaemonConfig(argv: string[], opts: ParseOptions = {}): ParseResult {
  const env = opts.env ?? process.env;
  const readFile = opts.readFile ?? defaultReadFile;
  const cli = parseArgv(argv);
  const warnings: string[] = [];
  const cliBool = (k: string): boolean => cli.layer.get(k) === true;

  let action: DaemonAction = 'run';
  if (cliBool('help')) action = 'help';
  else if (cliBool('version')) action = 'version';
  else if (cliBool('validate')) action = 'validate';

  const cliRefused = cli.given.filter((o) => o.support === 'refuse' && isSet(cli.layer.get(o.key)));
  if (cliRefused.length > 0) throw new ConfigError(refusalMessage(cliRefused.map((o) => `--${o.flag}`)));
  const cliIgnored = cli.given.filter((o) => o.support === 'warn');
  if (cliIgnored.length > 0) warnings.push(`the following flags are not supported by Berth and are ignored: ${cliIgnored.map((o) => `--${o.flag}`).join(', ')}`);

  // daemon.json: a missing default file is fine, a missing explicit one is not (dockerd).
  const explicitFile = cli.layer.has('config-file');
  const configFile = path.resolve(explicitFile ? (cli.layer.get('config-file') as string) : DEFAULT_CONFIG_FILE);
  let file: FileResult = { layer: new Map(), raw: new Map(), warnings: [] };
  let loadedFile: string | null = null;
  if (action === 'run' || action === 'validate') {
    let text: string | null = null;
    try {
      text = readFile(configFile);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== 'ENOENT' || explicitFile) {
        throw new ConfigError(`unable to configure the Docker daemon with file ${configFile}: open ${configFile}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
      }
    }
    if (text !== null) {
      file = loadFile(configFile, text);
      loadedFile = configFile;
      warnings.push(...file.warnings);
      const conflicts = findConflicts(cli, file);
      if (conflicts.length > 0) {
        throw new ConfigError(
          `unable to configure the Docker daemon with file ${configFile}: the following directives are specified both as a flag and in the configuration file: ${conflicts.join(', ')}`,
        );
      }
    }
  }

  // No key is in both layers now, so merging is a union.
  const merged: Layer = new Map([...file.layer, ...cli.layer]);
  const config = buildConfig(merged, { env, configFile: loadedFile, cgroupV2: opts.cgroupV2 ?? probeCgroupV2() });
  return { config, warnings, action };
}

function buildConfig(m: Layer, ctx: { env: NodeJS.ProcessEnv; configFile: string | null; cgroupV2: boolean }): DaemonConfig {
  const str = (k: string): string | undefined => m.get(k) as string | undefined;
  const bool = (k: string, dflt: boolean): boolean => (m.get(k) as boolean | undefined) ?? dflt;
  const int = (k: string): number | undefined => m.get(k) as number | undefined;
  const list = (k: string): string[] => (m.get(k) as string[] | undefined) ?? [];

  const dataRoot = path.resolve(str('data-root') || DEFAULT_DATA_ROOT);
  const execRoot = path.resolve(str('exec-root') || DEFAULT_EXEC_ROOT);
  const pidfileRaw = str('pidfile');
  const pidfile = pidfileRaw === undefined ? defaultPidfileFor(execRoot) : pidfileRaw === '' ? null : path.resolve(pidfileRaw);

  const hosts = [...new Set((list('hosts').length > 0 ? list('hosts') : ['']).map(normaliseHost))];

  const debug = bool('debug', false);
  const logLevel: LogLevel = debug ? 'debug' : checkLogLevel(str('log-level') ?? 'info');
  if (debug && str('log-level') !== undefined) checkLogLevel(str('log-level') as string);

  const bridge = str('bridge') || null;
  const bip = str('bip') || null;
  if (bridge !== null && bip !== null) throw new ConfigError('You specified -b & --bip, mutually exclusive options. Please specify only one');
  if (bip !== null) {
    const c = parseCidr(bip);
    if (!c || c.family !== 4) throw new ConfigError(`invalid bip ${JSON.stringify(bip)}: must be an IPv4 address with a prefix length, e.g. 172.18.0.1/16`);
  }
  const fixedCidr = str('fixed-cidr') || null;
  if (fixedCidr !== null) {
    const c = parseCidr(fixedCidr);
    if (!c || c.family !== 4) throw new ConfigError(`invalid fixed-cidr ${JSON.stringify(fixedCidr)}: must be an IPv4 subnet, e.g. 172.18.5.0/24`);
  }

  // dockerd: negative is invalid, 0 means "use the default"; the kernel takes 68..65535 for IPv4.
  let mtu = int('mtu') ?? DEFAULT_MTU;
  if (mtu < 0) throw new ConfigError(`invalid default MTU: ${mtu}`);
  if (mtu === 0) mtu = DEFAULT_MTU;
  if (mtu < 68 || mtu > 65535) throw new ConfigError(`invalid MTU number: ${mtu} (must be between 68 and 65535)`);

  const pools = ((m.get('default-address-pools') as PoolValue[] | undefined) ?? []).map(checkPool);

  const registryList = (k: string, check: (v: string) => string): string[] => {
    try {
      return [...new Set(list(k).map(check))];
    } catch (err) {
      if (err instanceof RegistryConfigError) throw new ConfigError(err.message);
      throw err;
    }
  };

  const nonNegative = (k: string, dflt: number, what: string): number => {
    const v = int(k) ?? dflt;
    if (v < 0) throw new ConfigError(`invalid ${what}: ${v}`);
    return v;
  };

  const exec = parseExecOpts(list('exec-opts'));

  const ipcMode = str('default-ipc-mode') || 'private';
  if (ipcMode !== 'private' && ipcMode !== 'shareable') {
    throw new ConfigError(`IPC mode "${ipcMode}" is not supported as default value; use "shareable" or "private"`);
  }
  const cgroupnsMode = str('default-cgroupns-mode') || (ctx.cgroupV2 ? 'private' : 'host');
  if (cgroupnsMode !== 'host' && cgroupnsMode !== 'private') {
    throw new ConfigError(`invalid default cgroup namespace (${cgroupnsMode}): use "host" or "private"`);
  }

  const features = (m.get('features') as JsonValue | undefined) ?? {};
  if (!isRecord(features) || !Object.values(features).every((v) => typeof v === 'boolean')) {
    throw new ConfigError('"features" must be an object of booleans, e.g. {"buildkit": true}');
  }
  const builder = (m.get('builder') as JsonValue | undefined) ?? {};
  if (!isRecord(builder)) throw new ConfigError('"builder" must be an object');
  const builderSection = builder as { [key: string]: JsonValue };

  const defaultRuntime = str('default-runtime') || 'runc';
  const logDriver = str('log-driver') || 'json-file';

  const shmSize = (m.get('default-shm-size') as number | undefined) ?? 0;

  const shutdownTimeout = int('shutdown-timeout') ?? DEFAULT_SHUTDOWN_TIMEOUT;

  // Accepting it and restarting containers anyway would break the promise the operator asked for.
  if (bool('live-restore', false)) throw new ConfigError(LIVE_RESTORE_REFUSED);

  const containerdAddr = str('containerd');
  const envProxy = (upper: string): string => ctx.env[upper] ?? ctx.env[upper.toLowerCase()] ?? '';

  return {
    configFile: ctx.configFile,
    hosts,
    group: str('group') ?? DEFAULT_GROUP,
    dataRoot,
    execRoot,
    pidfile,
    tmpDir: path.join(dataRoot, 'tmp'),
    containerd: containerdAddr ? path.resolve(containerdAddr.replace(/^unix:\/\//, '')) : null,
    containerdNamespace: str('containerd-namespace') ? checkNamespace(str('containerd-namespace') as string) : containerdNamespaceFor(dataRoot),
    logLevel,
    debug,
    shutdownTimeout: shutdownTimeout < 0 ? -1 : shutdownTimeout,
    liveRestore: bool('live-restore', false),
    experimental: bool('experimental', false),
    features: features as Record<string, boolean>,
    builder: builderSection,
    labels: conflictFreeLabels(list('labels')),
    proxies: {
      httpProxy: str('http-proxy') ?? envProxy('HTTP_PROXY'),
      httpsProxy: str('https-proxy') ?? envProxy('HTTPS_PROXY'),
      noProxy: str('no-proxy') ?? envProxy('NO_PROXY'),
    },
    maxConcurrentDownloads: nonNegative('max-concurrent-downloads', 3, 'max concurrent downloads'),
    maxConcurrentUploads: nonNegative('max-concurrent-uploads', 5, 'max concurrent uploads'),
    maxDownloadAttempts: nonNegative('max-download-attempts', 5, 'max download attempts'),
    insecureRegistries: registryList('insecure-registries', validateInsecureRegistry),
    registryMirrors: registryList('registry-mirrors', validateMirror),

    bridge,
    bip,
    fixedCidr,
    mtu,
    iptables: bool('iptables', true),
    ipForward: bool('ip-forward', true),
    ipMasq: bool('ip-masq', true),
    icc: bool('icc', true),
    ip: str('ip') || '0.0.0.0',
    userlandProxy: bool('userland-proxy', true),
    userlandProxyPath: absOrNull(str('userland-proxy-path')),
    defaultAddressPools: pools,
    dns: list('dns'),
    dnsSearch: list('dns-search'),
    dnsOpts: list('dns-opts'),
    hostGatewayIps: list('host-gateway-ips'),

    logDriver,
    logOpts: (m.get('log-opts') as Record<string, string> | undefined) ?? {},
    defaultUlimits: (m.get('default-ulimits') as Record<string, Ulimit> | undefined) ?? {},
    cgroupParent: str('cgroup-parent') || null,
    execOpts: exec.opts,
    cgroupDriver: exec.cgroupDriver,
    defaultRuntime,
    init: bool('init', false),
    initPath: absOrNull(str('init-path')),
    defaultShmSize: shmSize > 0 ? shmSize : DEFAULT_SHM_SIZE,
    defaultIpcMode: ipcMode,
    defaultCgroupnsMode: cgroupnsMode,
    noNewPrivileges: bool('no-new-privileges', false),
    seccompProfile: str('seccomp-profile') || 'builtin',
  };
}

// ---------------------------------------------------------------------------------------------
// Usage

const ARG_NAMES: Record<Kind, string> = {
  string: 'string',
  bool: '',
  int: 'int',
  list: 'list',
  map: 'map',
  ulimit: 'ulimit',
  pool: 'pool-options',
  bytes: 'bytes',
  mapmap: 'mapmap',
  json: '',
};

/** The text `berthd --help` prints: supported flags only (ignored dockerd flags are still accepted). */
export function usage(): string {
  const rows = OPTIONS.filter((o) => o.flag !== null && (o.support === 'yes' || o.support === 'cli'))
    .sort((a, b) => (a.flag as string).localeCompare(b.flag as string))
    .map((o) => {
      const names = `${o.short ? `-${o.short}, ` : '    '}--${o.flag}${ARG_NAMES[o.kind] ? ` ${ARG_NAMES[o.kind]}` : ''}`;
      return { names, help: o.help ?? '' };
    });
  const width = Math.max(...rows.map((r) => r.names.length)) + 3;
  return [
    '',
    'Usage:\tberthd [OPTIONS]',
    '',
    'A container engine serving the Docker Engine API, on containerd.',
    '',
    'Options:',
    ...rows.map((r) => `  ${r.names.padEnd(width)}${r.help}`),
    '',
  ].join('\n');
}
