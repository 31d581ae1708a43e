import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BerthError } from '../../lib/errors';
import { nodeMatches, parseConstraints } from '../../daemon/swarm/orchestrator/constraint';
import { interpolateServiceSpec, normalizeServiceSpec } from '../../daemon/swarm/orchestrator/defaults';
import { newId } from '../../daemon/swarm/orchestrator/task';
import type { ServiceSpec } from '../../daemon/swarm/orchestrator/types';
import { applyServiceUpdate } from '../../daemon/swarm/orchestrator/service-update';
import { serviceStatus } from '../../daemon/swarm/orchestrator/service-status';
import { JOBS_REFUSED, prepareServiceSpec, validateServiceSpec, validateServiceUpdate } from '../../daemon/swarm/orchestrator/validate';
import { Cluster, node, service } from './swarm-orchestrator-kit';

const base = (): ServiceSpec => ({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx:latest' } } });

function refuses(spec: ServiceSpec, kind: string, message: string): void {
  assert.throws(
    () => validateServiceSpec(spec),
    (err: unknown) => err instanceof BerthError && err.kind === kind && err.message === message,
    message,
  );
}

test('validateServiceSpec: swarmkit and dockerd texts, in their order', () => {
  validateServiceSpec(base());
  const cases: [(s: ServiceSpec) => void, string][] = [
    [(s) => (s.Name = ''), 'meta: name must be provided'],
    [(s) => (s.Name = 'a.b'), 'name must be valid as a DNS name component'],
    [(s) => (s.Name = 'a'.repeat(64)), 'name must be 63 characters or fewer'],
    [(s) => (s.TaskTemplate!.ContainerSpec!.Image = ''), 'ContainerSpec: image reference must be provided'],
    [(s) => (s.TaskTemplate!.ContainerSpec!.Image = 'UPPER'), 'ContainerSpec: "UPPER" is not a valid repository/tag'],
    [(s) => delete s.TaskTemplate!.ContainerSpec, 'mismatched Runtime and *Spec fields'],
    [(s) => (s.Mode = { Replicated: { Replicas: -1 } }), 'Number of replicas must be non-negative'],
    [(s) => (s.Mode = { Replicated: {}, Global: {} }), 'must specify only one service mode'],
    [(s) => (s.TaskTemplate!.Resources = { Limits: { MemoryBytes: 1024 } }), 'invalid memory value 1024: Must be at least 4MiB'],
    [(s) => (s.TaskTemplate!.Resources = { Reservations: { NanoCPUs: 1000 } }), 'invalid cpu value 1e-06: Must be at least 0.001'],
    [(s) => (s.TaskTemplate!.RestartPolicy = { Delay: -1 }), 'TaskSpec: restart-delay cannot be negative'],
    [(s) => (s.TaskTemplate!.RestartPolicy = { Window: -1 }), 'TaskSpec: restart-window cannot be negative'],
    [(s) => (s.TaskTemplate!.RestartPolicy = { Condition: 'sometimes' as 'any' }), 'invalid RestartCondition: "sometimes"'],
    [(s) => (s.TaskTemplate!.Placement = { Constraints: ['node.role'] }), 'constraint expected one operator from ==, !='],
    [(s) => (s.TaskTemplate!.Placement = { Constraints: ['1abc==x'] }), "key '1abc' is invalid"],
    [(s) => (s.TaskTemplate!.Placement = { Constraints: ['node.id==a<b'] }), "value 'a<b' is invalid"],
    [(s) => (s.UpdateConfig = { Delay: -1 }), 'TaskSpec: update-delay cannot be negative'],
    [(s) => (s.UpdateConfig = { Monitor: -1 }), 'TaskSpec: update-monitor cannot be negative'],
    [(s) => (s.UpdateConfig = { MaxFailureRatio: 2 }), 'TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1'],
    [(s) => (s.UpdateConfig = { FailureAction: 'explode' as 'pause' }), 'unrecognized update failure action explode'],
    [(s) => (s.EndpointSpec = { Mode: 'rr' as 'vip' }), 'invalid resolution mode: "rr"'],
    [
      (s) => (s.EndpointSpec = { Mode: 'dnsrr', Ports: [{ TargetPort: 80, PublishedPort: 80 }] }),
      "EndpointSpec: port published with ingress mode can't be used with dnsrr mode",
    ],
    [
      (s) =>
        (s.EndpointSpec = {
          Mode: 'dnsrr',
          Ports: [80, 80].map((p) => ({ TargetPort: p, PublishedPort: 8080, PublishMode: 'host' as const })),
        }),
      'EndpointSpec: duplicate published ports provided',
    ],
    [
      (s) =>
        (s.TaskTemplate!.ContainerSpec!.Secrets = [
          { SecretID: 'x', SecretName: 'a', File: { Name: 't' } },
          { SecretID: 'y', SecretName: 'b', File: { Name: 't' } },
        ]),
      "secret references 'a' and 'b' have a conflicting target: 't'",
    ],
    [(s) => (s.TaskTemplate!.ContainerSpec!.Mounts = [{ Target: '/a' }, { Target: '/a' }]), 'ContainerSpec: duplicate mount point: /a'],
    [
      (s) => (s.TaskTemplate!.ContainerSpec!.HealthCheck = { Interval: 10 }),
      'ContainerSpec: Interval in HealthConfig cannot be less than 1ms',
    ],
    [(s) => (s.Mode = { ReplicatedJob: {} }) && (s.UpdateConfig = {}), 'Jobs may not have an update config'],
  ];
  for (const [mutate, message] of cases) {
    const spec = base();
    mutate(spec);
    refuses(spec, 'InvalidParameter', message);
  }
  refuses({ ...base(), Mode: { GlobalJob: {} } }, 'InvalidParameter', JOBS_REFUSED);
  // host-mode ports with dnsrr, and no endpoint at all, are fine
  validateServiceSpec({
    ...base(),
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] },
  });
  validateServiceSpec({ ...base(), EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] } });
  // the lead's decisions (docs/divergence.md): vip is accepted (resolved as DNSRR), ingress ports too
  validateServiceSpec({ ...base(), EndpointSpec: { Mode: 'vip' } });
  validateServiceSpec({ ...base(), EndpointSpec: { Mode: 'vip', Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } });
  validateServiceSpec({ ...base(), EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] } });
});

test('validateServiceUpdate: mode change and rename are refused (501 as through dockerd), rollback needs a previous spec', () => {
  const cur = { ID: 'abc', Spec: base() };
  validateServiceUpdate(cur, { ...base(), Mode: { Replicated: { Replicas: 3 } } });
  assert.throws(
    () => validateServiceUpdate(cur, { ...base(), Mode: { Global: {} } }),
    (e: unknown) => e instanceof BerthError && e.kind === 'NotImplemented' && e.message === 'service mode change is not allowed',
  );
  assert.throws(
    () => validateServiceUpdate(cur, { ...base(), Name: 'other' }),
    (e: unknown) => e instanceof BerthError && e.kind === 'NotImplemented' && e.message === 'renaming services is not supported',
  );
  assert.throws(() => validateServiceUpdate(cur, base(), true), /service abc does not have a previous spec/);
});

test('applyServiceUpdate: PreviousSpec and a cleared UpdateStatus; rollback=previous swaps back and starts a rollback', () => {
  const v1 = base();
  const v2 = { ...base(), Labels: { v: '2' } };
  const cur = { ID: 'abc', Spec: v1, UpdateStatus: { State: 'completed' as const } };
  const up = applyServiceUpdate(cur, v2, 0);
  assert.deepEqual(up, { ID: 'abc', Spec: v2, PreviousSpec: v1 });
  const back = applyServiceUpdate(up, v2, 1000, true);
  assert.deepEqual(back, {
    ID: 'abc',
    Spec: v1,
    PreviousSpec: v2,
    UpdateStatus: { State: 'rollback_started', StartedAt: '1970-01-01T00:00:01.000Z', Message: 'manually requested rollback' },
  });
});

test('prepareServiceSpec: names an unnamed service and stores what dockerd stores', () => {
  const spec = prepareServiceSpec(
    { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: {} }, UpdateConfig: { Parallelism: 2 } },
    () => 'happy_turing',
  );
  assert.deepEqual(spec, {
    Name: 'happy_turing',
    Labels: {},
    TaskTemplate: {
      ContainerSpec: { Image: 'nginx' },
      RestartPolicy: { Condition: 'any', MaxAttempts: 0 },
      Runtime: 'container',
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: 1 } },
    UpdateConfig: { Parallelism: 2, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' },
  });
  assert.deepEqual(normalizeServiceSpec({ ...base(), Mode: { ReplicatedJob: { MaxConcurrent: 3 } } }).Mode, {
    ReplicatedJob: { MaxConcurrent: 3, TotalCompletions: 3 },
  });
});

test('interpolateServiceSpec: swarmkit defaults (insertDefaults)', () => {
  const s = interpolateServiceSpec(normalizeServiceSpec(base()));
  assert.deepEqual(s.TaskTemplate?.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 0 });
  assert.equal(s.TaskTemplate?.ContainerSpec?.StopGracePeriod, 10e9);
  const cfg = { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' };
  assert.deepEqual(s.UpdateConfig, cfg);
  assert.deepEqual(s.RollbackConfig, cfg);
});

test('constraints: keys case-insensitive, values compared case-insensitively, labels and node.ip', () => {
  const n = node('abc', { labels: { Zone: 'East' }, engineLabels: { os: 'debian' } });
  const m = (...c: string[]): boolean => nodeMatches(parseConstraints(c), n);
  assert.equal(m('node.id==abc', 'NODE.HOSTNAME==host-abc'), true);
  assert.equal(m('node.labels.Zone==east'), true);
  assert.equal(m('node.labels.zone==east'), false, 'label names are case sensitive');
  assert.equal(m('node.labels.missing!=x'), true);
  assert.equal(m('engine.labels.os==debian', 'node.platform.os==linux', 'node.platform.arch==x86_64'), true);
  assert.equal(m('node.role==manager'), false);
  assert.equal(m('node.ip==192.0.2.0/24'), true);
  assert.equal(m('node.ip!=192.0.2.1'), false);
  assert.equal(m('unknown.key==x'), false);
});

test('newId: 25 base-36 characters, as swarmkit identity.NewID', () => {
  for (let i = 0; i < 50; i++) assert.match(newId(), /^[0-9a-z]{25}$/);
});

test('property: reconcile settles and then answers no changes; replicas and global counts hold', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 7 }),
      fc.array(fc.constantFrom('active', 'pause', 'drain'), { minLength: 1, maxLength: 4 }),
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      fc.boolean(),
      (replicas, avail, down, withGlobal) => {
        const nodes = avail.map((a, i) => node(`n${i}`, { availability: a as 'active', state: down[i] === true ? 'down' : 'ready' }));
        const services = [service('r', { Mode: { Replicated: { Replicas: replicas } } })];
        if (withGlobal) services.push(service('g', { Mode: { Global: {} } }));
        const c = new Cluster(nodes, services);
        c.settle();
        assert.deepEqual(c.step(), []);
        const usable = nodes.filter((n) => n.Status?.State === 'ready' && n.Spec?.Availability === 'active').length;
        const placed = c.running('r').filter((t) => t.Status?.State === 'running').length;
        assert.equal(c.running('r').length, replicas);
        assert.equal(placed, usable > 0 ? replicas : 0);
        if (withGlobal) assert.equal(c.running('g').length, usable);
      },
    ),
    { numRuns: 200 },
  );
});

test('serviceStatus: running tasks by observed state, desired by Replicas or (global) desired running', () => {
  const c = new Cluster(
    [node('n1'), node('n2')],
    [service('r', { Mode: { Replicated: { Replicas: 3 } } }), service('g', { Mode: { Global: {} } })],
  );
  c.settle();
  c.setState(c.running('r')[0]!, 'failed');
  const tasks = [...c.tasks.values()];
  assert.deepEqual(serviceStatus(c.services.get('r'), tasks), { RunningTasks: 2, DesiredTasks: 3, CompletedTasks: 0 });
  assert.deepEqual(serviceStatus(c.services.get('g'), tasks), { RunningTasks: 2, DesiredTasks: 2, CompletedTasks: 0 });
});

test('an EndpointSpec without Mode is stored as vip (as dockerd), and the spec read back validates again', () => {
  const spec = prepareServiceSpec({ ...base(), EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } }, () => 'x');
  assert.deepEqual(spec.EndpointSpec, {
    Mode: 'vip',
    Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }],
  });
  validateServiceSpec(spec);
});
