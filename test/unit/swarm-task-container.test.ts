// A swarm task as the container create request dockerd's executor would make of it: name,
// system labels over the spec's, image with the default tag, Command/Args, templates, mounts,
// host-mode ports, networks, resources, healthcheck, restart policy "no".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import { genericResourceEnv, taskContainerPlan, taskImage, type Task, type TaskRunInput } from '../../daemon/swarm/agent/task-container';
import { expandTemplate, templateContext } from '../../daemon/swarm/agent/template';

const S = 1_000_000_000;

function input(over: Partial<Task> = {}, rest: Partial<TaskRunInput> = {}): TaskRunInput {
  const task: Task = {
    ID: 'k3d9f0task0000000000000aa',
    ServiceID: 'svc0000000000000000000001',
    NodeID: 'node000000000000000000001',
    Slot: 2,
    Spec: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '60'] } },
    ...over,
  };
  return { task, serviceName: 'web', node: { id: 'node000000000000000000001', hostname: 'host-a' }, ...rest };
}

test('name is <service>.<slot>.<taskID>; a global task (slot 0) uses the node ID; the task Name wins', () => {
  assert.equal(taskContainerPlan(input()).name, 'web.2.k3d9f0task0000000000000aa');
  assert.equal(taskContainerPlan(input({ Slot: 0 })).name, 'web.node000000000000000000001.k3d9f0task0000000000000aa');
  assert.equal(taskContainerPlan(input({ Name: 'custom' })).name, 'custom');
  assert.equal(taskContainerPlan(input()).request.name, 'web.2.k3d9f0task0000000000000aa');
});

test('labels: the spec, then the task, then the system labels over both', () => {
  const plan = taskContainerPlan(
    input({
      Labels: { from: 'task', 'com.docker.swarm.task.id': 'forged' },
      Spec: { ContainerSpec: { Image: 'busybox', Labels: { from: 'spec', keep: '1', 'com.docker.swarm.node.id': 'forged' } } },
    }),
  );
  assert.deepEqual(plan.request.config.Labels, {
    from: 'task',
    keep: '1',
    'com.docker.swarm.task': '',
    'com.docker.swarm.task.id': 'k3d9f0task0000000000000aa',
    'com.docker.swarm.task.name': 'web.2.k3d9f0task0000000000000aa',
    'com.docker.swarm.node.id': 'node000000000000000000001',
    'com.docker.swarm.service.id': 'svc0000000000000000000001',
    'com.docker.swarm.service.name': 'web',
  });
});

test('image gets the default tag in its familiar form; a digest stays', () => {
  assert.equal(taskImage('busybox'), 'busybox:latest');
  assert.equal(taskImage('docker.io/library/nginx'), 'nginx:latest');
  assert.equal(taskImage('registry.example:5000/app:v2'), 'registry.example:5000/app:v2');
  const dig = `busybox@sha256:${'a'.repeat(64)}`;
  assert.equal(taskImage(dig), dig);
  assert.equal(taskImage('NOT VALID'), 'NOT VALID');
});

test('Command replaces the entrypoint with Args as Cmd; Args alone are the Cmd', () => {
  const withCmd = taskContainerPlan(
    input({ Spec: { ContainerSpec: { Image: 'busybox', Command: ['/bin/sh', '-c'], Args: ['echo hi'] } } }),
  );
  assert.deepEqual(withCmd.request.config.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(withCmd.request.config.Cmd, ['echo hi']);
  const argsOnly = taskContainerPlan(input());
  assert.equal(argsOnly.request.config.Entrypoint, undefined);
  assert.deepEqual(argsOnly.request.config.Cmd, ['sleep', '60']);
  const none = taskContainerPlan(input({ Spec: { ContainerSpec: { Image: 'busybox' } } }));
  assert.equal(none.request.config.Cmd, undefined);
});

test('templates in Env values, Hostname and mounts; Env keys are not expanded', () => {
  const plan = taskContainerPlan(
    input(
      {
        Spec: {
          ContainerSpec: {
            Image: 'busybox',
            Env: ['SLOT={{.Task.Slot}}', 'NAME={{.Service.Name}}-{{.Node.Hostname}}', '{{.Task.ID}}=x', 'BARE'],
            Hostname: '{{.Service.Name}}-{{.Task.Slot}}',
            Mounts: [
              {
                Type: 'volume',
                Source: 'data-{{.Task.Slot}}',
                Target: '/data',
                VolumeOptions: { Labels: { s: '{{index .Service.Labels "tier"}}' } },
              },
            ],
          },
        },
      },
      { serviceLabels: { tier: 'front' } },
    ),
  );
  assert.deepEqual(plan.request.config.Env, ['SLOT=2', 'NAME=web-host-a', '{{.Task.ID}}=x', 'BARE']);
  assert.equal(plan.request.config.Hostname, 'web-2');
  const m = plan.request.hostConfig.Mounts?.[0];
  assert.equal(m?.Source, 'data-2');
  assert.deepEqual(m?.VolumeOptions?.Labels, { s: 'front' });
});

test('template engine: trimming, comments, missing label, unknown field and unsupported actions', () => {
  const ctx = templateContext({ serviceId: 's', serviceName: 'web', nodeId: 'n1', taskId: 't1', slot: 0, serviceLabels: { a: 'b' } });
  assert.equal(expandTemplate(ctx, 'x {{- .Task.Slot -}} y'), 'xn1y');
  assert.equal(expandTemplate(ctx, 'a{{/* note */}}b'), 'ab');
  assert.equal(expandTemplate(ctx, '{{.Service.Labels.zz}}'), '<no value>');
  assert.equal(expandTemplate(ctx, '{{.Service.Labels.a}}'), 'b');
  assert.equal(expandTemplate(ctx, '{{.Task.Name}}'), 'web.n1.t1');
  assert.equal(expandTemplate(ctx, '{{.Service.Labels}}'), 'map[a:b]');
  assert.throws(() => expandTemplate(ctx, '{{.Nope}}'), /can't evaluate field Nope/);
  assert.throws(() => expandTemplate(ctx, '{{printf "%s" .Task.ID}}'), /unsupported action/);
  assert.throws(() => expandTemplate(ctx, '{{.Task.ID'), /unclosed action/);
  assert.throws(
    () => taskContainerPlan(input({ Spec: { ContainerSpec: { Image: 'busybox', Env: ['A={{.Bad}}'] } } })),
    (e: unknown) => e instanceof InvalidParameter && /^expanding env failed: expanding env "A=\{\{\.Bad\}\}"/.test(e.message),
  );
});

test('mounts: bind, volume, tmpfs kept with their options; invalid ones refused with dockerd texts', () => {
  const plan = taskContainerPlan(
    input({
      Spec: {
        ContainerSpec: {
          Image: 'busybox',
          Mounts: [
            { Type: 'bind', Source: '/srv', Target: '/srv', ReadOnly: true, BindOptions: { Propagation: 'rslave' } },
            {
              Type: 'volume',
              Source: 'v',
              Target: '/v',
              VolumeOptions: { NoCopy: true, DriverConfig: { Name: 'local', Options: { o: 'x' } } },
            },
            { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } },
          ],
        },
      },
    }),
  );
  assert.deepEqual(plan.request.hostConfig.Mounts, [
    { Type: 'bind', Source: '/srv', Target: '/srv', ReadOnly: true, BindOptions: { Propagation: 'rslave' } },
    { Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { NoCopy: true, DriverConfig: { Name: 'local', Options: { o: 'x' } } } },
    { Type: 'tmpfs', Source: '', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } },
  ]);
  const bad = (m: object, re: RegExp): void =>
    assert.throws(() => taskContainerPlan(input({ Spec: { ContainerSpec: { Image: 'busybox', Mounts: [m] } } })), re);
  bad({ Type: 'bind', Source: 'rel', Target: '/x' }, /invalid bind mount source, must be an absolute path: rel/);
  bad({ Type: 'bind', Source: '/x', Target: 'rel' }, /invalid mount target, must be an absolute path: rel/);
  bad({ Type: 'volume', Source: '/abs', Target: '/x' }, /invalid volume mount source, must not be an absolute path: \/abs/);
  bad({ Type: 'tmpfs', Source: 'x', Target: '/x' }, /invalid tmpfs source, source must be empty/);
  bad({ Type: 'npipe', Source: 'x', Target: '/x' }, /invalid mount type: npipe/);
});

test('secret and config files become read-only binds after the spec mounts', () => {
  const plan = taskContainerPlan(
    input({}, { files: [{ kind: 'secret', id: 's1', source: '/run/berth/swarm/tasks/t/secrets/s1', target: '/run/secrets/pw' }] }),
  );
  assert.deepEqual(plan.request.hostConfig.Mounts, [
    { Type: 'bind', Source: '/run/berth/swarm/tasks/t/secrets/s1', Target: '/run/secrets/pw', ReadOnly: true },
  ]);
});

test('published ports become bindings and exposed ports, ingress mode as host mode (no routing mesh)', () => {
  const plan = taskContainerPlan(
    input(
      {},
      {
        endpointSpec: {
          Ports: [
            { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' },
            { Protocol: 'udp', TargetPort: 53, PublishMode: 'host' },
            { Protocol: 'tcp', TargetPort: 443, PublishedPort: 443, PublishMode: 'ingress' },
          ],
        },
      },
    ),
  );
  assert.deepEqual(plan.request.hostConfig.PortBindings, {
    '80/tcp': [{ HostIp: '', HostPort: '8080' }],
    '53/udp': [{ HostIp: '', HostPort: '' }],
    '443/tcp': [{ HostIp: '', HostPort: '443' }],
  });
  assert.deepEqual(plan.request.config.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '443/tcp': {} });
});

test('settings: user, dir, groups, tty, stop signal and grace, healthcheck, dns, hosts, init, sysctls, caps, ulimits, resources', () => {
  const plan = taskContainerPlan(
    input({
      Spec: {
        ContainerSpec: {
          Image: 'busybox',
          User: '1000:1000',
          Dir: '/work',
          Groups: ['wheel'],
          TTY: true,
          OpenStdin: true,
          ReadOnly: true,
          StopSignal: 'SIGINT',
          StopGracePeriod: 25 * S + 500_000_000,
          HealthCheck: { Test: ['CMD', 'true'], Interval: 5 * S, Retries: 3 },
          DNSConfig: { Nameservers: ['10.0.0.2'], Search: ['example'], Options: ['ndots:2'] },
          Hosts: ['10.1.1.1 db alias', 'malformed'],
          Init: true,
          Sysctls: { 'net.core.somaxconn': '1024' },
          CapabilityAdd: ['CAP_NET_ADMIN'],
          CapabilityDrop: ['CAP_MKNOD'],
          Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
          OomScoreAdj: 100,
          Privileges: { SELinuxContext: { Disable: true }, NoNewPrivileges: true },
        },
        Resources: { Limits: { NanoCPUs: 500_000_000, MemoryBytes: 64 * 1024 * 1024, Pids: 50 }, SwapBytes: 0, MemorySwappiness: 10 },
        LogDriver: { Name: 'json-file', Options: { 'max-size': '1m' } },
      },
    }),
  );
  const { config, hostConfig } = plan.request;
  assert.equal(config.User, '1000:1000');
  assert.equal(config.WorkingDir, '/work');
  assert.equal(config.Tty, true);
  assert.equal(config.OpenStdin, true);
  assert.equal(config.StopSignal, 'SIGINT');
  assert.deepEqual(config.Healthcheck, { Test: ['CMD', 'true'], Interval: 5 * S, Retries: 3 });
  assert.equal(plan.stopGraceSeconds, 25);
  assert.deepEqual(hostConfig.GroupAdd, ['wheel']);
  assert.equal(hostConfig.ReadonlyRootfs, true);
  assert.deepEqual(hostConfig.Dns, ['10.0.0.2']);
  assert.deepEqual(hostConfig.DnsSearch, ['example']);
  assert.deepEqual(hostConfig.DnsOptions, ['ndots:2']);
  assert.deepEqual(hostConfig.ExtraHosts, ['db:10.1.1.1']);
  assert.equal(hostConfig.Init, true);
  assert.deepEqual(hostConfig.Sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(hostConfig.CapAdd, ['CAP_NET_ADMIN']);
  assert.deepEqual(hostConfig.CapDrop, ['CAP_MKNOD']);
  assert.deepEqual(hostConfig.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
  assert.equal(hostConfig.OomScoreAdj, 100);
  assert.deepEqual(hostConfig.SecurityOpt, ['label=disable', 'no-new-privileges=true']);
  assert.equal(hostConfig.NanoCpus, 500_000_000);
  assert.equal(hostConfig.Memory, 64 * 1024 * 1024);
  assert.equal(hostConfig.MemorySwap, 64 * 1024 * 1024);
  assert.equal(hostConfig.MemorySwappiness, 10);
  assert.equal(hostConfig.PidsLimit, 50);
  assert.deepEqual(hostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.deepEqual(hostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
  // No limits: the engine's defaults; no grace period: the container's own stop timeout.
  const bare = taskContainerPlan(input());
  assert.equal(bare.request.hostConfig.Memory, undefined);
  assert.equal(bare.request.hostConfig.NanoCpus, undefined);
  assert.equal(bare.stopGraceSeconds, undefined);
  assert.equal(bare.request.hostConfig.Init, undefined);
  // Swap -1 is unlimited.
  const unl = taskContainerPlan(
    input({ Spec: { ContainerSpec: { Image: 'busybox' }, Resources: { Limits: { MemoryBytes: 1 << 26 }, SwapBytes: -1 } } }),
  );
  assert.equal(unl.request.hostConfig.MemorySwap, -1);
});

test('the CLI spelling Healthcheck is read as well as the spec spelling HealthCheck', () => {
  const spec = { Image: 'busybox', Healthcheck: { Test: ['NONE'] } };
  const plan = taskContainerPlan(input({ Spec: { ContainerSpec: spec } }));
  assert.deepEqual(plan.request.config.Healthcheck, { Test: ['NONE'] });
});

test('networks: the first is the network mode, all are endpoints with expanded aliases', () => {
  const plan = taskContainerPlan(
    input({}, { networks: [{ target: 'front', aliases: ['web', 'web-{{.Task.Slot}}'] }, { target: 'back' }] }),
  );
  assert.equal(plan.request.hostConfig.NetworkMode, 'front');
  assert.deepEqual(plan.request.networkingConfig, { EndpointsConfig: { front: { Aliases: ['web', 'web-2'] }, back: {} } });
  assert.equal(taskContainerPlan(input()).request.networkingConfig, null);
});

test('a task without a container spec or image is refused', () => {
  assert.throws(() => taskContainerPlan(input({ Spec: {} })), /no container spec/);
  assert.throws(() => taskContainerPlan(input({ Spec: { ContainerSpec: {} } })), /dockerexec: image required/);
});

test('assigned generic resources become DOCKER_RESOURCE_<KIND> variables after the spec env', () => {
  assert.deepEqual(
    genericResourceEnv([
      { NamedResourceSpec: { Kind: 'gpu', Value: 'UUID1' } },
      { DiscreteResourceSpec: { Kind: 'ssd', Value: 2 } },
      { NamedResourceSpec: { Kind: 'gpu', Value: 'UUID2' } },
    ]),
    ['DOCKER_RESOURCE_GPU=UUID1,UUID2', 'DOCKER_RESOURCE_SSD=2'],
  );
  const plan = taskContainerPlan(
    input({
      Spec: { ContainerSpec: { Image: 'busybox', Env: ['A=1'] } },
      AssignedGenericResources: [{ DiscreteResourceSpec: { Kind: 'fpga', Value: 1 } }],
    }),
  );
  assert.deepEqual(plan.request.config.Env, ['A=1', 'DOCKER_RESOURCE_FPGA=1']);
});
