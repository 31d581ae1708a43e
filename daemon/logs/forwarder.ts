// Which entries of a log a read hands on, as moby's forwarder: since holds until the first entry
// reaching it, until ends the read, and the stream filter drops the rest.
import type { LogEntry, LogStream, LogTime } from './types';

export type Verdict = 'emit' | 'skip' | 'stop';

export class Forwarder {
  private since: LogTime | undefined;
  constructor(
    since: LogTime | undefined,
    private readonly until: LogTime | undefined,
    private readonly stdout: boolean,
    private readonly stderr: boolean,
  ) {
    this.since = since;
  }

  /** 'emit', 'skip', or 'stop' (past until: nothing more is read) for an entry at sec.nsec. */
  checkAt(sec: number, nsec: number, stream: LogStream): Verdict {
    if (this.since) {
      if (sec < this.since.sec || (sec === this.since.sec && nsec < this.since.nsec)) return 'skip';
      // Later entries may be older (timestamps are not monotonic): stop checking since.
      this.since = undefined;
    }
    const until = this.until;
    if (until && (sec > until.sec || (sec === until.sec && nsec > until.nsec))) return 'stop';
    return (stream === 'stdout' ? this.stdout : this.stderr) ? 'emit' : 'skip';
  }

  check(e: LogEntry): Verdict {
    return this.checkAt(Math.floor(e.time.getTime() / 1000), e.nsec, e.stream);
  }
}
