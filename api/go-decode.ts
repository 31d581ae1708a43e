// Typed decoding of request bodies as dockerd's Go structs decode them (encoding/json): a value
// of the wrong JSON type is a 400 with Go's text ("json: cannot unmarshal number into Go struct
// field ContainerConfigWrapper.Image of type string"), field names match case-insensitively,
// unknown fields are dropped, null leaves a value field unset (a pointer, slice or map nil), and
// integers are checked against their Go type's range from the literal's exact text.
//
// Texts verified against the reference dockerd 20.10. Docker's int64/uint64 resource fields
// (typed Int64 in daemon/containers/api-types.ts, marked `exact` here) keep values beyond ±2^53
// as bigints; any other integer field refuses such a value rather than round it (docs/divergence.md).

import { InvalidParameter } from '../lib/errors';
import { int64, type Int64 } from '../lib/int64';
import { GoNumber, JsonSyntaxError, decodeGoJson } from './json';

type IntType = 'int64' | 'int' | 'int32' | 'uint16' | 'uint32' | 'uint64' | 'uint' | 'time.Duration' | 'os.FileMode';

export type GoType =
  | { k: 'string'; t?: string }
  | { k: 'bool' }
  /** exact: an Int64 field; beyond ±2^53 the value is a bigint. */
  | { k: 'int'; t: IntType; exact?: boolean }
  | { k: 'float' }
  | { k: 'slice'; of: GoType; t: string; len?: number }
  | { k: 'map'; of: GoType; t: string }
  | { k: 'struct'; name: string; t: string; fields: Readonly<Record<string, GoType>> }
  /** A pointer: null is kept as null (Go's nil), anything else decodes into the element. */
  | { k: 'ptr'; of: GoType }
  /** docker's strslice.StrSlice: a string or an array of strings. */
  | { k: 'strslice' }
  /** Go's struct{}: any object, decoded to {}. */
  | { k: 'empty' };

const INT_RANGE: Readonly<Record<IntType, readonly [bigint, bigint]>> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  int: [-(2n ** 63n), 2n ** 63n - 1n],
  'time.Duration': [-(2n ** 63n), 2n ** 63n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  'os.FileMode': [0n, 2n ** 32n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  uint: [0n, 2n ** 64n - 1n],
};

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

interface Ctx {
  /** The innermost Go struct holding the field being decoded ('' at top level). */
  struct: string;
  /** Dotted path of field names from the root, as Go's UnmarshalTypeError.Field. */
  path: string;
}

function goKind(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoNumber || typeof v === 'number') return 'number';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function typeName(t: GoType): string {
  switch (t.k) {
    case 'string':
      return t.t ?? 'string';
    case 'bool':
      return 'bool';
    case 'int':
      return t.t;
    case 'float':
      return 'float64';
    case 'slice':
    case 'map':
    case 'struct':
      return t.t;
    case 'ptr':
      return typeName(t.of);
    case 'strslice':
      return 'strslice.StrSlice';
    case 'empty':
      return 'struct {}';
  }
}

function typeError(what: string, t: GoType | string, ctx: Ctx): InvalidParameter {
  const type = typeof t === 'string' ? t : typeName(t);
  const into = ctx.struct !== '' || ctx.path !== '' ? `Go struct field ${ctx.struct}.${ctx.path}` : 'Go value';
  return new InvalidParameter(`json: cannot unmarshal ${what} into ${into} of type ${type}`);
}

function numberText(v: GoNumber | number): string {
  return v instanceof GoNumber ? v.text : String(v);
}

function decodeInt(v: GoNumber | number, t: { k: 'int'; t: IntType; exact?: boolean }, ctx: Ctx): Int64 {
  const text = numberText(v);
  const [min, max] = INT_RANGE[t.t];
  if (!/^-?\d+$/.test(text)) throw typeError(`number ${text}`, t, ctx);
  const n = BigInt(text);
  if (n < min || n > max) throw typeError(`number ${text}`, t, ctx);
  if (t.exact === true) return int64(n);
  if (n > MAX_EXACT || n < -MAX_EXACT) {
    const field = ctx.path === '' ? 'value' : ctx.path;
    throw new InvalidParameter(`${field}: ${text} cannot be stored exactly (Berth keeps integers within ±${Number.MAX_SAFE_INTEGER})`);
  }
  return Number(n);
}

/** The zero value Go leaves in a slice element decoded from null. */
function zeroOf(t: GoType): unknown {
  switch (t.k) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int':
    case 'float':
      return 0;
    case 'struct':
    case 'empty':
      return {};
    default:
      return null;
  }
}

/** Decodes `v` into Go type `t`. undefined means "left unset" (null into a value type). */
function decode(v: unknown, t: GoType, ctx: Ctx): unknown {
  if (v === null) {
    // Go: null is a no-op for values, nil for pointers, slices, maps and interfaces.
    return t.k === 'ptr' || t.k === 'slice' || t.k === 'map' || t.k === 'strslice' ? null : undefined;
  }
  const kind = goKind(v);
  switch (t.k) {
    case 'ptr':
      return decode(v, t.of, ctx);
    case 'string':
      if (typeof v !== 'string') throw typeError(kind, t, ctx);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw typeError(kind, t, ctx);
      return v;
    case 'int':
      if (!(v instanceof GoNumber) && typeof v !== 'number') throw typeError(kind, t, ctx);
      return decodeInt(v, t, ctx);
    case 'float': {
      if (!(v instanceof GoNumber) && typeof v !== 'number') throw typeError(kind, t, ctx);
      const n = Number(numberText(v));
      if (!Number.isFinite(n)) throw typeError(`number ${numberText(v)}`, t, ctx);
      return n;
    }
    case 'strslice':
      // StrSlice.UnmarshalJSON: []string first, then a lone string; the error is the string's
      // (with the field's context, as Go adds it to an Unmarshaler's type error).
      if (typeof v === 'string') return [v];
      if (Array.isArray(v) && v.every((e) => typeof e === 'string' || e === null))
        return (v as (string | null)[]).map((e) => (e === null ? '' : e));
      throw typeError(kind, 'string', ctx);
    case 'empty':
      if (kind !== 'object') throw typeError(kind, t, ctx);
      return {};
    case 'slice': {
      if (!Array.isArray(v)) throw typeError(kind, t, ctx);
      const out = (v as unknown[]).map((e) => {
        const d = decode(e, t.of, ctx);
        return d === undefined ? zeroOf(t.of) : d;
      });
      if (t.len !== undefined) {
        // A Go array: extra elements are dropped, missing ones are zero.
        out.length = Math.min(out.length, t.len);
        while (out.length < t.len) out.push(zeroOf(t.of));
      }
      return out;
    }
    case 'map': {
      if (kind !== 'object') throw typeError(kind, t, ctx);
      const out: Record<string, unknown> = {};
      for (const [key, e] of Object.entries(v as Record<string, unknown>)) {
        const d = decode(e, t.of, ctx);
        setOwn(out, key, d === undefined ? zeroOf(t.of) : d);
      }
      return out;
    }
    case 'struct':
      if (kind !== 'object') throw typeError(kind, t, ctx);
      return decodeStruct(v as Record<string, unknown>, t, ctx);
  }
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

const foldCache = new WeakMap<object, Map<string, string>>();

/** Go's field matching: the exact name, else a case-insensitive match. */
function fieldName(t: { fields: Readonly<Record<string, GoType>> }, key: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(t.fields, key)) return key;
  let folded = foldCache.get(t.fields);
  if (!folded) {
    folded = new Map(Object.keys(t.fields).map((k) => [k.toLowerCase(), k]));
    foldCache.set(t.fields, folded);
  }
  return folded.get(key.toLowerCase());
}

function decodeStruct(
  obj: Record<string, unknown>,
  t: { name: string; fields: Readonly<Record<string, GoType>> },
  ctx: Ctx,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, e] of Object.entries(obj)) {
    const name = fieldName(t, key);
    if (name === undefined) continue; // unknown fields are ignored, as Go does
    const d = decode(e, t.fields[name], { struct: t.name, path: ctx.path === '' ? name : `${ctx.path}.${name}` });
    if (d !== undefined) out[name] = d;
  }
  return out;
}

/** Decodes an already parsed (exact mode) JSON value into a Go type. */
export function decodeGoValue(value: unknown, t: GoType): unknown {
  return decode(value, t, { struct: '', path: '' });
}

/** Parses `text` in exact mode and decodes its first value into `t` (syntax errors as dockerd words them). */
export function decodeGoText(text: string, t: GoType): unknown {
  let parsed;
  try {
    parsed = decodeGoJson(text, { exact: true });
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new InvalidParameter(`invalid JSON: ${err.message}`);
    throw err;
  }
  if (parsed === 'EOF') throw new InvalidParameter('invalid JSON: got EOF while reading request body');
  return decodeGoValue(parsed.value, t);
}

// ---------------------------------------------------------------- dockerd's request types

const str: GoType = { k: 'string' };
const bool: GoType = { k: 'bool' };
const int64T: GoType = { k: 'int', t: 'int64' };
/** An Int64 field of the API types: kept exact beyond 2^53. */
const exactInt64: GoType = { k: 'int', t: 'int64', exact: true };
const exactUint64: GoType = { k: 'int', t: 'uint64', exact: true };
const int: GoType = { k: 'int', t: 'int' };
const uint16: GoType = { k: 'int', t: 'uint16' };
const strs: GoType = { k: 'slice', of: str, t: '[]string' };
const strMap: GoType = { k: 'map', of: str, t: 'map[string]string' };
const strslice: GoType = { k: 'strslice' };
/** A Go time.Duration (int64 nanoseconds), kept exact beyond 2^53. */
const duration: GoType = { k: 'int', t: 'time.Duration', exact: true };

const throttleDevices: GoType = {
  k: 'slice',
  t: '[]*blkiodev.ThrottleDevice',
  of: { k: 'ptr', of: { k: 'struct', name: 'ThrottleDevice', t: 'blkiodev.ThrottleDevice', fields: { Path: str, Rate: exactUint64 } } },
};

/** container.Resources, embedded (its fields promoted) in HostConfig and UpdateConfig. */

const RESOURCE_FIELDS: Readonly<Record<string, GoType>> = {
  CpuShares: exactInt64,
  Memory: exactInt64,
  NanoCpus: exactInt64,
  CgroupParent: str,
  BlkioWeight: uint16,
  BlkioWeightDevice: {
    k: 'slice',
    t: '[]*blkiodev.WeightDevice',
    of: { k: 'ptr', of: { k: 'struct', name: 'WeightDevice', t: 'blkiodev.WeightDevice', fields: { Path: str, Weight: uint16 } } },
  },
  BlkioDeviceReadBps: throttleDevices,
  BlkioDeviceWriteBps: throttleDevices,
  BlkioDeviceReadIOps: throttleDevices,
  BlkioDeviceWriteIOps: throttleDevices,
  CpuPeriod: exactInt64,
  CpuQuota: exactInt64,
  CpuRealtimePeriod: exactInt64,
  CpuRealtimeRuntime: exactInt64,
  CpusetCpus: str,
  CpusetMems: str,
  Devices: {
    k: 'slice',
    t: '[]container.DeviceMapping',
    of: {
      k: 'struct',
      name: 'DeviceMapping',
      t: 'container.DeviceMapping',
      fields: { PathOnHost: str, PathInContainer: str, CgroupPermissions: str },
    },
  },
  DeviceCgroupRules: strs,
  DeviceRequests: {
    k: 'slice',
    t: '[]container.DeviceRequest',
    of: {
      k: 'struct',
      name: 'DeviceRequest',
      t: 'container.DeviceRequest',
      fields: { Driver: str, Count: int, DeviceIDs: strs, Capabilities: { k: 'slice', of: strs, t: '[][]string' }, Options: strMap },
    },
  },
  KernelMemory: exactInt64,
  KernelMemoryTCP: exactInt64,
  MemoryReservation: exactInt64,
  MemorySwap: exactInt64,
  MemorySwappiness: { k: 'ptr', of: exactInt64 },
  OomKillDisable: { k: 'ptr', of: bool },
  PidsLimit: { k: 'ptr', of: exactInt64 },
  Ulimits: {
    k: 'slice',
    t: '[]*units.Ulimit',
    // A null element is a nil *Ulimit in Go; it is decoded as an empty one, which validation refuses.
    of: { k: 'struct', name: 'Ulimit', t: 'units.Ulimit', fields: { Name: str, Hard: exactInt64, Soft: exactInt64 } },
  },
  CpuCount: exactInt64,
  CpuPercent: exactInt64,
  IOMaximumIOps: exactUint64,
  IOMaximumBandwidth: exactUint64,
};

const RESTART_POLICY: GoType = {
  k: 'struct',
  name: 'RestartPolicy',
  t: 'container.RestartPolicy',
  fields: { Name: { k: 'string', t: 'container.RestartPolicyMode' }, MaximumRetryCount: int },
};

const MOUNT: GoType = {
  k: 'struct',
  name: 'Mount',
  t: 'mount.Mount',
  fields: {
    Type: { k: 'string', t: 'mount.Type' },
    Source: str,
    Target: str,
    ReadOnly: bool,
    Consistency: { k: 'string', t: 'mount.Consistency' },
    BindOptions: {
      k: 'ptr',
      of: {
        k: 'struct',
        name: 'BindOptions',
        t: 'mount.BindOptions',
        fields: {
          Propagation: { k: 'string', t: 'mount.Propagation' },
          NonRecursive: bool,
          CreateMountpoint: bool,
          ReadOnlyNonRecursive: bool,
          ReadOnlyForceRecursive: bool,
        },
      },
    },
    VolumeOptions: {
      k: 'ptr',
      of: {
        k: 'struct',
        name: 'VolumeOptions',
        t: 'mount.VolumeOptions',
        fields: {
          NoCopy: bool,
          Labels: strMap,
          DriverConfig: { k: 'ptr', of: { k: 'struct', name: 'Driver', t: 'mount.Driver', fields: { Name: str, Options: strMap } } },
          Subpath: str,
        },
      },
    },
    ImageOptions: { k: 'ptr', of: { k: 'struct', name: 'ImageOptions', t: 'mount.ImageOptions', fields: { Subpath: str } } },
    TmpfsOptions: {
      k: 'ptr',
      of: {
        k: 'struct',
        name: 'TmpfsOptions',
        t: 'mount.TmpfsOptions',
        fields: { SizeBytes: int64T, Mode: { k: 'int', t: 'os.FileMode' }, Options: { k: 'slice', of: strs, t: '[][]string' } },
      },
    },
  },
};

const HOST_CONFIG_FIELDS: Readonly<Record<string, GoType>> = {
  Binds: strs,
  ContainerIDFile: str,
  LogConfig: { k: 'struct', name: 'LogConfig', t: 'container.LogConfig', fields: { Type: str, Config: strMap } },
  NetworkMode: { k: 'string', t: 'container.NetworkMode' },
  PortBindings: {
    k: 'map',
    t: 'nat.PortMap',
    of: {
      k: 'slice',
      t: '[]nat.PortBinding',
      of: { k: 'struct', name: 'PortBinding', t: 'nat.PortBinding', fields: { HostIp: str, HostPort: str } },
    },
  },
  RestartPolicy: RESTART_POLICY,
  AutoRemove: bool,
  VolumeDriver: str,
  VolumesFrom: strs,
  ConsoleSize: { k: 'slice', of: { k: 'int', t: 'uint' }, t: '[2]uint', len: 2 },
  Annotations: strMap,
  CapAdd: strslice,
  CapDrop: strslice,
  CgroupnsMode: { k: 'string', t: 'container.CgroupnsMode' },
  Dns: strs,
  DnsOptions: strs,
  DnsSearch: strs,
  ExtraHosts: strs,
  GroupAdd: strs,
  IpcMode: { k: 'string', t: 'container.IpcMode' },
  Cgroup: { k: 'string', t: 'container.CgroupSpec' },
  Links: strs,
  OomScoreAdj: int,
  PidMode: { k: 'string', t: 'container.PidMode' },
  Privileged: bool,
  PublishAllPorts: bool,
  ReadonlyRootfs: bool,
  SecurityOpt: strs,
  StorageOpt: strMap,
  Tmpfs: strMap,
  UTSMode: { k: 'string', t: 'container.UTSMode' },
  UsernsMode: { k: 'string', t: 'container.UsernsMode' },
  ShmSize: exactInt64,
  Sysctls: strMap,
  Runtime: str,
  Isolation: { k: 'string', t: 'container.Isolation' },
  ...RESOURCE_FIELDS,
  Mounts: { k: 'slice', of: MOUNT, t: '[]mount.Mount' },
  MaskedPaths: strs,
  ReadonlyPaths: strs,
  Init: { k: 'ptr', of: bool },
};

const HEALTH_CONFIG: GoType = {
  k: 'struct',
  name: 'HealthConfig',
  t: 'container.HealthConfig',
  fields: { Test: strs, Interval: duration, Timeout: duration, StartPeriod: duration, StartInterval: duration, Retries: int },
};

const CONFIG_FIELDS: Readonly<Record<string, GoType>> = {
  Hostname: str,
  Domainname: str,
  User: str,
  AttachStdin: bool,
  AttachStdout: bool,
  AttachStderr: bool,
  ExposedPorts: { k: 'map', of: { k: 'empty' }, t: 'nat.PortSet' },
  Tty: bool,
  OpenStdin: bool,
  StdinOnce: bool,
  Env: strs,
  Cmd: strslice,
  Healthcheck: { k: 'ptr', of: HEALTH_CONFIG },
  ArgsEscaped: bool,
  Image: str,
  Volumes: { k: 'map', of: { k: 'empty' }, t: 'map[string]struct {}' },
  WorkingDir: str,
  Entrypoint: strslice,
  NetworkDisabled: bool,
  MacAddress: str,
  OnBuild: strs,
  Labels: strMap,
  StopSignal: str,
  StopTimeout: { k: 'ptr', of: int },
  Shell: strslice,
};

/** network.EndpointSettings (network connect's EndpointConfig, NetworkingConfig's entries). */
export const ENDPOINT_SETTINGS: GoType = {
  k: 'struct',
  name: 'EndpointSettings',
  t: 'network.EndpointSettings',
  fields: {
    IPAMConfig: {
      k: 'ptr',
      of: {
        k: 'struct',
        name: 'EndpointIPAMConfig',
        t: 'network.EndpointIPAMConfig',
        fields: { IPv4Address: str, IPv6Address: str, LinkLocalIPs: strs },
      },
    },
    Links: strs,
    Aliases: strs,
    DriverOpts: strMap,
    GwPriority: int,
    MacAddress: str,
    NetworkID: str,
    EndpointID: str,
    Gateway: str,
    IPAddress: str,
    IPPrefixLen: int,
    IPv6Gateway: str,
    GlobalIPv6Address: str,
    GlobalIPv6PrefixLen: int,
    DNSNames: strs,
  },
};

/** The body of POST /containers/create (runconfig.ContainerConfigWrapper). */
export const CREATE_BODY: GoType = {
  k: 'struct',
  name: 'ContainerConfigWrapper',
  t: 'runconfig.ContainerConfigWrapper',
  fields: {
    ...CONFIG_FIELDS,
    HostConfig: { k: 'ptr', of: { k: 'struct', name: 'HostConfig', t: 'container.HostConfig', fields: HOST_CONFIG_FIELDS } },
    NetworkingConfig: {
      k: 'ptr',
      of: {
        k: 'struct',
        name: 'NetworkingConfig',
        t: 'network.NetworkingConfig',
        fields: { EndpointsConfig: { k: 'map', of: { k: 'ptr', of: ENDPOINT_SETTINGS }, t: 'map[string]*network.EndpointSettings' } },
      },
    },
  },
};

/** The body of POST /containers/{id}/update (container.UpdateConfig). */
export const UPDATE_BODY: GoType = {
  k: 'struct',
  name: 'UpdateConfig',
  t: 'container.UpdateConfig',
  fields: { ...RESOURCE_FIELDS, RestartPolicy: RESTART_POLICY },
};

/** The body of POST /containers/{id}/exec (types.ExecConfig). */
export const EXEC_BODY: GoType = {
  k: 'struct',
  name: 'ExecConfig',
  t: 'types.ExecConfig',
  fields: {
    User: str,
    Privileged: bool,
    Tty: bool,
    ConsoleSize: { k: 'ptr', of: { k: 'slice', of: { k: 'int', t: 'uint' }, t: '[2]uint', len: 2 } },
    AttachStdin: bool,
    AttachStderr: bool,
    AttachStdout: bool,
    Detach: bool,
    DetachKeys: str,
    Env: strs,
    WorkingDir: str,
    Cmd: strslice,
  },
};

/** The container.Config of POST /commit. */
export const CONFIG_BODY: GoType = {
  k: 'struct',
  name: 'ContainerConfigWrapper',
  t: 'runconfig.ContainerConfigWrapper',
  fields: CONFIG_FIELDS,
};
