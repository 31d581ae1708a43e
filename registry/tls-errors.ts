// Node's TLS failures worded as Go's crypto/tls and net/http word them, so users of Berth see the
// texts they know from dockerd (`x509: certificate signed by unknown authority`, `http: server gave
// HTTP response to HTTPS client`) and the answers people give to those texts still apply.
import net from 'node:net';

/** Go ≥1.20 wraps every verification failure in this (crypto/tls CertificateVerificationError). */
const VERIFY = 'tls: failed to verify certificate: ';

const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_CHAIN_TOO_LONG',
]);

/** OpenSSL's alert names whose Go text (crypto/tls alertText) is not just the name in lower case. */
const ALERT_TEXT: Record<string, string> = {
  UNKNOWN_CA: 'unknown certificate authority',
  PROTOCOL_VERSION: 'protocol version not supported',
  CERTIFICATE_UNKNOWN: 'unknown certificate',
  CERTIFICATE_EXPIRED: 'expired certificate',
  CERTIFICATE_REVOKED: 'revoked certificate',
  DECRYPT_ERROR: 'error decrypting message',
  UNSUPPORTED_CERTIFICATE: 'unsupported certificate',
};

/** What Node hands us on a TLS error: its code, and for a name mismatch the peer's certificate. */
interface NodeTlsError {
  code?: unknown;
  host?: unknown;
  cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } };
}

/** Go's x509.HostnameError text, from Node's ERR_TLS_CERT_ALTNAME_INVALID details. */
function hostnameText(host: string, cert: NodeTlsError['cert']): string {
  const sans = typeof cert?.subjectaltname === 'string' ? cert.subjectaltname.split(/,\s*/) : [];
  const ips = sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice('IP Address:'.length));
  const dns = sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice('DNS:'.length));
  if (sans.length === 0 && typeof cert?.subject?.CN === 'string' && cert.subject.CN.toLowerCase() === host.toLowerCase()) {
    return 'x509: certificate relies on legacy Common Name field, use SANs instead';
  }
  const h = host.replace(/^\[|\]$/g, '');
  let valid: string[];
  if (net.isIP(h) !== 0) {
    if (ips.length === 0) return `x509: cannot validate certificate for ${h} because it doesn't contain any IP SANs`;
    valid = ips;
  } else {
    valid = dns;
  }
  if (valid.length === 0) return `x509: certificate is not valid for any names, but wanted to match ${h}`;
  return `x509: certificate is valid for ${valid.join(', ')}, not ${h}`;
}

/**
 * Go's wording for a TLS failure Node reported, or undefined when `err` is not one we know (the
 * caller keeps Node's message). `host` is the host the request went to.
 */
export function goTlsErrorText(err: Error, host: string): string | undefined {
  const e = err as Error & NodeTlsError;
  const code = typeof e.code === 'string' ? e.code : '';
  if (UNKNOWN_AUTHORITY.has(code)) return `${VERIFY}x509: certificate signed by unknown authority`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `${VERIFY}x509: certificate has expired or is not yet valid`;
  if (code === 'INVALID_PURPOSE') return `${VERIFY}x509: certificate specifies an incompatible key usage`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${VERIFY}${hostnameText(typeof e.host === 'string' ? e.host : host, e.cert)}`;
  // The peer answered the ClientHello with something that is not TLS: in practice a plain-http
  // server's "HTTP/1.x 400". Go checks for "HTTP/" exactly; OpenSSL only says the record is bad.
  // (As a socket write error Node's code is EPROTO and only the message names OpenSSL's reason.)
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    (code === 'EPROTO' && /:(wrong version number|packet length too long):/.test(err.message))
  )
    return 'http: server gave HTTP response to HTTPS client';
  // Alerts the server sent (a client certificate it wanted and did not get, or refused).
  const alert =
    /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code) ??
    (code === 'EPROTO' ? /:(?:sslv3|tlsv1|tlsv13) alert ([a-z ]+):/.exec(err.message) : null);
  if (alert?.[1] !== undefined) {
    const name = alert[1].toUpperCase().replace(/ /g, '_');
    return `remote error: tls: ${ALERT_TEXT[name] ?? name.toLowerCase().replace(/_/g, ' ')}`;
  }
  return undefined;
}
