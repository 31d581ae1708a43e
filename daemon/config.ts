// berthd's configuration: command-line flags and daemon.json, spelled and checked as dockerd
// spells and checks them (moby cmd/dockerd + daemon/config), so existing unit files, scripts and
// daemon.json files carry over. One table (config/options.ts) describes every option once: its flag,
// its daemon.json key, its value kind and whether Berth uses it. This module is the entry point
// (parse, merge, build the DaemonConfig, usage); config/cli.ts reads flags, config/file.ts
// daemon.json, config/checks.ts holds the value checks and config/types.ts the shapes.
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

import * as path from 'node:path';
import { RegistryConfigError, validateInsecureRegistry, validateMirror } from './registry-settings';
import {
  ConfigError,
  DEFAULT_CONFIG_FILE,
  DEFAULT_DATA_ROOT,
  DEFAULT_EXEC_ROOT,
  DEFAULT_GROUP,
  DEFAULT_MTU,
  DEFAULT_SHM_SIZE,
  DEFAULT_SHUTDOWN_TIMEOUT,
  type DaemonAction,
  type DaemonConfig,
  type JsonValue,
  type Layer,
  type LogLevel,
  type ParseOptions,
  type ParseResult,
  type PoolValue,
  type Ulimit,
  isRecord,
} from './config/types';
import { type Kind, OPTIONS } from './config/options';
import { parseArgv } from './config/cli';
import { type FileResult, defaultReadFile, findConflicts, isSet, loadFile, refusalMessage } from './config/file';
import {
  absOrNull,
  checkLogLevel,
  checkMetricsAddr,
  checkDashboardAddr,
  checkNamespace,
  checkPool,
  conflictFreeLabels,
  containerdNamespaceFor,
  defaultPidfileFor,
  normaliseHost,
  parseCidr,
  parseExecOpts,
} from './config/checks';
import { cgroupVersion } from './system/host';
import { compareStrings } from '../lib/order';
import { DEFAULT_RUNTIME, isStockRuntime } from './runtimes';
export {
  type AddressPool,
  type CgroupDriver,
  ConfigError,
  DEFAULT_CONFIG_FILE,
  DEFAULT_CONTAINERD_NAMESPACE,
  DEFAULT_DATA_ROOT,
  DEFAULT_EXEC_ROOT,
  DEFAULT_GROUP,
  DEFAULT_HOST,
  DEFAULT_MTU,
  DEFAULT_PIDFILE,
  DEFAULT_SHM_SIZE,
  DEFAULT_SHUTDOWN_TIMEOUT,
  type DaemonAction,
  type DaemonConfig,
  type JsonValue,
  type LogLevel,
  PIDFILE_NAME,
  type ParseOptions,
  type ParseResult,
  type Proxies,
  type Ulimit,
} from './config/types';
export { containerdNamespaceFor, defaultPidfileFor } from './config/checks';

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
  if (cliIgnored.length > 0)
    warnings.push(`the following flags are not supported by Berth and are ignored: ${cliIgnored.map((o) => `--${o.flag}`).join(', ')}`);

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
        throw new ConfigError(
          `unable to configure the Docker daemon with file ${configFile}: open ${configFile}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`,
        );
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
  const config = buildConfig(merged, { env, configFile: loadedFile, cgroupV2: opts.cgroupV2 ?? cgroupVersion() === '2' });
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
  if (bridge !== null && bip !== null)
    throw new ConfigError('You specified -b & --bip, mutually exclusive options. Please specify only one');
  if (bip !== null) {
    const c = parseCidr(bip);
    if (!c || c.family !== 4)
      throw new ConfigError(`invalid bip ${JSON.stringify(bip)}: must be an IPv4 address with a prefix length, e.g. 172.18.0.1/16`);
  }
  const fixedCidr = str('fixed-cidr') || null;
  if (fixedCidr !== null) {
    const c = parseCidr(fixedCidr);
    if (!c || c.family !== 4)
      throw new ConfigError(`invalid fixed-cidr ${JSON.stringify(fixedCidr)}: must be an IPv4 subnet, e.g. 172.18.5.0/24`);
  }

  const fixedCidrV6 = str('fixed-cidr-v6') || null;
  if (fixedCidrV6 !== null) {
    const c = parseCidr(fixedCidrV6);
    if (!c || c.family !== 6)
      throw new ConfigError(`invalid fixed-cidr-v6 ${JSON.stringify(fixedCidrV6)}: must be an IPv6 subnet, e.g. fd00:1::/64`);
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

  const defaultRuntime = str('default-runtime') || DEFAULT_RUNTIME;
  // moby's config validation: the default must be a runtime the daemon has.
  if (!isStockRuntime(defaultRuntime)) throw new ConfigError(`specified default runtime '${defaultRuntime}' does not exist`);
  const logDriver = str('log-driver') || 'json-file';

  const shmSize = (m.get('default-shm-size') as number | undefined) ?? 0;

  const shutdownTimeout = int('shutdown-timeout') ?? DEFAULT_SHUTDOWN_TIMEOUT;

  // Accepting it and restarting containers anyway would break the promise the operator asked for.

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
    containerdNamespace: str('containerd-namespace')
      ? checkNamespace(str('containerd-namespace') as string)
      : containerdNamespaceFor(dataRoot),
    logLevel,
    debug,
    shutdownTimeout: shutdownTimeout < 0 ? -1 : shutdownTimeout,
    liveRestore: bool('live-restore', false),
    metricsAddr: checkMetricsAddr(str('metrics-addr') || null, bool('metrics-allow-remote', false)),
    dashboardAddr: checkDashboardAddr(str('dashboard-addr') || null),
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

    clusterStore: parseClusterStore(str('cluster-store') ?? ''),
    clusterStoreOpts: checkClusterStoreOpts((m.get('cluster-store-opts') as Record<string, string> | undefined) ?? {}),
    clusterNodeTtl: checkNodeTtl(int('cluster-node-ttl')),

    bridge,
    bip,
    fixedCidr,
    ipv6: bool('ipv6', false),
    fixedCidrV6,
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

/** `etcd://host:port[,host:port…]` as endpoints; '' = none. */
export function parseClusterStore(v: string): string[] {
  if (v === '') return [];
  const m = /^etcd:\/\/(.+)$/.exec(v);
  if (!m) throw new ConfigError(`invalid cluster-store ${JSON.stringify(v)}: use etcd://host:port[,host:port...]`);
  const endpoints = m[1].split(',');
  for (const e of endpoints) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(e)) {
      throw new ConfigError(`invalid cluster-store endpoint ${JSON.stringify(e)}: use host:port`);
    }
  }
  return endpoints;
}

const CLUSTER_STORE_OPTS = ['etcd.cacert', 'etcd.cert', 'etcd.key'];

function checkClusterStoreOpts(opts: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(opts)) {
    if (!CLUSTER_STORE_OPTS.includes(k))
      throw new ConfigError(`unknown cluster-store-opt ${JSON.stringify(k)} (known: ${CLUSTER_STORE_OPTS.join(', ')})`);
    if (!path.isAbsolute(v)) throw new ConfigError(`cluster-store-opt ${k} must be an absolute path`);
  }
  if ((opts['etcd.cert'] === undefined) !== (opts['etcd.key'] === undefined)) {
    throw new ConfigError('cluster-store-opt etcd.cert and etcd.key go together');
  }
  return opts;
}

function checkNodeTtl(v: number | undefined): number {
  if (v === undefined) return 15;
  if (v < 2 || v > 3600) throw new ConfigError(`invalid cluster-node-ttl ${v}: must be between 2 and 3600 seconds`);
  return v;
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
    .sort((a, b) => compareStrings(a.flag as string, b.flag as string))
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
