// The lines of dockerd's push stream (distribution/push_v2.go and xfer/upload.go): per-layer
// statuses keyed by the first 12 hex digits of the layer's diff ID, the final digest line and the
// aux message the CLI and SDKs read the pushed digest from.
import { progressBar, type ProgressMessage } from '../progress';

/** A push stream line: a progress message, or the final aux record. */
export interface PushMessage extends ProgressMessage {
  aux?: { Tag: string; Digest: string; Size: number };
}

export type PushSink = (msg: PushMessage) => void;

/** dockerd's short layer ID: the diff ID's hex, 12 digits. */
export function layerShortId(diffId: string): string {
  const i = diffId.indexOf(':');
  return diffId.slice(i + 1, i + 13);
}

/** A layer status with dockerd's empty progressDetail (`Preparing`, `Waiting`, `Pushed`, …). */
export function layerStatus(diffId: string, status: string): PushMessage {
  return { status, progressDetail: {}, id: layerShortId(diffId) };
}

export function pushingMessage(diffId: string, current: number, total: number): PushMessage {
  return { status: 'Pushing', progressDetail: { current, total }, progress: progressBar(current, total), id: layerShortId(diffId) };
}

export function refersTo(repository: string): PushMessage {
  return { status: `The push refers to repository [${repository}]` };
}

export function digestLine(tag: string, digest: string, size: number): PushMessage {
  return { status: `${tag}: digest: ${digest} size: ${size}` };
}

export function auxMessage(tag: string, digest: string, size: number): PushMessage {
  return { progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: size } };
}

/**
 * Decides which byte counts become `Pushing` lines: every 1/50 of the total (one bar column)
 * and at least 512 KiB apart, so a large layer does not flood the stream. No clock involved.
 */
export class PushThrottle {
  private last = -1;
  private readonly step: number;

  constructor(total: number) {
    this.step = Math.max(512 * 1024, Math.floor(total / 50));
  }

  /** True when `current` should be reported. The first call always is. */
  due(current: number): boolean {
    if (this.last >= 0 && current - this.last < this.step) return false;
    this.last = current;
    return true;
  }
}
