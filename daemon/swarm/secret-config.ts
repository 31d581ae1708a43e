// Secrets and configs: spec validation with swarmkit controlapi's texts (which dockerd passes on
// as gRPC errors, "rpc error: code = InvalidArgument desc = ..."), the labels-only update rule,
// and the inspect views: a secret's data is never answered, a config's is (base64, as Go's
// []byte). The payload itself is stored sealed (seal.ts); these functions never see etcd.
import type { definitions } from '../api-types/gen/engine-api';
import { Conflict, InvalidParameter, NotFound } from '../../lib/errors';

export type SecretSpec = definitions['SecretSpec'];
export type ConfigSpec = definitions['ConfigSpec'];
export type Secret = definitions['Secret'];
export type Config = definitions['Config'];
export type ObjectKind = 'secret' | 'config';

/** swarmkit's MaxSecretSize and MaxConfigSize: 500 KiB, the payload must be smaller. */
export const MAX_SECRET_SIZE = 500 * 1024;
export const MAX_CONFIG_SIZE = 500 * 1024;

const VALID_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;

/** A gRPC status error's text, as dockerd forwards swarmkit's controlapi errors. */
export function rpcText(code: 'InvalidArgument' | 'AlreadyExists' | 'NotFound' | 'FailedPrecondition', desc: string): string {
  return `rpc error: code = ${code} desc = ${desc}`;
}

function invalid(desc: string): InvalidParameter {
  return new InvalidParameter(rpcText('InvalidArgument', desc));
}

/** What the store keeps of a secret or config: the inspect shape without data, plus the sealed payload. */
export interface StoredObject {
  ID: string;
  Version?: { Index?: number };
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: { Name?: string; Labels?: Record<string, string>; Driver?: definitions['Driver']; Templating?: definitions['Driver'] };
  /** seal.ts sealData(clusterKey, ID, payload): `v1.<base64>`, opened with openData(clusterKey, ID, Sealed). */
  Sealed: string;
}

/** Go's encoding/json []byte: standard base64 with padding; its error text otherwise. */
export function decodeSpecData(data: string | undefined | null): Buffer {
  if (data === undefined || data === null) return Buffer.alloc(0);
  const clean = data.replace(/[\r\n]/g, '');
  const bad = /[^A-Za-z0-9+/=]/.exec(clean);
  if (bad) throw new InvalidParameter(`illegal base64 data at input byte ${bad.index}`);
  const pad = clean.indexOf('=');
  if (clean.length % 4 !== 0 || (pad >= 0 && (pad < clean.length - 2 || !/^=+$/.test(clean.slice(pad))))) {
    const at = pad >= 0 ? pad : clean.length - (clean.length % 4);
    throw new InvalidParameter(`illegal base64 data at input byte ${at}`);
  }
  return Buffer.from(clean, 'base64');
}

/** swarmkit's validateConfigOrSecretAnnotations. */
export function validateObjectName(name: string | undefined): void {
  if (!name) throw invalid('name must be provided');
  if (name.length > 64 || !VALID_NAME.test(name)) {
    throw invalid('invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]');
  }
}

function refuseTemplating(kind: ObjectKind, t: definitions['Driver'] | undefined | null): void {
  if (t && (t.Name ?? '') !== '') {
    throw new InvalidParameter(`${kind} templating ("${t.Name ?? ''}") is not supported by Berth's swarm mode`);
  }
}

/** A secret create's checks; answers the decoded payload to seal. */
export function validateSecretSpec(spec: SecretSpec | undefined | null): Buffer {
  if (!spec) throw invalid('invalid argument');
  validateObjectName(spec.Name);
  if (spec.Driver && (spec.Driver.Name ?? '') !== '') {
    throw new InvalidParameter(`secret drivers ("${spec.Driver.Name ?? ''}") are not supported by Berth's swarm mode`);
  }
  refuseTemplating('secret', spec.Templating);
  const data = decodeSpecData(spec.Data);
  if (data.length >= MAX_SECRET_SIZE || data.length < 1) {
    throw invalid(`secret data must be larger than 0 and less than ${MAX_SECRET_SIZE} bytes`);
  }
  return data;
}

/** A config create's checks; answers the decoded payload to seal. */
export function validateConfigSpec(spec: ConfigSpec | undefined | null): Buffer {
  if (!spec) throw invalid('invalid argument');
  validateObjectName(spec.Name);
  refuseTemplating('config', spec.Templating);
  const data = decodeSpecData(spec.Data);
  if (data.length >= MAX_CONFIG_SIZE || data.length < 1) {
    throw invalid(`config data must be larger than 0 and less than ${MAX_CONFIG_SIZE} bytes`);
  }
  return data;
}

/**
 * An update may change labels only: the same name, and no payload or the same one (a config's
 * inspect returns its data, so clients send it back). Answers the spec to store.
 */
export function checkLabelsOnlyUpdate(
  current: StoredObject,
  currentData: Buffer,
  requested: SecretSpec | ConfigSpec | undefined | null,
): StoredObject['Spec'] {
  if (!requested) throw invalid('invalid argument');
  const data = requested.Data === undefined || requested.Data === null ? null : decodeSpecData(requested.Data);
  if (current.Spec.Name !== requested.Name || (data !== null && !data.equals(currentData))) {
    throw invalid('only updates to Labels are allowed');
  }
  return { ...current.Spec, Labels: { ...(requested.Labels ?? {}) } };
}

/** The create conflict (409). */
export function alreadyExists(kind: ObjectKind, name: string): Conflict {
  return new Conflict(rpcText('AlreadyExists', `${kind} ${name} already exists`));
}

/** dockerd's own lookup miss (404), as daemon/cluster/helpers.go words it. */
export function notFound(kind: ObjectKind, nameOrId: string): NotFound {
  return new NotFound(`${kind} ${nameOrId} not found`);
}

/** Removal of an object a service still references (swarmkit's text, 400). */
export function inUse(kind: ObjectKind, name: string, serviceNames: string[]): InvalidParameter {
  const plural = serviceNames.length > 1 ? 's' : '';
  return invalid(`${kind} '${name}' is in use by the following service${plural}: ${serviceNames.join(', ')}`);
}

function baseView(o: StoredObject): { ID: string; Version: { Index: number }; CreatedAt?: string; UpdatedAt?: string } {
  return { ID: o.ID, Version: { Index: o.Version?.Index ?? 0 }, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt };
}

function specView(o: StoredObject): {
  Name?: string;
  Labels: Record<string, string>;
  Driver?: definitions['Driver'];
  Templating?: definitions['Driver'];
} {
  const out: ReturnType<typeof specView> = { Name: o.Spec.Name, Labels: { ...(o.Spec.Labels ?? {}) } };
  if (o.Spec.Driver) out.Driver = o.Spec.Driver;
  if (o.Spec.Templating) out.Templating = o.Spec.Templating;
  return out;
}

/** A secret as inspect and list answer it: never its data. */
export function secretView(o: StoredObject): Secret {
  return { ...baseView(o), Spec: specView(o) };
}

/** A config as inspect and list answer it: its data in base64. */
export function configView(o: StoredObject, data: Buffer): Config {
  return { ...baseView(o), Spec: { ...specView(o), Data: data.toString('base64') } };
}
