// Image reference parsing and normalisation: the one place that knows the reference grammar.
// Follows github.com/distribution/reference (ParseNormalizedNamed, ParseDockerRef, TagNameOnly,
// Familiar*) and the digest rules of github.com/opencontainers/go-digest, error texts included,
// because clients match on them. Also holds the rules moby uses to resolve "name or ID" input.

import { InvalidParameter } from '../../lib/errors';

/** A parsed, normalised reference. `domain` and `path` are always set after normalisation. */
export interface Named {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** Maximum length of the path part (after normalisation, so including "library/"). */
export const REPOSITORY_NAME_MAX = 255;

// ---- grammar (distribution/reference regexp.go) ----
// JS regexps are leftmost-first like Go's RE2, so captures agree with the Go implementation.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';

const referenceRe = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredNameRe = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const anchoredTagRe = new RegExp(`^${tagPat}$`);
const anchoredIdentifierRe = /^[a-f0-9]{64}$/;

// ---- digests (go-digest) ----
// Algorithms registered in dockerd (crypto/sha256 and crypto/sha512 are linked in), with the
// length of their hex encoding.
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const goDigestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

const ERR_DIGEST_FORMAT = 'invalid checksum digest format';
const ERR_DIGEST_LENGTH = 'invalid checksum digest length';
const ERR_DIGEST_UNSUPPORTED = 'unsupported digest algorithm';

/** Returns the go-digest validation error text for `s`, or undefined when it is a valid digest. */
export function digestError(s: string): string | undefined {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) return ERR_DIGEST_FORMAT;
  const algorithm = s.slice(0, i);
  const encoded = s.slice(i + 1);
  const hexLength = Object.prototype.hasOwnProperty.call(DIGEST_HEX_LENGTH, algorithm) ? DIGEST_HEX_LENGTH[algorithm] : undefined;
  if (hexLength === undefined) {
    return goDigestRe.test(s) ? ERR_DIGEST_UNSUPPORTED : ERR_DIGEST_FORMAT;
  }
  if (encoded.length !== hexLength) return ERR_DIGEST_LENGTH;
  return /^[a-f0-9]+$/.test(encoded) ? undefined : ERR_DIGEST_FORMAT;
}

export function isValidDigest(s: string): boolean {
  return digestError(s) === undefined;
}

/** Throws InvalidParameter unless `s` is a valid digest (e.g. "sha256:<64 hex>"). */
export function parseDigest(s: string): string {
  const err = digestError(s);
  if (err !== undefined) throw new InvalidParameter(err);
  return s;
}

export function isValidTag(tag: string): boolean {
  return anchoredTagRe.test(tag);
}

// ---- parsing ----

/**
 * reference.Parse: parses an already fully qualified reference. Exported for the rare callers that
 * must not normalise (e.g. checking a canonical name); most code wants parseNormalizedNamed.
 */
export function parseReference(s: string): Named {
  if (s === '') throw new InvalidParameter('repository name must have at least one component');
  const m = referenceRe.exec(s);
  if (m === null) {
    const lower = s.toLowerCase();
    if (lower !== s && referenceRe.test(lower)) {
      throw new InvalidParameter('repository name must be lowercase');
    }
    throw new InvalidParameter('invalid reference format');
  }
  const nameMatch = anchoredNameRe.exec(m[1]);
  const domain = nameMatch?.[1] ?? '';
  const path = nameMatch ? nameMatch[2] : m[1];
  if (path.length > REPOSITORY_NAME_MAX) {
    throw new InvalidParameter(`repository name must not be more than ${REPOSITORY_NAME_MAX} characters`);
  }
  const named: { domain: string; path: string; tag?: string; digest?: string } = { domain, path };
  if (m[2] !== undefined) named.tag = m[2];
  if (m[3] !== undefined) named.digest = parseDigest(m[3]);
  return named;
}

/** splitDockerDomain: decides whether the first path element is a registry host. */
function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) {
    // A single element ("ubuntu", "ubuntu:latest") is always a Docker Hub official image, so that
    // "name:tag" is never mistaken for "host:port".
    return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];
  }
  const maybeDomain = name.slice(0, slash);
  const maybeRemote = name.slice(slash + 1);
  let domain: string;
  let remote: string;
  if (maybeDomain === 'localhost') {
    [domain, remote] = [maybeDomain, maybeRemote];
  } else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) {
    [domain, remote] = [DEFAULT_DOMAIN, maybeRemote];
  } else if (maybeDomain.includes('.') || maybeDomain.includes(':')) {
    [domain, remote] = [maybeDomain, maybeRemote];
  } else if (maybeDomain.toLowerCase() !== maybeDomain) {
    // Namespaces must be lowercase, so an uppercase first element can only be a host name.
    [domain, remote] = [maybeDomain, maybeRemote];
  } else {
    [domain, remote] = [DEFAULT_DOMAIN, name];
  }
  if (domain === DEFAULT_DOMAIN && !remote.includes('/')) remote = OFFICIAL_REPO_PREFIX + remote;
  return [domain, remote];
}

/**
 * ParseNormalizedNamed: parses a familiar or full reference into its normalised form
 * ("busybox" -> docker.io/library/busybox). Does not add a default tag.
 */
export function parseNormalizedNamed(s: string): Named {
  if (anchoredIdentifierRe.test(s)) {
    throw new InvalidParameter(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw new InvalidParameter(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseReference(`${domain}/${remainder}`);
}

/** TagNameOnly: adds ":latest" to a reference that has neither tag nor digest. */
export function tagNameOnly(n: Named): Named {
  if (n.tag === undefined && n.digest === undefined) return { ...n, tag: DEFAULT_TAG };
  return n;
}

/**
 * ParseDockerRef: normalised reference that is either tagged or digested. A bare name gets
 * ":latest"; when both a tag and a digest are given, only the digest is kept (it is what identifies
 * the content).
 */
export function parseDockerRef(s: string): Named {
  const n = parseNormalizedNamed(s);
  if (n.tag !== undefined && n.digest !== undefined) return { domain: n.domain, path: n.path, digest: n.digest };
  return tagNameOnly(n);
}

/** Drops tag and digest. */
export function trimNamed(n: Named): Named {
  return { domain: n.domain, path: n.path };
}

export function withTag(n: Named, tag: string): Named {
  if (!isValidTag(tag)) throw new InvalidParameter('invalid tag format');
  const r: { domain: string; path: string; tag: string; digest?: string } = { domain: n.domain, path: n.path, tag };
  if (n.digest !== undefined) r.digest = n.digest;
  return r;
}

export function withDigest(n: Named, digest: string): Named {
  parseDigest(digest);
  const r: { domain: string; path: string; tag?: string; digest: string } = { domain: n.domain, path: n.path, digest };
  if (n.tag !== undefined) r.tag = n.tag;
  return r;
}

// ---- formatting ----

function suffix(n: Named): string {
  return (n.tag !== undefined ? `:${n.tag}` : '') + (n.digest !== undefined ? `@${n.digest}` : '');
}

/** Name(): "docker.io/library/busybox". */
export function fullName(n: Named): string {
  return n.domain === '' ? n.path : `${n.domain}/${n.path}`;
}

/** String(): the full reference as stored, e.g. "docker.io/library/busybox:latest". */
export function canonicalString(n: Named): string {
  return fullName(n) + suffix(n);
}

/** FamiliarName: Docker Hub domain and the "library/" namespace removed ("busybox", "user/app"). */
export function familiarName(n: Named): string {
  if (n.domain !== DEFAULT_DOMAIN) return fullName(n);
  if (n.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = n.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return n.path;
}

/** FamiliarString: familiar name plus tag and digest ("busybox:latest"). */
export function familiarString(n: Named): string {
  return familiarName(n) + suffix(n);
}

// ---- reference= filter ----

/**
 * The `reference=` filter of GET /images/json. Current moby matches each pattern (path.Match
 * syntax) against the familiar string, the familiar name, the canonical string with default tag
 * and the canonical name, so "busybox", "busybox:*", "docker.io/library/busybox" and "*\/*:latest"
 * all behave as users expect. (dockerd 20.10 only tried the two familiar forms; this is a superset.)
 * A malformed pattern throws InvalidParameter("syntax error in pattern").
 */
export function familiarMatch(pattern: string, n: Named): boolean {
  const targets = [familiarString(n), familiarName(n), canonicalString(tagNameOnly(n)), fullName(n)];
  return targets.some((t) => pathMatch(pattern, t));
}

const BAD_PATTERN = 'syntax error in pattern';

/**
 * Go's path.Match: '*' any run of non-'/' characters, '?' one non-'/' character, '[...]' a class
 * ('^' negates, ranges 'a-z'), '\\' escapes. Throws InvalidParameter on a malformed pattern, also
 * when the name fails to match before the bad part is reached (as Go does).
 */
export function pathMatch(pattern: string, name: string): boolean {
  let pat = Array.from(pattern);
  let s = Array.from(name);
  outer: while (pat.length > 0) {
    const { star, chunk, rest } = scanChunk(pat);
    pat = rest;
    if (star && chunk.length === 0) {
      // Trailing '*' matches the rest of the name unless it crosses a '/'.
      return !s.includes('/');
    }
    const t = matchChunk(chunk, s);
    if (t !== undefined && (t.length === 0 || pat.length > 0)) {
      s = t;
      continue;
    }
    if (star) {
      for (let i = 0; i < s.length && s[i] !== '/'; i++) {
        const t2 = matchChunk(chunk, s.slice(i + 1));
        if (t2 !== undefined) {
          if (pat.length === 0 && t2.length > 0) continue;
          s = t2;
          continue outer;
        }
      }
    }
    // No match: still report a syntax error anywhere in the rest of the pattern.
    while (pat.length > 0) {
      const next = scanChunk(pat);
      pat = next.rest;
      matchChunk(next.chunk, []);
    }
    return false;
  }
  return s.length === 0;
}

function scanChunk(pattern: string[]): { star: boolean; chunk: string[]; rest: string[] } {
  let i = 0;
  let star = false;
  while (i < pattern.length && pattern[i] === '*') {
    i++;
    star = true;
  }
  const start = i;
  let inRange = false;
  for (; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      if (i + 1 < pattern.length) i++;
    } else if (c === '[') {
      inRange = true;
    } else if (c === ']') {
      inRange = false;
    } else if (c === '*' && !inRange) {
      break;
    }
  }
  return { star, chunk: pattern.slice(start, i), rest: pattern.slice(i) };
}

/** Matches `chunk` (no '*') at the start of `s`; returns the remainder, or undefined on mismatch. */
function matchChunk(chunk: string[], s: string[]): string[] | undefined {
  // Like Go, keep scanning after a mismatch so that syntax errors are always reported.
  let failed = false;
  let ci = 0;
  let si = 0;
  while (ci < chunk.length) {
    if (!failed && si >= s.length) failed = true;
    const c = chunk[ci];
    if (c === '[') {
      let r = '';
      if (!failed) r = s[si++];
      ci++;
      let negated = false;
      if (ci < chunk.length && chunk[ci] === '^') {
        negated = true;
        ci++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (ci < chunk.length && chunk[ci] === ']' && nrange > 0) {
          ci++;
          break;
        }
        const lo = getEsc(chunk, ci);
        ci = lo.next;
        let hi = lo.ch;
        if (chunk[ci] === '-') {
          const h = getEsc(chunk, ci + 1);
          hi = h.ch;
          ci = h.next;
        }
        if (!failed && (lo.ch.codePointAt(0) ?? 0) <= (r.codePointAt(0) ?? 0) && (r.codePointAt(0) ?? 0) <= (hi.codePointAt(0) ?? 0)) {
          match = true;
        }
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === '?') {
      if (!failed) {
        if (s[si] === '/') failed = true;
        si++;
      }
      ci++;
    } else {
      let lit = c;
      if (c === '\\') {
        ci++;
        if (ci >= chunk.length) throw new InvalidParameter(BAD_PATTERN);
        lit = chunk[ci];
      }
      if (!failed) {
        if (lit !== s[si]) failed = true;
        si++;
      }
      ci++;
    }
  }
  return failed ? undefined : s.slice(si);
}

function getEsc(chunk: string[], i: number): { ch: string; next: number } {
  if (i >= chunk.length || chunk[i] === '-' || chunk[i] === ']') throw new InvalidParameter(BAD_PATTERN);
  if (chunk[i] === '\\') {
    i++;
    if (i >= chunk.length) throw new InvalidParameter(BAD_PATTERN);
  }
  const ch = chunk[i];
  i++;
  if (i >= chunk.length) throw new InvalidParameter(BAD_PATTERN);
  return { ch, next: i };
}

// ---- "name or ID" input ----

/** An image ID (digest form, "sha256:<hex>") or a name. */
export type AnyReference = { kind: 'id'; id: string } | { kind: 'named'; named: Named };

/**
 * ParseAnyReference: a bare 64-hex identifier or a valid digest is an image ID; anything else must
 * be a name. Note "sha256:abc" (short) is not a digest: it parses as the name "sha256" tagged "abc".
 */
export function parseAnyReference(s: string): AnyReference {
  if (anchoredIdentifierRe.test(s)) return { kind: 'id', id: `sha256:${s}` };
  if (isValidDigest(s)) return { kind: 'id', id: s };
  return { kind: 'named', named: parseNormalizedNamed(s) };
}

/** True for "sha256:<64 hex>" and a bare "<64 hex>" (lowercase, as IDs are stored). */
export function isFullImageId(s: string): boolean {
  return /^(?:sha256:)?[a-f0-9]{64}$/.test(s);
}

/** The ID in stored form, "sha256:<hex>", for input accepted by isFullImageId. */
export function normalizeImageId(s: string): string {
  if (!isFullImageId(s)) throw new InvalidParameter(`invalid image ID: ${s}`);
  return s.startsWith('sha256:') ? s : `sha256:${s}`;
}

/**
 * Whether `s` could be a (possibly truncated) image ID: "<hex>" or "sha256:<hex>", lowercase, 1 to
 * 64 digits. dockerd's graphdriver store (the reference daemon) accepts any prefix length, the
 * containerd store requires 4; we follow the reference. The prefix is only looked up after the
 * name lookup failed, so a short prefix never shadows a tag.
 */
export function looksLikeIdPrefix(s: string): boolean {
  return idPrefixHex(s) !== undefined;
}

/** The hex prefix to match against the hex part of stored IDs, or undefined if `s` can't be one. */
export function idPrefixHex(s: string): string | undefined {
  const hex = s.startsWith('sha256:') ? s.slice('sha256:'.length) : s;
  return /^[a-f0-9]{1,64}$/.test(hex) ? hex : undefined;
}

/**
 * How to resolve the `{name}` of /images/{name}/... (moby daemon/images GetImage):
 *  1. Input that is a full ID ("<64hex>" or "sha256:<64hex>") or any valid digest is looked up as
 *     an image ID only (kind 'id').
 *  2. Otherwise it must parse as a reference (else InvalidParameter with the parse error). The
 *     reference store is consulted with `ref`: tag-only references get ":latest"; with both tag
 *     and digest only the digest counts (repo digest lookup).
 *  3. If no such reference exists and `idPrefix` is set, the input is tried as a unique ID prefix;
 *     an ambiguous prefix is reported as "No such image" like dockerd does.
 * `notFound` is dockerd's error text for when every step fails.
 */
export type ImageLookup = { kind: 'id'; id: string; notFound: string } | { kind: 'ref'; ref: Named; idPrefix?: string; notFound: string };

export function imageLookup(refOrId: string): ImageLookup {
  const parsed = parseAnyReference(refOrId);
  const notFound = noSuchImageMessage(parsed);
  if (parsed.kind === 'id') return { kind: 'id', id: parsed.id, notFound };
  let ref = parsed.named;
  if (ref.tag !== undefined && ref.digest !== undefined) ref = { domain: ref.domain, path: ref.path, digest: ref.digest };
  else ref = tagNameOnly(ref);
  const idPrefix = idPrefixHex(refOrId);
  return idPrefix !== undefined ? { kind: 'ref', ref, idPrefix, notFound } : { kind: 'ref', ref, notFound };
}

/** dockerd's ErrImageDoesNotExist text: "No such image: busybox:latest" / "No such image: sha256:…". */
export function noSuchImageMessage(ref: AnyReference | string): string {
  const parsed = typeof ref === 'string' ? parseAnyReference(ref) : ref;
  if (parsed.kind === 'id') return `No such image: ${parsed.id}`;
  return `No such image: ${familiarString(tagNameOnly(parsed.named))}`;
}

/** `repo` and `tag` query parameters as dockerd combines them (httputils.RepoTagReference). */
export function repoTagReference(repo: string, tag: string): Named {
  if (repo === '') throw new InvalidParameter('repository name must have at least one component');
  const named = parseNormalizedNamed(repo);
  if (named.digest) throw new InvalidParameter('cannot import digest reference');
  return tag !== '' ? withTag(named, tag) : tagNameOnly(named);
}
