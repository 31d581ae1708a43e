// Time formats dockerd emits, produced from JS dates.

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function zoneSuffix(offsetMinutes: number, utcAsZ: boolean): string {
  if (offsetMinutes === 0 && utcAsZ) return 'Z';
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function localParts(d: Date, offsetMinutes: number): Date {
  // Shift so the UTC getters read local wall-clock time for the given offset.
  return new Date(d.getTime() + offsetMinutes * 60_000);
}

/**
 * Go's time.RFC3339Nano in the process's local zone ("2006-01-02T15:04:05.999999999Z07:00"):
 * trailing zeros of the fraction dropped, "Z" for UTC. `nanos` (0..999999) adds sub-millisecond
 * digits when the caller has them.
 */
export function formatRfc3339Nano(d: Date, nanos = 0): string {
  const offset = -d.getTimezoneOffset();
  const t = localParts(d, offset);
  const frac = (String(t.getUTCMilliseconds()).padStart(3, '0') + String(nanos).padStart(6, '0')).replace(/0+$/, '');
  return (
    `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}` +
    `T${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}` +
    (frac ? `.${frac}` : '') +
    zoneSuffix(offset, true)
  );
}

/** The build-time form dockerd's /version carries: "2006-01-02T15:04:05.000000000+00:00" (UTC). */
export function formatBuildTime(d: Date): string {
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}` +
    `.${String(d.getUTCMilliseconds()).padStart(3, '0')}000000+00:00`
  );
}
