// A service spec's references to secrets and configs, checked as swarmkit's controlapi does
// (checkSecretExistence / checkConfigExistence): each referenced object must exist under its ID
// and carry the name the reference gives. The answer includes compares on the keys read, so
// that the service's write is one transaction with the check (a secret removed meanwhile makes
// the write fail instead of slipping past).
import { InvalidParameter } from '../../lib/errors';
import type { ClusterKv, KvCompare } from '../../store/cluster/kv';
import type { ClusterKeys } from './keys';
import type { ServiceSpec } from './orchestrator/types';
import { rpcText } from './shapes';

interface Ref {
  id: string;
  name: string;
}

function refsOf(spec: ServiceSpec): { secrets: Ref[]; configs: Ref[] } {
  const c = spec.TaskTemplate?.ContainerSpec;
  return {
    secrets: (c?.Secrets ?? []).map((s) => ({ id: s.SecretID ?? '', name: s.SecretName ?? '' })),
    configs: (c?.Configs ?? []).map((s) => ({ id: s.ConfigID ?? '', name: s.ConfigName ?? '' })),
  };
}

async function missing(kv: ClusterKv, keyOf: (id: string) => string, refs: Ref[], compares: KvCompare[]): Promise<string[]> {
  const failed: string[] = [];
  for (const r of refs) {
    const key = keyOf(r.id);
    const e = r.id === '' ? null : await kv.get(key);
    let name: string | undefined;
    if (e !== null) {
      try {
        name = (JSON.parse(e.value) as { Spec?: { Name?: string } }).Spec?.Name;
      } catch {
        name = undefined;
      }
    }
    if (e === null || name !== r.name) failed.push(r.name);
    else compares.push({ key, target: 'mod', op: '==', revision: e.modRevision });
  }
  return failed;
}

function notFound(kind: 'secret' | 'config', names: string[]): InvalidParameter {
  const what = names.length === 1 ? kind : `${kind}s`;
  return new InvalidParameter(rpcText('InvalidArgument', `${what} not found: ${names.join(', ')}`));
}

/** Throws swarmkit's "secret not found: <names>" (then configs); else the compares to add to the write. */
export async function checkServiceRefs(kv: ClusterKv, keys: ClusterKeys, spec: ServiceSpec): Promise<KvCompare[]> {
  const compares: KvCompare[] = [];
  const { secrets, configs } = refsOf(spec);
  const s = await missing(kv, (id) => keys.secret(id), secrets, compares);
  if (s.length > 0) throw notFound('secret', s);
  const c = await missing(kv, (id) => keys.config(id), configs, compares);
  if (c.length > 0) throw notFound('config', c);
  return compares;
}
