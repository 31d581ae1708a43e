// Join tokens, the cluster key and sealed secret/config data (docs/swarm.md, "Tokens, the
// cluster key, secrets"): the one module for all three.
// - Tokens are dockerd's: `SWMTKN-1-<digest>-<secret>`, the digest a SHA-256 in base 36
//   zero-padded to 50 characters, the secret 16 random bytes in base 36 zero-padded to 25
//   (swarmkit ca/config.go GenerateJoinToken). swarmkit's digest is its root CA's; Berth has no
//   CA and puts there the digest that names the cluster (clusterDigest).
// - The cluster key (256 random bits) is kept in P/cluster only wrapped, once per role token:
//   AES-256-GCM under HKDF-SHA256(token secret, salt = the cluster digest). Knowing a token is
//   what unwraps it. P/cluster also keeps sha256(secret) per role and the token itself sealed
//   under the cluster key (so any manager can show it), never the token in clear.
// - Secret and config payloads are sealed with a key derived from the cluster key, AES-256-GCM,
//   a random nonce per seal, the object's ID as associated data (a sealed payload moved to
//   another object does not open).
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidParameter, SystemError } from '../../lib/errors';

const DIGEST_LEN = 50;
const SECRET_LEN = 25;
const SECRET_BYTES = 16;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SEAL_VERSION = 'v1';

export type SwarmRole = 'worker' | 'manager';

/** swarmkit's text for any token that does not parse. */
export const INVALID_JOIN_TOKEN = 'invalid join token';

/** What P/cluster keeps of one role's token. */
export interface TokenRecord {
  /** hex sha256 of the token's secret part. */
  secretHash: string;
  /** The cluster key wrapped under the token (wrapClusterKey). */
  wrappedKey: string;
  /** The whole token, sealed under the cluster key, for managers to show. */
  sealedToken: string;
}

export interface ParsedJoinToken {
  version: 1 | 2;
  /** The digest the token names, as 64 lowercase hex digits. */
  digestHex: string;
  /** The secret part, as written in the token (25 base-36 characters). */
  secret: string;
  fips: boolean;
}

function base36(n: bigint, width: number): string {
  return n.toString(36).padStart(width, '0');
}

function fromBase36(s: string): bigint {
  let n = 0n;
  for (const ch of s) n = n * 36n + BigInt(parseInt(ch, 36));
  return n;
}

/** The digest a cluster's tokens carry: SHA-256 of its ID (hex). */
export function clusterDigest(clusterId: string): string {
  return createHash('sha256').update(`berth-swarm-cluster:${clusterId}`).digest('hex');
}

/** A new token naming the digest (64 hex digits), with a fresh secret. */
export function generateJoinToken(digestHex: string, random: (n: number) => Buffer = randomBytes): string {
  if (!/^[0-9a-f]{64}$/.test(digestHex)) throw new InvalidParameter('a join token needs a SHA-256 digest');
  const secret = BigInt(`0x${random(SECRET_BYTES).toString('hex')}`);
  return `SWMTKN-1-${base36(BigInt(`0x${digestHex}`), DIGEST_LEN)}-${base36(secret, SECRET_LEN)}`;
}

/** Parses v1 (`SWMTKN-1-d-s`) and v2 (`SWMTKN-2-<fips 0|1>-d-s`) tokens; anything else: "invalid join token". */
export function parseJoinToken(token: string): ParsedJoinToken {
  const split = token.split('-');
  const bad = (): never => {
    throw new InvalidParameter(INVALID_JOIN_TOKEN);
  };
  if (split.length < 4 || split[0] !== 'SWMTKN') bad();
  let version: 1 | 2 = 1;
  let fips = false;
  let rest: string[];
  if (split[1] === '1' && split.length === 4) {
    rest = split.slice(2);
  } else if (split[1] === '2' && split.length === 5 && (split[2] === '0' || split[2] === '1')) {
    version = 2;
    fips = split[2] === '1';
    rest = split.slice(3);
  } else {
    return bad();
  }
  const [digest, secret] = rest;
  if (digest.length !== DIGEST_LEN || secret.length !== SECRET_LEN) bad();
  if (!/^[0-9a-z]+$/.test(digest) || !/^[0-9a-z]+$/.test(secret)) bad();
  const n = fromBase36(digest);
  if (n >= 1n << 256n) bad();
  return { version, digestHex: n.toString(16).padStart(64, '0'), secret, fips };
}

/** What P/cluster keeps of a token: SHA-256 of its secret (hex). */
export function tokenSecretHash(token: string): string {
  return createHash('sha256').update(parseJoinToken(token).secret).digest('hex');
}

/** Whether a token's secret is the one whose hash is stored (constant time). */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(tokenSecretHash(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A new cluster key: 256 random bits. */
export function generateClusterKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

function derive(ikm: Buffer | string, salt: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, KEY_BYTES));
}

function seal(key: Buffer, aad: string, plain: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plain), c.final()]);
  return `${SEAL_VERSION}.${Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64')}`;
}

/** The plain bytes, or null when the key, the associated data or the bytes are not the sealed ones. */
function open(key: Buffer, aad: string, sealed: string): Buffer | null {
  const dot = sealed.indexOf('.');
  if (dot < 0 || sealed.slice(0, dot) !== SEAL_VERSION) return null;
  const raw = Buffer.from(sealed.slice(dot + 1), 'base64');
  if (raw.length < NONCE_BYTES + TAG_BYTES) return null;
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), d.final()]);
  } catch {
    return null;
  }
}

function wrapKey(token: string, role: SwarmRole): { key: Buffer; aad: string } {
  const t = parseJoinToken(token);
  return { key: derive(t.secret, t.digestHex, 'berth swarm cluster key wrap v1'), aad: `role:${role}` };
}

/** The cluster key wrapped under a role's token (what P/cluster keeps per role). */
export function wrapClusterKey(clusterKey: Buffer, token: string, role: SwarmRole): string {
  if (clusterKey.length !== KEY_BYTES) throw new SystemError('the cluster key must be 32 bytes');
  const { key, aad } = wrapKey(token, role);
  return seal(key, aad, clusterKey);
}

/** The cluster key, if the token is the one it was wrapped under; else null. */
export function unwrapClusterKey(wrapped: string, token: string, role: SwarmRole): Buffer | null {
  const { key, aad } = wrapKey(token, role);
  const out = open(key, aad, wrapped);
  return out && out.length === KEY_BYTES ? out : null;
}

function tokenKey(clusterKey: Buffer): Buffer {
  if (clusterKey.length !== KEY_BYTES) throw new SystemError('the cluster key must be 32 bytes');
  return derive(clusterKey, '', 'berth swarm join token v1');
}

/** A fresh token for `role` of the cluster and the record P/cluster keeps of it. */
export function issueToken(clusterId: string, role: SwarmRole, clusterKey: Buffer): { token: string; record: TokenRecord } {
  const token = generateJoinToken(clusterDigest(clusterId));
  return {
    token,
    record: {
      secretHash: tokenSecretHash(token),
      wrappedKey: wrapClusterKey(clusterKey, token, role),
      sealedToken: seal(tokenKey(clusterKey), `token:${clusterId}:${role}`, Buffer.from(token)),
    },
  };
}

/** The cluster key, if `token` is the one `record` was issued for (hash checked first); else null. */
export function unlockClusterKey(token: string, role: SwarmRole, record: TokenRecord): Buffer | null {
  if (!tokenMatches(token, record.secretHash)) return null;
  return unwrapClusterKey(record.wrappedKey, token, role);
}

/** The token text, for a manager holding the cluster key ('' if it does not open). */
export function revealToken(clusterId: string, role: SwarmRole, clusterKey: Buffer, record: TokenRecord): string {
  return open(tokenKey(clusterKey), `token:${clusterId}:${role}`, record.sealedToken)?.toString() ?? '';
}

function dataKey(clusterKey: Buffer): Buffer {
  if (clusterKey.length !== KEY_BYTES) throw new SystemError('the cluster key must be 32 bytes');
  return derive(clusterKey, '', 'berth swarm object data v1');
}

/** A secret's or config's payload, sealed for etcd; the object's ID is bound to it. */
export function sealData(clusterKey: Buffer, objectId: string, data: Buffer): string {
  return seal(dataKey(clusterKey), `object:${objectId}`, data);
}

/** The payload sealed for this object, or a SystemError (another key, another object, tampered). */
export function openData(clusterKey: Buffer, objectId: string, sealed: string): Buffer {
  const out = open(dataKey(clusterKey), `object:${objectId}`, sealed);
  if (!out) throw new SystemError(`the sealed data of ${objectId} cannot be opened with this cluster's key`);
  return out;
}
