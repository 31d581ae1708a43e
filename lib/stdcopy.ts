// dockerd's stdout/stderr multiplexing (moby pkg/stdcopy): each frame is an 8-byte header
// [stream, 0, 0, 0, payload size as big-endian uint32] and the payload. Here, not in api/,
// because the log reader writes frames straight into its output buffers.

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
/** dockerd's "systemerr" stream: a daemon-side error that ends the stream. */
export const SYSTEMERR = 3;

export type StreamType = typeof STDIN | typeof STDOUT | typeof STDERR | typeof SYSTEMERR;

export const FRAME_HEADER = 8;

/** The header of a frame of `size` bytes for `type`, at out[at, at + 8). */
export function writeFrameHeader(out: Buffer, at: number, type: StreamType, size: number): void {
  out[at] = type;
  out[at + 1] = 0;
  out[at + 2] = 0;
  out[at + 3] = 0;
  out.writeUInt32BE(size, at + 4);
}

/** Frames `payload` for stream `type`. */
export function encodeFrame(type: StreamType, payload: Buffer | string): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const out = Buffer.allocUnsafe(FRAME_HEADER + data.length);
  writeFrameHeader(out, 0, type, data.length);
  data.copy(out, FRAME_HEADER);
  return out;
}
