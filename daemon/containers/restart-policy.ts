// dockerd's restart manager: whether an exited container comes back, and after how long
// (100 ms doubling up to a minute, reset once a run lasted 10 s).
import type { RestartPolicyName } from './settings';

const DEFAULT_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;

export interface RestartDecision {
  restart: boolean;
  delayMs: number;
}

export class RestartManager {
  private delayMs = 0;
  /** Restarts done by this manager (for on-failure's maximum). */
  private count = 0;
  /** Set when the user stopped or killed the container: its next exit is final. */
  private cancelled = false;

  constructor(
    private policy: RestartPolicyName,
    private maxRetries: number,
  ) {}

  update(policy: RestartPolicyName, maxRetries: number): void {
    this.policy = policy;
    this.maxRetries = maxRetries;
  }

  /** Called at each exit; `ranMs` is how long that run lasted. */
  shouldRestart(exitCode: number, manuallyStopped: boolean, ranMs: number): RestartDecision {
    if (this.policy === 'no' || this.cancelled) return { restart: false, delayMs: 0 };
    if (ranMs >= 10_000) this.delayMs = 0;
    this.delayMs = this.delayMs === 0 ? DEFAULT_DELAY_MS : Math.min(this.delayMs * 2, MAX_DELAY_MS);
    let restart = false;
    switch (this.policy) {
      case 'always':
        restart = true;
        break;
      case 'unless-stopped':
        restart = !manuallyStopped;
        break;
      case 'on-failure':
        if (this.maxRetries === 0 || this.count < this.maxRetries) restart = exitCode !== 0;
        break;
    }
    if (!restart) return { restart: false, delayMs: 0 };
    this.count++;
    return { restart: true, delayMs: this.delayMs };
  }

  /** dockerd's ExitOnNext: whatever the policy, the coming exit does not restart. */
  cancel(): void {
    this.cancelled = true;
  }

  /** A user start resets the back-off and the failure count, as a fresh manager would. */
  reset(): void {
    this.delayMs = 0;
    this.count = 0;
    this.cancelled = false;
  }
}
