// The election recipe on one key: a candidate creates `key` (value: its identity) attached to its
// lease, if the key is absent; the holder is the leader until it resigns or its lease ends (etcd
// then deletes the key). Others watch the key and try again when it goes. The key's create
// revision names the term: a leader guards its writes with `create == term`, so a deposed leader's
// writes fail instead of fighting the next one.

import { errorMessage } from '../../lib/errors';
import type { ClusterKv, ClusterLease, KvWatch } from './kv';

export interface Campaign {
  /** Resolves with the term (the key's create revision) once elected. */
  readonly elected: Promise<number>;
  /** Leaves the race, and the office if held. */
  resign(): Promise<void>;
}

export interface CampaignOptions {
  /** Told of a store error while waiting (the campaign retries after `retryMs`). */
  onError?: (err: Error) => void;
  retryMs?: number;
}

export function campaign(kv: ClusterKv, key: string, value: string, lease: ClusterLease, opts: CampaignOptions = {}): Campaign {
  let stopped = false;
  let term = 0;
  let watch: KvWatch | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let resolveElected: (term: number) => void = () => undefined;
  const elected = new Promise<number>((resolve) => {
    resolveElected = resolve;
  });

  const retryLater = (err: Error): void => {
    opts.onError?.(err);
    if (stopped) return;
    retryTimer = setTimeout(() => void attempt(), opts.retryMs ?? 1000);
    retryTimer.unref();
  };

  const attempt = async (): Promise<void> => {
    if (stopped) return;
    try {
      const r = await kv.txn([{ key, target: 'create', op: '==', revision: 0 }], [{ op: 'put', key, value, lease: lease.id }]);
      if (stopped) return;
      if (r.succeeded) {
        const mine = await kv.get(key);
        if (mine && mine.lease === lease.id) {
          term = mine.createRevision;
          resolveElected(term);
          return;
        }
      }
      const cur = await kv.get(key);
      if (cur?.lease === lease.id) {
        // Ours already (a retry after a lost answer).
        term = cur.createRevision;
        resolveElected(term);
        return;
      }
      const from = (cur?.modRevision ?? r.revision) + 1;
      if (!cur) return void attempt();
      // Events may arrive before watch() has returned (a replay): `w` is read through `current`.
      let current: KvWatch | undefined;
      let gone = false;
      const w = await kv.watch(key, from, {
        onEvents: (events) => {
          if (gone || !events.some((e) => e.type === 'delete' && e.key === key)) return;
          gone = true;
          if (current) void current.cancel();
          if (watch === current) watch = undefined;
          void attempt();
        },
        onError: (err) => {
          if (gone) return;
          gone = true;
          if (watch === current) watch = undefined;
          retryLater(err);
        },
      });
      current = w;
      if (stopped || gone) await w.cancel();
      else watch = w;
    } catch (err) {
      retryLater(err instanceof Error ? err : new Error(errorMessage(err)));
    }
  };

  void attempt();

  return {
    elected,
    resign: async () => {
      stopped = true;
      clearTimeout(retryTimer);
      await watch?.cancel();
      watch = undefined;
      if (term > 0) await kv.txn([{ key, target: 'create', op: '==', revision: term }], [{ op: 'delete', key }]);
    },
  };
}
