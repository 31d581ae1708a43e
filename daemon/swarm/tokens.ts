// Join tokens in dockerd's format and the cluster key they unwrap (docs/swarm.md, "Tokens, the
// cluster key, secrets"). A token is `SWMTKN-1-<digest>-<secret>`: the digest (50 base36 chars)
// names the cluster, the secret (25 base36 chars, 128 random bits) is what proves the right to
// join. P/cluster keeps per role sha256(secret), the cluster key wrapped (AES-256-GCM) under a
// key derived from the secret (HKDF-SHA256), and the token itself sealed under the cluster key, so
// any manager (which holds the cluster key) can show it and etcd alone cannot be used to join.
//
// NOTE for the merge: h/swarm-agent's daemon/swarm/seal.ts was planned to own this; it was not
// there when this was written. Keep one of the two.

import * as crypto from 'node:crypto';

export type TokenRole = 'worker' | 'manager';

export interface TokenRecord {
  /** hex sha256 of the token's secret part. */
  secretHash: string;
  /** The cluster key, AES-256-GCM under HKDF(secret): base64 of nonce | tag | ciphertext. */
  wrappedKey: string;
  /** The whole token, sealed under the cluster key (base64), for managers to show. */
  sealedToken: string;
}

const PREFIX = 'SWMTKN';
const VERSION = '1';
const DIGEST_LEN = 50;
const SECRET_LEN = 25;

function base36(bytes: Buffer, width: number): string {
  const n = BigInt(`0x${bytes.toString('hex') || '0'}`);
  return n.toString(36).padStart(width, '0');
}

/** The digest part of every token of a cluster. */
export function clusterDigest(clusterId: string): string {
  return base36(crypto.createHash('sha256').update(`berth-swarm:${clusterId}`).digest(), DIGEST_LEN);
}

export function newToken(clusterId: string): { token: string; secret: string } {
  const secret = base36(crypto.randomBytes(16), SECRET_LEN);
  return { token: `${PREFIX}-${VERSION}-${clusterDigest(clusterId)}-${secret}`, secret };
}

export interface ParsedToken {
  digest: string;
  secret: string;
}

/** The parts of a well-formed token, or null (dockerd: "invalid join token"). */
export function parseToken(token: string): ParsedToken | null {
  const parts = token.split('-');
  if (parts.length !== 4 || parts[0] !== PREFIX || parts[1] !== VERSION) return null;
  const [, , digest, secret] = parts;
  if (!/^[0-9a-z]+$/.test(digest) || !/^[0-9a-z]+$/.test(secret)) return null;
  if (digest.length !== DIGEST_LEN || secret.length !== SECRET_LEN) return null;
  return { digest, secret };
}

export function secretHash(secret: string): string {
  return crypto.createHash('sha256').update(secret).digest('hex');
}

function seal(key: Buffer, plain: Buffer, aad: string): string {
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([nonce, c.getAuthTag(), ct]).toString('base64');
}

/** The plaintext, or null when the key or the associated data is not the one sealed with. */
function open(key: Buffer, sealed: string, aad: string): Buffer | null {
  const raw = Buffer.from(sealed, 'base64');
  if (raw.length < 28) return null;
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
  } catch {
    return null;
  }
}

function wrappingKey(secret: string, clusterId: string, role: TokenRole): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', secret, clusterId, `berth-swarm-join-${role}`, 32));
}

export function newClusterKey(): Buffer {
  return crypto.randomBytes(32);
}

/** A fresh token for `role` and its record for P/cluster. */
export function issueToken(clusterId: string, role: TokenRole, clusterKey: Buffer): { token: string; record: TokenRecord } {
  const { token, secret } = newToken(clusterId);
  return {
    token,
    record: {
      secretHash: secretHash(secret),
      wrappedKey: seal(wrappingKey(secret, clusterId, role), clusterKey, `${clusterId}/${role}`),
      sealedToken: seal(clusterKey, Buffer.from(token), `${clusterId}/token/${role}`),
    },
  };
}

/** The cluster key, if `secret` is the one `record` was issued for. */
export function unwrapClusterKey(clusterId: string, role: TokenRole, secret: string, record: TokenRecord): Buffer | null {
  const a = Buffer.from(secretHash(secret), 'hex');
  const b = Buffer.from(record.secretHash, 'hex');
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return null;
  return open(wrappingKey(secret, clusterId, role), record.wrappedKey, `${clusterId}/${role}`);
}

/** The token text, for a manager holding the cluster key. */
export function revealToken(clusterId: string, role: TokenRole, clusterKey: Buffer, record: TokenRecord): string {
  return open(clusterKey, record.sealedToken, `${clusterId}/token/${role}`)?.toString() ?? '';
}
