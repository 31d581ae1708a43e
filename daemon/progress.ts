// What long-running operations (load, import, pull, build) report as they go. The API layer
// turns each message into one line of dockerd's JSON message stream.

import { humanSize } from '../lib/units';

export interface ProgressMessage {
  status?: string;
  id?: string;
  stream?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
}

export type ProgressSink = (msg: ProgressMessage) => void;

/**
 * The bar dockerd's jsonmessage.JSONProgress draws (the daemon renders it at width 200): a
 * 50-column bar by whole percent halves, then the counts, the current one padded to 8 columns.
 */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return `${humanSize(current).padStart(8)}`;
  const percentage = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const box = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  const numbers = current > total ? humanSize(current) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return box + numbers;
}

/**
 * Rate-limits one layer's byte progress: a report when `minBytes` more arrived or `minMs` passed
 * since the last one, and always the final one, so a large download does not flood the client.
 */
export class ProgressThrottle {
  private lastBytes = -1;
  private lastAt = 0;

  constructor(
    private readonly report: (current: number, total: number) => void,
    private readonly minBytes = 512 * 1024,
    private readonly minMs = 100,
    private readonly now: () => number = Date.now,
  ) {}

  update(current: number, total: number): void {
    const t = this.now();
    const due = this.lastBytes < 0 || current >= total || current - this.lastBytes >= this.minBytes || t - this.lastAt >= this.minMs;
    if (!due || current === this.lastBytes) return;
    this.lastBytes = current;
    this.lastAt = t;
    this.report(current, total);
  }
}
