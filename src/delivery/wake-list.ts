/**
 * Waiters for one condition ("data queued", "space freed"). `wait` resolves on the next
 * `wakeAll`, after `timeoutMs`, or when `signal` aborts, whichever comes first, and leaves
 * no timer or listener behind.
 */
export class WakeList {
  #waiters = new Set<() => void>();

  wait(timeoutMs?: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        this.#waiters.delete(done);
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs))
        timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  wakeAll(): void {
    for (const done of [...this.#waiters]) done();
  }

  wakeOne(): void {
    const first = this.#waiters.values().next();
    if (!first.done) first.value();
  }

  get size(): number {
    return this.#waiters.size;
  }
}
