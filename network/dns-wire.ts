// DNS messages as the embedded server reads and writes them (miekg/dns's rules, as dockerd's
// resolver uses it): the one question of a query, replies with the question echoed as it came,
// answers trimmed to the client's size limit, header-only rejections.
import { canonicalIpv6 } from './cidr6';
import * as dnsPacket from 'dns-packet';
import { isIPv4 } from '../lib/addresses';

export const MIN_UDP_SIZE = 512;
export const MAX_MSG_SIZE = 65535;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

export const FLAG_QR = 0x8000;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_CD = 0x0010;

export type Proto = 'udp' | 'tcp';

export interface Query {
  id: number;
  flags: number;
  /** The question section's raw bytes, echoed as they came (dns-packet would re-encode an unknown class as 0). */
  rawQuestion: Buffer;
  qname: string; // as the client wrote it, for the answers' owner name (dockerd keeps its case)
  name: string; // lower-cased, no trailing dot
  qtype: string;
  udpSize: number; // EDNS0 payload size, or 512
}

/** The end offset of the (single) question starting at 12, or -1. */
function questionEnd(msg: Buffer): number {
  let o = 12;
  for (;;) {
    if (o >= msg.length) return -1;
    const len = msg[o];
    if (len === 0) {
      o += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      o += 2;
      break;
    }
    if ((len & 0xc0) !== 0) return -1;
    o += len + 1;
  }
  o += 4;
  return o <= msg.length ? o : -1;
}

export function parseQuery(msg: Buffer): Query | null {
  let decoded: dnsPacket.DecodedPacket;
  try {
    decoded = dnsPacket.decode(msg);
  } catch {
    return null;
  }
  const question = decoded.questions?.[0];
  if (!question || typeof question.name !== 'string') return null;
  const end = questionEnd(msg);
  if (end < 0) return null;
  let udpSize = MIN_UDP_SIZE;
  for (const a of decoded.additionals ?? []) {
    if (a.type === 'OPT' && a.udpPayloadSize > udpSize) udpSize = Math.min(a.udpPayloadSize, MAX_MSG_SIZE);
  }
  return {
    id: msg.readUInt16BE(0),
    flags: msg.readUInt16BE(2),
    rawQuestion: Buffer.from(msg.subarray(12, end)),
    qname: question.name,
    name: question.name.toLowerCase().replace(/\.$/, ''),
    qtype: String(question.type),
    udpSize,
  };
}

/** "4.3.2.1.in-addr.arpa" → "1.2.3.4"; null for anything else (ip6.arpa, partial names). */
export function ptrToIpv4(name: string): string | null {
  const suffix = '.in-addr.arpa';
  if (!name.endsWith(suffix)) return null;
  const ip = name.slice(0, -suffix.length).split('.').reverse().join('.');
  return isIPv4(ip) ? ip : null;
}

/** "1.0.0...0.d.f.ip6.arpa" (32 nibbles) → the IPv6 address in Go's text, else null. */
export function ptrToIpv6(name: string): string | null {
  const suffix = '.ip6.arpa';
  if (!name.endsWith(suffix)) return null;
  const nibbles = name.slice(0, -suffix.length).split('.');
  if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return null;
  const hex = nibbles.reverse().join('');
  return canonicalIpv6((hex.match(/.{4}/g) as string[]).join(':'));
}

/** miekg/dns's answer to a rejected message: the header echoed (same id), QR set, AA and Z
 *  cleared, all counts zero. */
export function headerOnlyReply(msg: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  const flags = msg.readUInt16BE(2);
  const opcode = rcode === RCODE_NOTIMP ? flags & 0x7800 : 0;
  out.writeUInt16BE(msg.readUInt16BE(0), 0);
  out.writeUInt16BE(FLAG_QR | opcode | (flags & (FLAG_TC | FLAG_RD | FLAG_RA | 0x0030)) | rcode, 2);
  return out;
}

/** A reply as miekg's SetReply makes it (id, question, RD and CD copied; RA when `ra`, as
 *  dockerd's createRespMsg), the answers trimmed to the client's size limit (TC over UDP). */
export function reply(q: Query, rcode: number, ra: boolean, answers: dnsPacket.Answer[], proto: Proto): Buffer {
  const max = proto === 'tcp' ? MAX_MSG_SIZE : q.udpSize;
  const base = 12 + q.rawQuestion.length;
  let kept = answers;
  let truncated = false;
  const answersLength = (list: dnsPacket.Answer[]): number => dnsPacket.encodingLength({ answers: list }) - 12;
  while (kept.length > 0 && base + answersLength(kept) > max) {
    kept = kept.slice(0, -1);
    truncated = true;
  }
  const flags = FLAG_QR | (q.flags & (FLAG_RD | FLAG_CD)) | (ra ? FLAG_RA : 0) | (truncated && proto === 'udp' ? FLAG_TC : 0) | rcode;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(kept.length, 6);
  const body = kept.length > 0 ? dnsPacket.encode({ answers: kept }).subarray(12) : Buffer.alloc(0);
  return Buffer.concat([header, q.rawQuestion, body]);
}
