// Readers must not open a log's set of files while the writer is part-way through renaming them
// (dockerd's fsopMu). Writer and readers live in this process, so an in-process read/write lock
// keyed by the log's path is enough: readers share it to open files, rotation takes it alone.

interface Waiter {
  exclusive: boolean;
  grant: () => void;
}

class RWLock {
  readers = 0;
  writer = false;
  readonly queue: Waiter[] = [];

  acquire(exclusive: boolean): Promise<void> {
    // A queued writer blocks later readers so rotation is not starved.
    if (this.queue.length === 0 && !this.writer && (!exclusive ? true : this.readers === 0)) {
      if (exclusive) this.writer = true;
      else this.readers++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ exclusive, grant: resolve }));
  }

  release(exclusive: boolean): void {
    if (exclusive) this.writer = false;
    else this.readers--;
    while (this.queue.length > 0 && !this.writer) {
      const next = this.queue[0]!;
      if (next.exclusive) {
        if (this.readers > 0) break;
        this.writer = true;
      } else this.readers++;
      this.queue.shift();
      next.grant();
    }
  }

  idle(): boolean {
    return !this.writer && this.readers === 0 && this.queue.length === 0;
  }
}

const locks = new Map<string, RWLock>();

async function withLock<T>(path: string, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
  let lock = locks.get(path);
  if (!lock) {
    lock = new RWLock();
    locks.set(path, lock);
  }
  await lock.acquire(exclusive);
  try {
    return await fn();
  } finally {
    lock.release(exclusive);
    if (lock.idle() && locks.get(path) === lock) locks.delete(path);
  }
}

/** Runs `fn` (which opens the log's files) while no rotation of `path` is under way. */
export function withFilesShared<T>(path: string, fn: () => Promise<T>): Promise<T> {
  return withLock(path, false, fn);
}

/** Runs `fn` (which renames or removes the log's files) while no reader is opening them. */
export function withFilesExclusive<T>(path: string, fn: () => Promise<T>): Promise<T> {
  return withLock(path, true, fn);
}
