// Content digests as the distribution spec writes them (`sha256:<64 hex>`; sha384/sha512 accepted).
import { createHash, type Hash } from 'node:crypto';

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function digestAlgorithm(d: string): 'sha256' | 'sha384' | 'sha512' {
  return d.slice(0, d.indexOf(':')) as 'sha256' | 'sha384' | 'sha512';
}

export function digestOf(bytes: Buffer, algorithm: 'sha256' | 'sha384' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Incremental digest of a stream's bytes. */
export class Digester {
  private readonly hash: Hash;
  size = 0;
  constructor(readonly algorithm: 'sha256' | 'sha384' | 'sha512' = 'sha256') {
    this.hash = createHash(algorithm);
  }
  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }
  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}
