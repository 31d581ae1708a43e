// The create request the swarm agent makes of a task (daemon/swarm/agent/task-container.ts),
// with its secret and config files (task-files.ts), sent to a real berthd through the public
// create API (the agent loop that calls the container service directly is stage 2's): Berth
// accepts it, and the container runs as dockerd's executor would run it: its name, the swarm
// labels, restart policy "no", the secret readable at /run/secrets/<name> by the task's user
// and read-only, the config at its absolute target, templated env and hostname, host-mode port.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { taskContainerPlan, type TaskContainerPlan } from '../../daemon/swarm/agent/task-container';
import { removeTaskFiles, writeTaskFiles } from '../../daemon/swarm/agent/task-files';
import { Kit } from './container-kit';

let k: Kit;

before(async () => {
  k = await Kit.start();
});

after(async () => {
  if (k) await k.destroy();
});

async function createAndRun(plan: TaskContainerPlan): Promise<{ code: number; logs: string }> {
  const { request } = plan;
  const res = await k.request('POST', `/containers/create?name=${encodeURIComponent(request.name)}`, {
    ...request.config,
    HostConfig: request.hostConfig,
    NetworkingConfig: request.networkingConfig ?? undefined,
  });
  assert.equal(res.status, 201, res.body);
  const id = (JSON.parse(res.body) as { Id: string }).Id;
  const start = await k.request('POST', `/containers/${id}/start`);
  assert.equal(start.status, 204, start.body);
  const wait = await k.request('POST', `/containers/${id}/wait`);
  assert.equal(wait.status, 200, wait.body);
  const code = (JSON.parse(wait.body) as { StatusCode: number }).StatusCode;
  return { code, logs: await k.ok(['logs', request.name]) };
}

test('a task with a secret and a config runs as the executor would run it', async () => {
  const root = path.join(k.b.dir, 'swarm-tasks');
  const taskId = 'tsk9z2k4q1w8e7r6t5y3u0i9o';
  const files = await writeTaskFiles(root, taskId, [
    {
      kind: 'secret',
      id: 'sec1abc',
      name: 'db-pass',
      file: { Name: 'db-pass', UID: '1000', GID: '1000', Mode: 0o400 },
      data: Buffer.from('hunter2'),
    },
    {
      kind: 'config',
      id: 'cfg1abc',
      name: 'app-conf',
      file: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 0o444 },
      data: Buffer.from('level=debug'),
    },
  ]);
  const script = [
    'cat /run/secrets/db-pass; echo',
    'cat /etc/app.conf; echo',
    'echo "slot=$SLOT host=$(hostname)"',
    'if echo x > /run/secrets/db-pass 2>/dev/null; then echo writable; else echo read-only; fi',
    'id -u',
  ].join('; ');
  const plan = taskContainerPlan({
    task: {
      ID: taskId,
      ServiceID: 'svc9z2k4q1w8e7r6t5y3u0i9o',
      NodeID: 'nod9z2k4q1w8e7r6t5y3u0i9o',
      Slot: 3,
      Spec: {
        ContainerSpec: {
          Image: 'busybox',
          Command: ['sh', '-c'],
          Args: [script],
          User: '1000',
          Env: ['SLOT={{.Task.Slot}}'],
          Hostname: '{{.Service.Name}}-{{.Task.Slot}}',
          Labels: { app: 'web' },
        },
      },
    },
    serviceName: 'websvc',
    node: { id: 'nod9z2k4q1w8e7r6t5y3u0i9o', hostname: 'n1' },
    files,
  });
  try {
    const { code, logs } = await createAndRun(plan);
    assert.equal(code, 0, logs);
    assert.deepEqual(logs.trim().split('\n'), ['hunter2', 'level=debug', 'slot=3 host=websvc-3', 'read-only', '1000']);
    const c = await k.inspect(plan.name);
    assert.equal(c.Name, `/websvc.3.${taskId}`);
    const full = JSON.parse(await k.ok(['container', 'inspect', plan.name])) as {
      Config: { Labels: Record<string, string>; Image: string };
      HostConfig: { RestartPolicy: { Name: string } };
    }[];
    assert.equal(full[0].Config.Image, 'busybox:latest');
    assert.equal(full[0].HostConfig.RestartPolicy.Name, 'no');
    assert.deepEqual(full[0].Config.Labels, {
      app: 'web',
      'com.docker.swarm.task': '',
      'com.docker.swarm.task.id': taskId,
      'com.docker.swarm.task.name': `websvc.3.${taskId}`,
      'com.docker.swarm.node.id': 'nod9z2k4q1w8e7r6t5y3u0i9o',
      'com.docker.swarm.service.id': 'svc9z2k4q1w8e7r6t5y3u0i9o',
      'com.docker.swarm.service.name': 'websvc',
    });
    // The label filter the executor's event filter uses finds it.
    assert.equal((await k.ok(['ps', '-aq', '--filter', `label=com.docker.swarm.task.id=${taskId}`])).trim().length, 12);
  } finally {
    await k.ok(['rm', '-f', plan.name]);
    await removeTaskFiles(root, taskId);
  }
});

test('a global task with a host-mode published port', async () => {
  const plan = taskContainerPlan({
    task: {
      ID: 'tskglobal00000000000000001',
      ServiceID: 'svcglobal00000000000000001',
      NodeID: 'nodglobal00000000000000001',
      Spec: { ContainerSpec: { Image: 'busybox', Args: ['true'] } },
    },
    serviceName: 'agent',
    endpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'host' }] },
    node: { id: 'nodglobal00000000000000001' },
  });
  try {
    const res = await k.request('POST', `/containers/create?name=${plan.name}`, {
      ...plan.request.config,
      HostConfig: plan.request.hostConfig,
    });
    assert.equal(res.status, 201, res.body);
    assert.equal(plan.name, 'agent.nodglobal00000000000000001.tskglobal00000000000000001');
    const out = await k.ok(['container', 'inspect', '-f', '{{json .HostConfig.PortBindings}}', plan.name]);
    assert.deepEqual(JSON.parse(out), { '80/tcp': [{ HostIp: '', HostPort: '' }] });
  } finally {
    await k.ok(['rm', '-f', plan.name]);
  }
});
