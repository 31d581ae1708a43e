// Every operation of the Engine API v1.53 (one row per path and method of the spec, with the
// spec's operationId). The server registers all of them: an area's router supplies handlers by
// operationId, and whatever no router implements answers 501. test/unit/route-table.test.ts
// checks this table against the spec file, both ways.

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export type ApiArea =
  | 'container'
  | 'image'
  | 'system'
  | 'exec'
  | 'volume'
  | 'network'
  | 'plugin'
  | 'node'
  | 'swarm'
  | 'service'
  | 'task'
  | 'secret'
  | 'config'
  | 'distribution'
  | 'session';

export interface RouteSpec {
  readonly method: HttpMethod;
  /** The spec's path template, e.g. `/containers/{id}/json`. */
  readonly path: string;
  readonly operationId: string;
  /** The spec's tag, lower-cased. */
  readonly area: ApiArea;
  /** Oldest API version the route exists in (dockerd answers 400 below it). */
  readonly minVersion?: string;
}

export const ROUTES = [
  { method: 'GET', path: '/containers/json', operationId: 'ContainerList', area: 'container' },
  { method: 'POST', path: '/containers/create', operationId: 'ContainerCreate', area: 'container' },
  { method: 'GET', path: '/containers/{id}/json', operationId: 'ContainerInspect', area: 'container' },
  { method: 'GET', path: '/containers/{id}/top', operationId: 'ContainerTop', area: 'container' },
  { method: 'GET', path: '/containers/{id}/logs', operationId: 'ContainerLogs', area: 'container' },
  { method: 'GET', path: '/containers/{id}/changes', operationId: 'ContainerChanges', area: 'container' },
  { method: 'GET', path: '/containers/{id}/export', operationId: 'ContainerExport', area: 'container' },
  { method: 'GET', path: '/containers/{id}/stats', operationId: 'ContainerStats', area: 'container' },
  { method: 'POST', path: '/containers/{id}/resize', operationId: 'ContainerResize', area: 'container' },
  { method: 'POST', path: '/containers/{id}/start', operationId: 'ContainerStart', area: 'container' },
  { method: 'POST', path: '/containers/{id}/stop', operationId: 'ContainerStop', area: 'container' },
  { method: 'POST', path: '/containers/{id}/restart', operationId: 'ContainerRestart', area: 'container' },
  { method: 'POST', path: '/containers/{id}/kill', operationId: 'ContainerKill', area: 'container' },
  { method: 'POST', path: '/containers/{id}/update', operationId: 'ContainerUpdate', area: 'container' },
  { method: 'POST', path: '/containers/{id}/rename', operationId: 'ContainerRename', area: 'container' },
  { method: 'POST', path: '/containers/{id}/pause', operationId: 'ContainerPause', area: 'container' },
  { method: 'POST', path: '/containers/{id}/unpause', operationId: 'ContainerUnpause', area: 'container' },
  { method: 'POST', path: '/containers/{id}/attach', operationId: 'ContainerAttach', area: 'container' },
  { method: 'GET', path: '/containers/{id}/attach/ws', operationId: 'ContainerAttachWebsocket', area: 'container' },
  { method: 'POST', path: '/containers/{id}/wait', operationId: 'ContainerWait', area: 'container' },
  { method: 'DELETE', path: '/containers/{id}', operationId: 'ContainerDelete', area: 'container' },
  { method: 'HEAD', path: '/containers/{id}/archive', operationId: 'ContainerArchiveInfo', area: 'container' },
  { method: 'GET', path: '/containers/{id}/archive', operationId: 'ContainerArchive', area: 'container' },
  { method: 'PUT', path: '/containers/{id}/archive', operationId: 'PutContainerArchive', area: 'container' },
  { method: 'POST', path: '/containers/prune', operationId: 'ContainerPrune', area: 'container', minVersion: '1.25' },
  { method: 'GET', path: '/images/json', operationId: 'ImageList', area: 'image' },
  { method: 'POST', path: '/build', operationId: 'ImageBuild', area: 'image' },
  { method: 'POST', path: '/build/prune', operationId: 'BuildPrune', area: 'image', minVersion: '1.31' },
  { method: 'POST', path: '/images/create', operationId: 'ImageCreate', area: 'image' },
  { method: 'GET', path: '/images/{name}/json', operationId: 'ImageInspect', area: 'image' },
  { method: 'GET', path: '/images/{name}/history', operationId: 'ImageHistory', area: 'image' },
  { method: 'POST', path: '/images/{name}/push', operationId: 'ImagePush', area: 'image' },
  { method: 'POST', path: '/images/{name}/tag', operationId: 'ImageTag', area: 'image' },
  { method: 'DELETE', path: '/images/{name}', operationId: 'ImageDelete', area: 'image' },
  { method: 'GET', path: '/images/search', operationId: 'ImageSearch', area: 'image' },
  { method: 'POST', path: '/images/prune', operationId: 'ImagePrune', area: 'image', minVersion: '1.25' },
  { method: 'POST', path: '/auth', operationId: 'SystemAuth', area: 'system' },
  { method: 'GET', path: '/info', operationId: 'SystemInfo', area: 'system' },
  { method: 'GET', path: '/version', operationId: 'SystemVersion', area: 'system' },
  { method: 'GET', path: '/_ping', operationId: 'SystemPing', area: 'system' },
  { method: 'HEAD', path: '/_ping', operationId: 'SystemPingHead', area: 'system' },
  { method: 'POST', path: '/commit', operationId: 'ImageCommit', area: 'image' },
  { method: 'GET', path: '/events', operationId: 'SystemEvents', area: 'system' },
  { method: 'GET', path: '/system/df', operationId: 'SystemDataUsage', area: 'system' },
  { method: 'GET', path: '/images/{name}/get', operationId: 'ImageGet', area: 'image' },
  { method: 'GET', path: '/images/get', operationId: 'ImageGetAll', area: 'image' },
  { method: 'POST', path: '/images/load', operationId: 'ImageLoad', area: 'image' },
  { method: 'POST', path: '/containers/{id}/exec', operationId: 'ContainerExec', area: 'exec' },
  { method: 'POST', path: '/exec/{id}/start', operationId: 'ExecStart', area: 'exec' },
  { method: 'POST', path: '/exec/{id}/resize', operationId: 'ExecResize', area: 'exec' },
  { method: 'GET', path: '/exec/{id}/json', operationId: 'ExecInspect', area: 'exec' },
  { method: 'GET', path: '/volumes', operationId: 'VolumeList', area: 'volume' },
  { method: 'POST', path: '/volumes/create', operationId: 'VolumeCreate', area: 'volume' },
  { method: 'GET', path: '/volumes/{name}', operationId: 'VolumeInspect', area: 'volume' },
  { method: 'PUT', path: '/volumes/{name}', operationId: 'VolumeUpdate', area: 'volume', minVersion: '1.42' },
  { method: 'DELETE', path: '/volumes/{name}', operationId: 'VolumeDelete', area: 'volume' },
  { method: 'POST', path: '/volumes/prune', operationId: 'VolumePrune', area: 'volume', minVersion: '1.25' },
  { method: 'GET', path: '/networks', operationId: 'NetworkList', area: 'network' },
  { method: 'GET', path: '/networks/{id}', operationId: 'NetworkInspect', area: 'network' },
  { method: 'DELETE', path: '/networks/{id}', operationId: 'NetworkDelete', area: 'network' },
  { method: 'POST', path: '/networks/create', operationId: 'NetworkCreate', area: 'network' },
  { method: 'POST', path: '/networks/{id}/connect', operationId: 'NetworkConnect', area: 'network' },
  { method: 'POST', path: '/networks/{id}/disconnect', operationId: 'NetworkDisconnect', area: 'network' },
  { method: 'POST', path: '/networks/prune', operationId: 'NetworkPrune', area: 'network', minVersion: '1.25' },
  { method: 'GET', path: '/plugins', operationId: 'PluginList', area: 'plugin' },
  { method: 'GET', path: '/plugins/privileges', operationId: 'GetPluginPrivileges', area: 'plugin' },
  { method: 'POST', path: '/plugins/pull', operationId: 'PluginPull', area: 'plugin' },
  { method: 'GET', path: '/plugins/{name}/json', operationId: 'PluginInspect', area: 'plugin' },
  { method: 'DELETE', path: '/plugins/{name}', operationId: 'PluginDelete', area: 'plugin' },
  { method: 'POST', path: '/plugins/{name}/enable', operationId: 'PluginEnable', area: 'plugin' },
  { method: 'POST', path: '/plugins/{name}/disable', operationId: 'PluginDisable', area: 'plugin' },
  { method: 'POST', path: '/plugins/{name}/upgrade', operationId: 'PluginUpgrade', area: 'plugin', minVersion: '1.26' },
  { method: 'POST', path: '/plugins/create', operationId: 'PluginCreate', area: 'plugin' },
  { method: 'POST', path: '/plugins/{name}/push', operationId: 'PluginPush', area: 'plugin' },
  { method: 'POST', path: '/plugins/{name}/set', operationId: 'PluginSet', area: 'plugin' },
  { method: 'GET', path: '/nodes', operationId: 'NodeList', area: 'node' },
  { method: 'GET', path: '/nodes/{id}', operationId: 'NodeInspect', area: 'node' },
  { method: 'DELETE', path: '/nodes/{id}', operationId: 'NodeDelete', area: 'node' },
  { method: 'POST', path: '/nodes/{id}/update', operationId: 'NodeUpdate', area: 'node' },
  { method: 'GET', path: '/swarm', operationId: 'SwarmInspect', area: 'swarm' },
  { method: 'POST', path: '/swarm/init', operationId: 'SwarmInit', area: 'swarm' },
  { method: 'POST', path: '/swarm/join', operationId: 'SwarmJoin', area: 'swarm' },
  { method: 'POST', path: '/swarm/leave', operationId: 'SwarmLeave', area: 'swarm' },
  { method: 'POST', path: '/swarm/update', operationId: 'SwarmUpdate', area: 'swarm' },
  { method: 'GET', path: '/swarm/unlockkey', operationId: 'SwarmUnlockkey', area: 'swarm' },
  { method: 'POST', path: '/swarm/unlock', operationId: 'SwarmUnlock', area: 'swarm' },
  { method: 'GET', path: '/services', operationId: 'ServiceList', area: 'service' },
  { method: 'POST', path: '/services/create', operationId: 'ServiceCreate', area: 'service' },
  { method: 'GET', path: '/services/{id}', operationId: 'ServiceInspect', area: 'service' },
  { method: 'DELETE', path: '/services/{id}', operationId: 'ServiceDelete', area: 'service' },
  { method: 'POST', path: '/services/{id}/update', operationId: 'ServiceUpdate', area: 'service' },
  { method: 'GET', path: '/services/{id}/logs', operationId: 'ServiceLogs', area: 'service' },
  { method: 'GET', path: '/tasks', operationId: 'TaskList', area: 'task' },
  { method: 'GET', path: '/tasks/{id}', operationId: 'TaskInspect', area: 'task' },
  { method: 'GET', path: '/tasks/{id}/logs', operationId: 'TaskLogs', area: 'task' },
  { method: 'GET', path: '/secrets', operationId: 'SecretList', area: 'secret', minVersion: '1.25' },
  { method: 'POST', path: '/secrets/create', operationId: 'SecretCreate', area: 'secret', minVersion: '1.25' },
  { method: 'GET', path: '/secrets/{id}', operationId: 'SecretInspect', area: 'secret', minVersion: '1.25' },
  { method: 'DELETE', path: '/secrets/{id}', operationId: 'SecretDelete', area: 'secret', minVersion: '1.25' },
  { method: 'POST', path: '/secrets/{id}/update', operationId: 'SecretUpdate', area: 'secret', minVersion: '1.25' },
  { method: 'GET', path: '/configs', operationId: 'ConfigList', area: 'config', minVersion: '1.30' },
  { method: 'POST', path: '/configs/create', operationId: 'ConfigCreate', area: 'config', minVersion: '1.30' },
  { method: 'GET', path: '/configs/{id}', operationId: 'ConfigInspect', area: 'config', minVersion: '1.30' },
  { method: 'DELETE', path: '/configs/{id}', operationId: 'ConfigDelete', area: 'config', minVersion: '1.30' },
  { method: 'POST', path: '/configs/{id}/update', operationId: 'ConfigUpdate', area: 'config', minVersion: '1.30' },
  { method: 'GET', path: '/distribution/{name}/json', operationId: 'DistributionInspect', area: 'distribution', minVersion: '1.30' },
  { method: 'POST', path: '/session', operationId: 'Session', area: 'session' },
] as const satisfies readonly RouteSpec[];

export type OperationId = (typeof ROUTES)[number]['operationId'];

/** Areas that belong to swarm mode, which Berth never enters (dockerd with swarm inactive). */
export const SWARM_AREAS: ReadonlySet<ApiArea> = new Set<ApiArea>(['swarm', 'node', 'service', 'task', 'secret', 'config']);

/**
 * Whether a path parameter may contain slashes, as in dockerd's `{name:.*}` routes: image and
 * plugin references (`library/ubuntu`), and IDs or names elsewhere. Swarm-object IDs cannot.
 */
export function hasGreedyParam(route: RouteSpec): boolean {
  return !SWARM_AREAS.has(route.area) && route.path.includes('{');
}
