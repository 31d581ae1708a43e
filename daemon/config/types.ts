// berthd's configuration: the defaults, the checked DaemonConfig, the parse API's types and the
// value shapes both sources (flags, daemon.json) parse into.

import type { Ulimit as ApiUlimit } from '../containers/api-types';

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

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'panic';
export type CgroupDriver = 'cgroupfs' | 'systemd';

/** A default-ulimits entry: HostConfig's Ulimit (moby's units.Ulimit for both) with every field set. */
export type Ulimit = Required<ApiUlimit>;

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
  /** `--metrics-addr` host:port (checked: loopback unless metricsAllowRemote), or null: no metrics listener. */
  metricsAddr: string | null;
  /** `--dashboard-addr` loopback host:port (checked), or null: no dashboard. */
  dashboardAddr: string | null;
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

  // --- swarm mode ---
  /** `--cluster-store`: etcd endpoints (host:port), [] = no swarm mode. */
  clusterStore: string[];
  /** `--cluster-store-opt`: etcd.cacert, etcd.cert, etcd.key (paths). */
  clusterStoreOpts: Record<string, string>;
  /** `--cluster-node-ttl` seconds (the node liveness lease). */
  clusterNodeTtl: number;

  // --- networking ---
  /** `-b`: null = Berth's default bridge; 'none' = no default bridge network. */
  bridge: string | null;
  /** `--bip`, e.g. "172.18.0.1/16", or null. */
  bip: string | null;
  fixedCidr: string | null;
  /** `--ipv6`: the default bridge is dual stack. */
  ipv6: boolean;
  /** `--fixed-cidr-v6`: the default bridge's IPv6 subnet (else one of the daemon's ULA /64s). */
  fixedCidrV6: string | null;
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

export interface PoolValue {
  base: string;
  size: number;
}
export type Value =
  | string
  | boolean
  | number
  | string[]
  | Record<string, string>
  | Record<string, Ulimit>
  | PoolValue[]
  | Record<string, Record<string, string>>
  | JsonValue;

/** One source of settings (command line or file), keyed by daemon.json key. */
export type Layer = Map<string, Value>;

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
