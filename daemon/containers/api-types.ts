// The Engine API's container types: the spec's definitions, generated at build time from
// api/spec/engine-api-v1.53.yaml into daemon/api-types/gen/engine-api.ts (scripts/gen-api-types.mjs).
// One shape per type; the only departures from the spec are stated where they are made:
// - int64/uint64 fields that the body decoder keeps exact (api/go-decode.ts `exact`) are Int64,
//   a bigint beyond ±2^53 (the generator says number);
// - slices, maps and pointers that Go leaves nil (JSON null) in request bodies and in image configs
//   Docker wrote, where the code handles that null (ConfigNils, HealthConfig.Test, MaskedPaths...);
// - definitions the spec marks x-nullable are taken without their null (what Berth answers).
import type { Int64 } from '../../lib/int64';
import type { definitions } from '../api-types/gen/engine-api';

/** A spec definition, without the null of an x-nullable definition. */
type Def<K extends keyof definitions> = NonNullable<definitions[K]>;
/** T with the fields of O replacing its own. */
type With<T, O> = Omit<T, keyof O> & O;
/** T with the fields K as Int64 (keeping their null, if any). */
type Int64Fields<T, K extends keyof T> = With<T, { [P in K]?: Int64 | Extract<T[P], null> }>;

/** Test may be Go's nil slice (JSON null), from a request body or an image config. */
export type HealthConfig = With<
  Int64Fields<Def<'HealthConfig'>, 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'>,
  { Test?: string[] | null }
>;

/** Go's nil slices and maps (JSON null), as request bodies decode and as image configs carry them. */
interface ConfigNils {
  Healthcheck?: HealthConfig | null;
  ExposedPorts?: Record<string, Record<string, unknown>> | null;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, unknown>> | null;
  Entrypoint?: string[] | null;
  Labels?: Record<string, string> | null;
}

export type ContainerConfig = With<Def<'ContainerConfig'>, ConfigNils>;

export type ThrottleDevice = Int64Fields<Def<'ThrottleDevice'>, 'Rate'>;

/** Resources.Ulimits' element (units.Ulimit); the spec has no definition of its own for it. */
export type Ulimit = Int64Fields<NonNullable<Def<'Resources'>['Ulimits']>[number], 'Soft' | 'Hard'>;

export type Resources = With<
  Int64Fields<
    Def<'Resources'>,
    | 'CpuShares'
    | 'Memory'
    | 'CpuPeriod'
    | 'CpuQuota'
    | 'CpuRealtimePeriod'
    | 'CpuRealtimeRuntime'
    | 'MemoryReservation'
    | 'MemorySwap'
    | 'NanoCpus'
    | 'PidsLimit'
    | 'CpuCount'
    | 'CpuPercent'
    | 'IOMaximumIOps'
    | 'IOMaximumBandwidth'
  >,
  {
    /** A pointer in Go: null is "unset" (the kernel default), distinct from 0. */
    MemorySwappiness?: Int64 | null;
    BlkioDeviceReadBps?: ThrottleDevice[];
    BlkioDeviceWriteBps?: ThrottleDevice[];
    BlkioDeviceReadIOps?: ThrottleDevice[];
    BlkioDeviceWriteIOps?: ThrottleDevice[];
    Ulimits?: Ulimit[];
  }
>;

type ResourceKeys = keyof Def<'Resources'>;

export type HostConfig = Resources &
  With<
    Omit<Def<'HostConfig'>, ResourceKeys>,
    {
      ShmSize?: Int64;
      MaskedPaths?: string[] | null;
      ReadonlyPaths?: string[] | null;
    }
  >;

export type PortBinding = Def<'PortBinding'>;
export type PortMap = Def<'PortMap'>;
export type RestartPolicy = Def<'RestartPolicy'>;
export type Mount = Def<'Mount'>;
export type MountType = NonNullable<Mount['Type']>;
export type MountPoint = Def<'MountPoint'>;
export type DeviceMapping = Def<'DeviceMapping'>;
export type DeviceRequest = Def<'DeviceRequest'>;
export type EndpointIPAMConfig = Def<'EndpointIPAMConfig'>;
export type EndpointSettings = With<Def<'EndpointSettings'>, { IPAMConfig?: EndpointIPAMConfig }>;
export type NetworkingConfig = With<Def<'NetworkingConfig'>, { EndpointsConfig?: Record<string, EndpointSettings> }>;
export type NetworkSettings = With<Def<'NetworkSettings'>, { Networks?: Record<string, EndpointSettings> }>;
export type PortSummary = Def<'PortSummary'>;

export type OCIPlatform = Def<'OCIPlatform'>;
export type OCIDescriptor = With<Def<'OCIDescriptor'>, { platform?: OCIPlatform }>;
export type DriverData = Def<'DriverData'>;
export type RootFSStorageSnapshot = Def<'RootFSStorageSnapshot'>;
export type RootFSStorage = With<Def<'RootFSStorage'>, { Snapshot?: RootFSStorageSnapshot }>;
export type Storage = With<Def<'Storage'>, { RootFS?: RootFSStorage }>;

export type HealthcheckResult = Def<'HealthcheckResult'>;
export type Health = With<Def<'Health'>, { Log?: HealthcheckResult[] }>;
export type ContainerState = With<Def<'ContainerState'>, { Health?: Health }>;

export type ContainerInspectResponse = With<
  Def<'ContainerInspectResponse'>,
  {
    State?: ContainerState;
    ImageManifestDescriptor?: OCIDescriptor;
    HostConfig?: HostConfig;
    GraphDriver?: DriverData;
    Storage?: Storage;
    Config?: ContainerConfig;
    NetworkSettings?: NetworkSettings;
  }
>;

type SummaryNetworkSettings = NonNullable<Def<'ContainerSummary'>['NetworkSettings']>;

export type ContainerSummary = With<
  Def<'ContainerSummary'>,
  {
    ImageManifestDescriptor?: OCIDescriptor;
    NetworkSettings?: With<SummaryNetworkSettings, { Networks?: Record<string, EndpointSettings> }>;
  }
>;

export type ContainerWaitExitError = Def<'ContainerWaitExitError'>;
export type ContainerWaitResponse = Def<'ContainerWaitResponse'>;
export type ContainerCreateResponse = Def<'ContainerCreateResponse'>;
export type ContainerUpdateResponse = Def<'ContainerUpdateResponse'>;
export type ContainerTopResponse = Def<'ContainerTopResponse'>;
