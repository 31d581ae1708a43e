// The JSON types of a service spec request body, checked before anything reads it: every client is
// hostile, and a spec is stored and then read by the orchestrator on every pass and by the agent of
// every node, so a field of the wrong type is a 400 here (Go's json texts in spirit), never an
// exception later. Covers the fields Berth reads; unknown fields are kept as sent (dockerd drops
// them, Berth's readers ignore them).

import { InvalidParameter } from '../../lib/errors';

type Shape = 'string' | 'number' | 'boolean' | 'any' | { array: Shape } | { map: Shape } | { fields: Readonly<Record<string, Shape>> };

const S = 'string' as const;
const N = 'number' as const;
const B = 'boolean' as const;
const strings: Shape = { array: S };
const labels: Shape = { map: S };
const obj = (fields: Record<string, Shape>): Shape => ({ fields });

const fileRef = obj({ Name: S, UID: S, GID: S, Mode: N });
const update = obj({ Parallelism: N, Delay: N, FailureAction: S, Monitor: N, MaxFailureRatio: N, Order: S });
const resources = obj({ NanoCPUs: N, MemoryBytes: N, Pids: N, GenericResources: { array: 'any' } });

const containerSpec = obj({
  Image: S,
  Labels: labels,
  Command: strings,
  Args: strings,
  Hostname: S,
  Env: strings,
  Dir: S,
  User: S,
  Groups: strings,
  TTY: B,
  OpenStdin: B,
  ReadOnly: B,
  Mounts: {
    array: obj({
      Target: S,
      Source: S,
      Type: S,
      ReadOnly: B,
      Consistency: S,
      BindOptions: 'any',
      VolumeOptions: obj({ NoCopy: B, Labels: labels, DriverConfig: obj({ Name: S, Options: labels }), Subpath: S }),
      TmpfsOptions: obj({ SizeBytes: N, Mode: N, Options: { array: strings } }),
      ImageOptions: 'any',
    }),
  },
  StopSignal: S,
  StopGracePeriod: N,
  HealthCheck: obj({ Test: strings, Interval: N, Timeout: N, Retries: N, StartPeriod: N, StartInterval: N }),
  Hosts: strings,
  DNSConfig: obj({ Nameservers: strings, Search: strings, Options: strings }),
  Secrets: { array: obj({ File: fileRef, SecretID: S, SecretName: S }) },
  Configs: { array: obj({ File: fileRef, Runtime: 'any', ConfigID: S, ConfigName: S }) },
  Isolation: S,
  Init: B,
  Sysctls: labels,
  CapabilityAdd: strings,
  CapabilityDrop: strings,
  Ulimits: { array: obj({ Name: S, Soft: N, Hard: N }) },
  OomScoreAdj: N,
  Privileges: 'any',
});

const networks: Shape = { array: obj({ Target: S, Aliases: strings, DriverOpts: labels }) };

const SERVICE_SPEC: Shape = obj({
  Name: S,
  Labels: labels,
  TaskTemplate: obj({
    PluginSpec: 'any',
    ContainerSpec: containerSpec,
    NetworkAttachmentSpec: 'any',
    Resources: obj({ Limits: resources, Reservations: resources, SwapBytes: N, MemorySwappiness: N }),
    RestartPolicy: obj({ Condition: S, Delay: N, MaxAttempts: N, Window: N }),
    Placement: obj({
      Constraints: strings,
      Preferences: { array: obj({ Spread: obj({ SpreadDescriptor: S }) }) },
      MaxReplicas: N,
      Platforms: { array: obj({ Architecture: S, OS: S }) },
    }),
    ForceUpdate: N,
    Runtime: S,
    Networks: networks,
    LogDriver: obj({ Name: S, Options: labels }),
  }),
  Mode: obj({
    Replicated: obj({ Replicas: N }),
    Global: 'any',
    ReplicatedJob: obj({ MaxConcurrent: N, TotalCompletions: N }),
    GlobalJob: 'any',
  }),
  UpdateConfig: update,
  RollbackConfig: update,
  Networks: networks,
  EndpointSpec: obj({
    Mode: S,
    Ports: { array: obj({ Name: S, Protocol: S, TargetPort: N, PublishedPort: N, PublishMode: S }) },
  }),
});

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v;
}

function check(v: unknown, shape: Shape, where: string): void {
  if (v === undefined || v === null || shape === 'any') return;
  const fail = (want: string): never => {
    throw new InvalidParameter(`json: cannot unmarshal ${kindOf(v)} into Go struct field ${where} of type ${want}`);
  };
  if (shape === 'string' || shape === 'number' || shape === 'boolean') {
    if (typeof v !== shape) fail(shape === 'number' ? 'int64' : shape === 'boolean' ? 'bool' : 'string');
    if (shape === 'number' && !Number.isFinite(v as number)) fail('int64');
    return;
  }
  if ('array' in shape) {
    if (!Array.isArray(v)) fail('array');
    (v as unknown[]).forEach((x, i) => check(x, shape.array, `${where}[${i}]`));
    return;
  }
  if (typeof v !== 'object' || Array.isArray(v)) fail('object');
  const o = v as Record<string, unknown>;
  if ('map' in shape) {
    for (const [k, x] of Object.entries(o)) check(x, shape.map, `${where}.${k}`);
    return;
  }
  for (const [k, s] of Object.entries(shape.fields)) check(o[k], s, `${where}.${k}`);
}

/** Throws InvalidParameter when a field of the body has the wrong JSON type. */
export function checkServiceSpecShape(body: unknown): void {
  check(body, SERVICE_SPEC, 'ServiceSpec');
}
