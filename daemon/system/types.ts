// The system area's response shapes: SystemInfo (GET /info) and SystemVersion (GET /version),
// with the spec's field names. Optional fields are the ones dockerd leaves out when empty.

export interface PluginsInfo {
  Volume: string[];
  Network: string[];
  /** null when no authorization plugin is configured (Go's nil slice). */
  Authorization: string[] | null;
  Log: string[];
}

export interface IndexInfo {
  Name: string;
  Mirrors: string[];
  Secure: boolean;
  Official: boolean;
}

export interface RegistryServiceConfig {
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, IndexInfo>;
  Mirrors: string[];
}

export interface RuntimeInfo {
  path: string;
  runtimeArgs?: string[];
  /** Since API 1.44: runtime features and other status (empty object when none). */
  status?: Record<string, string>;
}

export interface Commit {
  ID: string;
}

export type LocalNodeState = '' | 'inactive' | 'pending' | 'active' | 'error' | 'locked';

export interface PeerNode {
  NodeID: string;
  Addr: string;
}

export interface SwarmInfo {
  NodeID: string;
  NodeAddr: string;
  LocalNodeState: LocalNodeState;
  ControlAvailable: boolean;
  Error: string;
  RemoteManagers: PeerNode[] | null;
  /** On a manager: the cluster's node and manager counts and the cluster itself. */
  Nodes?: number;
  Managers?: number;
  Cluster?: unknown;
}

export interface ContainerdInfo {
  Address?: string;
  Namespaces: { Containers: string; Plugins: string };
}

export interface FirewallInfo {
  Driver: string;
  Info?: Array<[string, string]>;
}

export interface DeviceInfo {
  Source: string;
  ID: string;
}

export interface NetworkAddressPool {
  Base: string;
  Size: number;
}

export interface NRIInfo {
  Info?: Array<[string, string]>;
}

/** GET /info, in dockerd's field order. */
export interface SystemInfo {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: Array<[string, string]>;
  Plugins: PluginsInfo;
  MemoryLimit: boolean;
  SwapLimit: boolean;
  CpuCfsPeriod: boolean;
  CpuCfsQuota: boolean;
  CPUShares: boolean;
  CPUSet: boolean;
  PidsLimit: boolean;
  IPv4Forwarding: boolean;
  Debug: boolean;
  NFd: number;
  OomKillDisable: boolean;
  NGoroutines: number;
  SystemTime: string;
  LoggingDriver: string;
  CgroupDriver: 'cgroupfs' | 'systemd' | 'none';
  CgroupVersion: '1' | '2';
  NEventsListener: number;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  IndexServerAddress: string;
  RegistryConfig: RegistryServiceConfig | null;
  NCPU: number;
  MemTotal: number;
  GenericResources: null;
  DockerRootDir: string;
  HttpProxy: string;
  HttpsProxy: string;
  NoProxy: string;
  Name: string;
  Labels: string[];
  ExperimentalBuild: boolean;
  ServerVersion: string;
  Runtimes: Record<string, RuntimeInfo>;
  DefaultRuntime: string;
  Swarm: SwarmInfo;
  LiveRestoreEnabled: boolean;
  Isolation: '' | 'default' | 'hyperv' | 'process';
  InitBinary: string;
  ContainerdCommit: Commit;
  RuncCommit: Commit;
  InitCommit: Commit;
  SecurityOptions: string[];
  DefaultAddressPools?: NetworkAddressPool[];
  FirewallBackend?: FirewallInfo;
  CDISpecDirs: string[];
  DiscoveredDevices?: DeviceInfo[];
  NRI?: NRIInfo;
  Containerd?: ContainerdInfo;
  Warnings: string[] | null;
}

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string>;
}

/** GET /version, in dockerd's field order. */
export interface SystemVersion {
  Platform: { Name: string };
  Components: ComponentVersion[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  Experimental?: boolean;
  BuildTime: string;
}
