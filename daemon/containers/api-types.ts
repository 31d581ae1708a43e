// Container API types, transcribed from the Engine API v1.53 definitions (every field optional,
// as clients may omit any). The domain code narrows them where it needs certainty.
/* eslint-disable */
import type { Int64 } from "../../lib/int64";

export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, Record<string, unknown>> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean | null;
  Image?: string;
  Volumes?: Record<string, Record<string, unknown>> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean | null;
  OnBuild?: string[] | null;
  Labels?: Record<string, string>;
  StopSignal?: string | null;
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

export type HostConfig = Resources & {
  Binds?: string[];
  ContainerIDFile?: string;
  LogConfig?: {
    Type?: "local" | "json-file" | "syslog" | "journald" | "gelf" | "fluentd" | "awslogs" | "splunk" | "etwlogs" | "none";
    Config?: Record<string, string>;
  };
  NetworkMode?: string;
  PortBindings?: PortMap;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[];
  Mounts?: Mount[];
  ConsoleSize?: number[] | null;
  Annotations?: Record<string, string>;
  CapAdd?: string[];
  CapDrop?: string[];
  CgroupnsMode?: "private" | "host";
  Dns?: string[];
  DnsOptions?: string[];
  DnsSearch?: string[];
  ExtraHosts?: string[];
  GroupAdd?: string[];
  IpcMode?: string;
  Cgroup?: string;
  Links?: string[];
  OomScoreAdj?: number;
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[];
  StorageOpt?: Record<string, string>;
  Tmpfs?: Record<string, string>;
  UTSMode?: string;
  UsernsMode?: string;
  ShmSize?: Int64;
  Sysctls?: Record<string, string> | null;
  Runtime?: string | null;
  Isolation?: "default" | "process" | "hyperv" | "";
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
};

export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointSettings>;
}

export interface ContainerInspectResponse {
  Id?: string;
  Created?: string | null;
  Path?: string;
  Args?: string[];
  State?: ContainerState;
  Image?: string;
  ResolvConfPath?: string;
  HostnamePath?: string;
  HostsPath?: string;
  LogPath?: string | null;
  Name?: string;
  RestartCount?: number;
  Driver?: string;
  Platform?: string;
  ImageManifestDescriptor?: OCIDescriptor;
  MountLabel?: string;
  ProcessLabel?: string;
  AppArmorProfile?: string;
  ExecIDs?: string[] | null;
  HostConfig?: HostConfig;
  GraphDriver?: DriverData;
  Storage?: Storage;
  SizeRw?: number | null;
  SizeRootFs?: number | null;
  Mounts?: MountPoint[];
  Config?: ContainerConfig;
  NetworkSettings?: NetworkSettings;
}

export interface ContainerSummary {
  Id?: string;
  Names?: string[];
  Image?: string;
  ImageID?: string;
  ImageManifestDescriptor?: OCIDescriptor;
  Command?: string;
  Created?: number;
  Ports?: PortSummary[];
  SizeRw?: number | null;
  SizeRootFs?: number | null;
  Labels?: Record<string, string>;
  State?: "created" | "running" | "paused" | "restarting" | "exited" | "removing" | "dead";
  Status?: string;
  HostConfig?: {
    NetworkMode?: string;
    Annotations?: Record<string, string> | null;
  };
  NetworkSettings?: {
    Networks?: Record<string, EndpointSettings>;
  };
  Mounts?: MountPoint[];
  Health?: {
    Status?: "none" | "starting" | "healthy" | "unhealthy";
    FailingStreak?: number;
  };
}

export interface ContainerState {
  Status?: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
  Running?: boolean;
  Paused?: boolean;
  Restarting?: boolean;
  OOMKilled?: boolean;
  Dead?: boolean;
  Pid?: number;
  ExitCode?: number;
  Error?: string;
  StartedAt?: string;
  FinishedAt?: string;
  Health?: Health;
}

export interface ContainerWaitResponse {
  StatusCode?: number;
  Error?: ContainerWaitExitError;
}

export interface ContainerCreateResponse {
  Id?: string;
  Warnings?: string[];
}

export interface ContainerUpdateResponse {
  Warnings?: string[];
}

export interface ContainerTopResponse {
  Titles?: string[];
  Processes?: string[][];
}

export interface HealthConfig {
  Test?: string[];
  Interval?: Int64;
  Timeout?: Int64;
  Retries?: number;
  StartPeriod?: Int64;
  StartInterval?: Int64;
}

export interface Resources {
  CpuShares?: Int64;
  Memory?: Int64;
  CgroupParent?: string;
  BlkioWeight?: number;
  BlkioWeightDevice?: {
    Path?: string;
    Weight?: number;
  }[];
  BlkioDeviceReadBps?: ThrottleDevice[];
  BlkioDeviceWriteBps?: ThrottleDevice[];
  BlkioDeviceReadIOps?: ThrottleDevice[];
  BlkioDeviceWriteIOps?: ThrottleDevice[];
  CpuPeriod?: Int64;
  CpuQuota?: Int64;
  CpuRealtimePeriod?: Int64;
  CpuRealtimeRuntime?: Int64;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[];
  DeviceCgroupRules?: string[];
  DeviceRequests?: DeviceRequest[];
  MemoryReservation?: Int64;
  MemorySwap?: Int64;
  MemorySwappiness?: Int64 | null;
  NanoCpus?: Int64;
  OomKillDisable?: boolean;
  Init?: boolean | null;
  PidsLimit?: Int64 | null;
  Ulimits?: {
    Name?: string;
    Soft?: Int64;
    Hard?: Int64;
  }[];
  CpuCount?: Int64;
  CpuPercent?: Int64;
  IOMaximumIOps?: Int64;
  IOMaximumBandwidth?: Int64;
}

export type PortMap = Record<string, PortBinding[] | null>;

export interface RestartPolicy {
  Name?: "" | "no" | "always" | "unless-stopped" | "on-failure";
  MaximumRetryCount?: number;
}

export interface Mount {
  Target?: string;
  Source?: string;
  Type?: MountType;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave";
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
    ReadOnlyNonRecursive?: boolean;
    ReadOnlyForceRecursive?: boolean;
  };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: {
      Name?: string;
      Options?: Record<string, string>;
    };
    Subpath?: string;
  };
  ImageOptions?: {
    Subpath?: string;
  };
  TmpfsOptions?: {
    SizeBytes?: number;
    Mode?: number;
    Options?: string[][];
  };
}

export interface EndpointSettings {
  IPAMConfig?: EndpointIPAMConfig;
  Links?: string[];
  MacAddress?: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string> | null;
  GwPriority?: number;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  DNSNames?: string[];
}

export interface OCIDescriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  urls?: string[] | null;
  annotations?: Record<string, string> | null;
  data?: string | null;
  platform?: OCIPlatform;
  artifactType?: string | null;
}

export interface DriverData {
  Name?: string;
  Data?: Record<string, string>;
}

export interface Storage {
  RootFS?: RootFSStorage;
}

export interface MountPoint {
  Type?: MountType;
  Name?: string;
  Source?: string;
  Destination?: string;
  Driver?: string;
  Mode?: string;
  RW?: boolean;
  Propagation?: string;
}

export interface NetworkSettings {
  SandboxID?: string;
  SandboxKey?: string;
  Ports?: PortMap;
  Networks?: Record<string, EndpointSettings>;
}

export interface PortSummary {
  IP?: string;
  PrivatePort?: number;
  PublicPort?: number;
  Type?: "tcp" | "udp" | "sctp";
}

export interface Health {
  Status?: "none" | "starting" | "healthy" | "unhealthy";
  FailingStreak?: number;
  Log?: HealthcheckResult[];
}

export interface ContainerWaitExitError {
  Message?: string;
}

export interface ThrottleDevice {
  Path?: string;
  Rate?: Int64;
}

export interface DeviceMapping {
  PathOnHost?: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

export interface DeviceRequest {
  Driver?: string;
  Count?: number;
  DeviceIDs?: string[];
  Capabilities?: string[][];
  Options?: Record<string, string>;
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export type MountType = "bind" | "cluster" | "image" | "npipe" | "tmpfs" | "volume";

export interface EndpointIPAMConfig {
  IPv4Address?: string;
  IPv6Address?: string;
  LinkLocalIPs?: string[];
}

export interface OCIPlatform {
  architecture?: string;
  os?: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
}

export interface RootFSStorage {
  Snapshot?: RootFSStorageSnapshot;
}

export interface HealthcheckResult {
  Start?: string;
  End?: string;
  ExitCode?: number;
  Output?: string;
}

export interface RootFSStorageSnapshot {
  Name?: string;
}

