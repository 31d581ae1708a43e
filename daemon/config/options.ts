// The option table: every dockerd option once, with its flag, its daemon.json key, its value kind
// and whether Berth uses it.

import {
  DEFAULT_CONFIG_FILE,
  DEFAULT_CONTAINERD_NAMESPACE,
  DEFAULT_DATA_ROOT,
  DEFAULT_EXEC_ROOT,
  DEFAULT_GROUP,
  DEFAULT_MTU,
  DEFAULT_PIDFILE,
  DEFAULT_SHUTDOWN_TIMEOUT,
  PIDFILE_NAME,
} from './types';
import { checkDnsSearch, checkHostSyntax, checkIp, checkLabel } from './checks';

export type Kind =
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

export interface Option {
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

const opt = (
  flag: string | null,
  key: string | null,
  kind: Kind,
  support: Support,
  help?: string,
  extra: Partial<Option> = {},
): Option => ({
  flag,
  key: key ?? flag ?? '',
  kind,
  support,
  help,
  ...extra,
});

export const OPTIONS: Option[] = [
  // served and stored
  opt('host', 'hosts', 'list', 'yes', 'Daemon socket(s) to connect to', { short: 'H', check: checkHostSyntax }),
  opt('data-root', null, 'string', 'yes', `Root directory of persistent state (default "${DEFAULT_DATA_ROOT}")`),
  opt('exec-root', null, 'string', 'yes', `Root directory for execution state files (default "${DEFAULT_EXEC_ROOT}")`),
  opt(
    'pidfile',
    null,
    'string',
    'yes',
    `Path to use for daemon PID file (default "${DEFAULT_PIDFILE}", or <exec-root>/${PIDFILE_NAME} with a non-default --exec-root)`,
    { short: 'p' },
  ),
  opt('config-file', null, 'string', 'cli', `Daemon configuration file (default "${DEFAULT_CONFIG_FILE}")`),
  opt('containerd', null, 'string', 'yes', 'containerd grpc address (default: berthd runs its own containerd)'),
  opt(
    'containerd-namespace',
    null,
    'string',
    'yes',
    `Containerd namespace to use (default "${DEFAULT_CONTAINERD_NAMESPACE}" for the default data root, else "berth-<hash of data root>")`,
  ),
  opt('group', null, 'string', 'yes', `Group for the unix socket (default "${DEFAULT_GROUP}")`, { short: 'G' }),
  opt('log-level', null, 'string', 'yes', 'Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")', { short: 'l' }),
  opt('debug', null, 'bool', 'yes', 'Enable debug mode', { short: 'D' }),
  opt('validate', null, 'bool', 'cli', 'Validate daemon configuration and exit'),
  opt('version', null, 'bool', 'cli', 'Print version information and quit', { short: 'v' }),
  opt('help', null, 'bool', 'cli', 'Print usage', { short: 'h' }),
  opt('bridge', null, 'string', 'yes', 'Attach containers to a network bridge ("none" disables the default bridge)', { short: 'b' }),
  opt('bip', null, 'string', 'yes', 'IPv4 address for the default bridge (CIDR)'),
  opt('fixed-cidr', null, 'string', 'yes', 'IPv4 subnet for the default bridge network'),
  opt('fixed-cidr-v6', null, 'string', 'yes', 'IPv6 subnet for the default bridge network'),
  opt('ipv6', null, 'bool', 'yes', 'Enable IPv6 on the default bridge network'),
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
  opt('host-gateway-ip', 'host-gateway-ips', 'list', 'yes', "IP address that the special 'host-gateway' string in --add-host resolves to", {
    check: checkIp,
  }),
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
  opt('metrics-addr', null, 'string', 'yes', 'Set default address and port to serve the metrics api on'),
  // Berth's own: a metrics listener beyond loopback is an explicit choice.
  opt('metrics-allow-remote', null, 'bool', 'yes', 'Allow --metrics-addr to be a non-loopback address'),
  // Berth's own: the web dashboard (loopback only; the page URL with its token goes to the log).
  opt('dashboard-addr', null, 'string', 'yes', 'Serve the web dashboard on this loopback address and port'),
  opt('experimental', null, 'bool', 'yes', 'Enable experimental features'),
  // Swarm mode on etcd (docs/swarm.md): dockerd's legacy cluster-store keys, and Berth's own TTL.
  opt('cluster-store', null, 'string', 'yes', 'Swarm mode cluster store: etcd://host:port[,host:port...]'),
  opt('cluster-store-opt', 'cluster-store-opts', 'map', 'yes', 'Cluster store options (etcd.cacert, etcd.cert, etcd.key)'),
  opt('cluster-node-ttl', null, 'int', 'yes', 'Seconds before a swarm node that stopped answering is shown down (default 15)'),
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
  opt('firewall-backend', null, 'string', 'warn'),
  opt('ip6tables', null, 'bool', 'warn'),
  opt('ip-forward-no-drop', null, 'bool', 'warn'),
  opt('log-format', null, 'string', 'warn'),
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
  opt(null, 'cluster-advertise', 'json', 'warn'),
  opt(null, 'default-init', 'json', 'warn'),
  opt(null, 'resolv-conf', 'json', 'warn'),
];

export const BY_FLAG = new Map(OPTIONS.filter((o) => o.flag !== null).map((o) => [o.flag as string, o]));
export const BY_SHORT = new Map(OPTIONS.filter((o) => o.short !== undefined).map((o) => [o.short as string, o]));
export const BY_KEY = new Map(OPTIONS.filter((o) => o.support !== 'cli').map((o) => [o.key, o]));

/** daemon.json keys whose object value is the option itself; other objects are flattened, as dockerd does. */
export const FLAT_KEYS = new Set([
  'cluster-store-opts',
  'default-network-opts',
  'log-opts',
  'runtimes',
  'default-ulimits',
  'features',
  'builder',
]);
