// The OCI spec a container was last started with, as containerd holds it. Exec derives its
// process from it, as dockerd does, so an exec runs with the container's own rlimits,
// capabilities, user and security settings.
import type { Containerd } from './containerd';
import { isNotFound } from './grpc-errors';
import type { OciSpec } from './oci-types';
import { NotFound } from '../lib/errors';

/**
 * Parses spec JSON, keeping 64-bit rlimits (RLIM_INFINITY = 2^64-1) exact as bigints: a plain
 * JSON.parse would round them, and runc then refuses the value.
 */
export function parseOciSpec(text: string): OciSpec {
  const quoted = text.replace(/("(?:hard|soft)"\s*:\s*)(\d{16,})/g, '$1"$2"');
  const spec = JSON.parse(quoted) as OciSpec;
  for (const r of spec.process?.rlimits ?? []) {
    if (typeof r.hard === 'string') r.hard = toLimit(r.hard);
    if (typeof r.soft === 'string') r.soft = toLimit(r.soft);
  }
  return spec;
}

function toLimit(s: string): number | bigint {
  const big = BigInt(s);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? big : Number(big);
}

export async function readContainerSpec(ctd: Containerd, id: string): Promise<OciSpec> {
  let value: Uint8Array | undefined;
  try {
    value = (await ctd.containers.get({ id })).container?.spec?.value;
  } catch (err) {
    if (isNotFound(err)) throw new NotFound(`No such container: ${id}`);
    throw err;
  }
  if (!value) throw new NotFound(`container ${id} has no runtime spec`);
  return parseOciSpec(Buffer.from(value).toString('utf8'));
}
