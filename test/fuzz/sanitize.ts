// Neuters request values that would reach the host outside the fuzz daemon's own directories:
// host-path binds and volume devices move into a temp dir, privileges and host namespaces go,
// ports bind to loopback, bridges get names of their own and subnets from a fuzz-only range,
// remote logging and registries point at a closed loopback port. Wrong-typed values are kept
// (they are what the fuzzer tests); only values the daemon could act on are rewritten.

export interface SanitizeContext {
  /** A temp directory that host-path binds and volume devices are redirected to. */
  safeDir: string;
  /** Picks the fuzz subnet and bridge name (the case's index). */
  index: number;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys of HostConfig / Resources that grant host access whatever their value. */
const DROP_KEYS = [
  'Privileged',
  'CapAdd',
  'Devices',
  'DeviceRequests',
  'DeviceCgroupRules',
  'SecurityOpt',
  'Sysctls',
  'CgroupParent',
  'Runtime',
  'MaskedPaths',
  'ReadonlyPaths',
  'PidMode',
  'IpcMode',
  'UTSMode',
  'UsernsMode',
  'CgroupnsMode',
  'Cgroup',
  'PublishAllPorts',
  'VolumeDriver',
  // A real-time CPU budget lets a container starve the host; the kernel takes it only where the
  // parent cgroup has one (dockerd's --cpu-rt-runtime), else both daemons answer 500 at start.
  'CpuRealtimeRuntime',
  'CpuRealtimePeriod',
];

const SAFE_LOG_DRIVERS = new Set(['json-file', 'local', 'none']);
const CLOSED = '127.0.0.1:1';
/** The repository every fuzzed push names: on the closed port, so nothing leaves the host. */
export const PUSH_TARGET = `${CLOSED}/x`;

export function fuzzSubnet(index: number): { subnet: string; gateway: string } {
  const n = ((index % 250) + 250) % 250;
  return { subnet: `10.213.${n}.0/24`, gateway: `10.213.${n}.1` };
}

/** A bind spec `src:dst[:mode]` with an absolute (host) source moved into safeDir. */
export function sanitizeBind(bind: string, safeDir: string): string {
  const i = bind.indexOf(':');
  if (i < 0) return bind;
  const src = bind.slice(0, i);
  // A named volume (no slash) stays: the daemon validates its name.
  if (!src.includes('/') && !src.includes('\\') && !src.startsWith('.')) return bind;
  return `${safeDir}${bind.slice(i)}`;
}

function sanitizeDriverOpts(opts: unknown, safeDir: string): void {
  if (!isObj(opts)) return;
  if ('device' in opts) opts.device = safeDir;
  if (typeof opts.type === 'string' && opts.type !== 'tmpfs' && opts.type !== 'none') opts.type = 'tmpfs';
}

function sanitizeMount(m: unknown, ctx: SanitizeContext): void {
  if (!isObj(m)) return;
  if (typeof m.Source === 'string' && m.Type !== 'volume' && m.Type !== 'tmpfs') m.Source = ctx.safeDir;
  if (typeof m.Source === 'string' && m.Type === 'volume' && m.Source.includes('/')) m.Source = ctx.safeDir;
  const vo = m.VolumeOptions;
  if (isObj(vo) && isObj(vo.DriverConfig)) {
    sanitizeDriverOpts(vo.DriverConfig.Options, ctx.safeDir);
    delete vo.DriverConfig.Name;
  }
  if (isObj(m.BindOptions)) delete m.BindOptions.Propagation;
}

/** HostConfig (create) or the Resources body of update, in place. */
export function sanitizeHostConfig(h: Obj, ctx: SanitizeContext): void {
  for (const k of DROP_KEYS) delete h[k];
  if (typeof h.NetworkMode === 'string' && /host/i.test(h.NetworkMode)) h.NetworkMode = 'none';
  if (Array.isArray(h.Binds)) h.Binds = h.Binds.map((b) => (typeof b === 'string' ? sanitizeBind(b, ctx.safeDir) : b));
  if (Array.isArray(h.Mounts)) for (const m of h.Mounts) sanitizeMount(m, ctx);
  if (isObj(h.PortBindings)) {
    for (const [k, v] of Object.entries(h.PortBindings)) {
      if (Array.isArray(v)) h.PortBindings[k] = v.map((b) => (isObj(b) ? { HostIp: '127.0.0.1', HostPort: '' } : b));
    }
  }
  if (isObj(h.LogConfig)) {
    const t = h.LogConfig.Type;
    if (typeof t === 'string' && !SAFE_LOG_DRIVERS.has(t)) h.LogConfig.Type = 'json-file';
  }
}

/** The JSON body of `operationId`, neutered in place (and returned). */
export function sanitizeBody(operationId: string, body: unknown, ctx: SanitizeContext): unknown {
  // A deep-nesting marker becomes an object once serialized: a login body naming no registry.
  if (operationId === 'SystemAuth' && typeof body === 'string' && body.startsWith('\u0001DEEP:')) return { serveraddress: CLOSED, a: body };
  if (!isObj(body)) return body;
  switch (operationId) {
    case 'ContainerCreate':
      if (isObj(body.HostConfig)) sanitizeHostConfig(body.HostConfig, ctx);
      break;
    case 'ContainerUpdate':
      sanitizeHostConfig(body, ctx);
      break;
    case 'ExecCreate':
      delete body.Privileged;
      break;
    case 'NetworkCreate': {
      const { subnet, gateway } = fuzzSubnet(ctx.index);
      if (typeof body.Driver === 'string' && body.Driver !== 'bridge') body.Driver = 'bridge';
      if (isObj(body.Options)) {
        for (const k of Object.keys(body.Options)) {
          // Adopting a host bridge by name (or binding to host addresses) stays out of reach.
          if (/bridge\.name|host_binding|parent/.test(k)) body.Options[k] = `fz${ctx.index % 100000}`;
        }
      }
      if (isObj(body.IPAM)) {
        delete body.IPAM.Driver;
        if (Array.isArray(body.IPAM.Config)) {
          for (const c of body.IPAM.Config) {
            if (!isObj(c)) continue;
            if (typeof c.Subnet === 'string') c.Subnet = subnet;
            if (typeof c.Gateway === 'string') c.Gateway = gateway;
            if (typeof c.IPRange === 'string') delete c.IPRange;
            delete c.AuxiliaryAddresses;
          }
        }
      }
      break;
    }
    case 'VolumeCreate':
      if (typeof body.Driver === 'string' && body.Driver !== 'local') body.Driver = 'local';
      sanitizeDriverOpts(body.DriverOpts, ctx.safeDir);
      break;
    case 'SystemAuth':
      // Absent means Docker Hub: always a closed port instead.
      body.serveraddress = CLOSED;
      break;
    default:
      break;
  }
  return body;
}

/** Query values of `operationId`, neutered in place: nothing is fetched from a remote. */
export function sanitizeQuery(operationId: string, q: Map<string, string[]>): void {
  const pin = (k: string, v: string): void => {
    if (q.has(k)) q.set(k, [v]);
  };
  switch (operationId) {
    case 'ImageCreate':
      pin('fromSrc', '-');
      pin('fromImage', `${CLOSED}/x`);
      break;
    case 'ImageBuild':
      pin('remote', `http://${CLOSED}/`);
      q.delete('networkmode');
      break;
    case 'PluginPull':
    case 'PluginUpgrade':
      pin('remote', `${CLOSED}/x`);
      break;
    case 'ImageSearch':
      // A term without a host would ask Docker Hub's index.
      q.set('term', [`${CLOSED}/${q.get('term')?.[0] ?? 'x'}`]);
      break;
    default:
      break;
  }
}

/**
 * A raw (hand-written or huge) body of `operationId`: left as is, except a login whose raw body is
 * a JSON object, which would otherwise name no registry and so reach Docker Hub.
 */
export function sanitizeRaw(operationId: string, raw: string): string {
  if (operationId !== 'SystemAuth') return raw;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return raw;
  }
  if (!isObj(v)) return raw;
  // Keep the text (deep or huge documents) where possible: the address goes in front.
  if (Object.keys(v).length > 0 && !('serveraddress' in v)) return raw.replace(/^(\s*)\{/, `$1{"serveraddress":"${CLOSED}",`);
  try {
    return JSON.stringify({ ...v, serveraddress: CLOSED });
  } catch {
    return JSON.stringify({ serveraddress: CLOSED });
  }
}

/** The request path of `operationId`, neutered: distribution inspect names a repository on a closed port. */
export function sanitizePath(operationId: string, p: string): string {
  if (operationId === 'DistributionInspect') return p.replace(/^\/distribution\//, `/distribution/${CLOSED}/`);
  return p;
}
