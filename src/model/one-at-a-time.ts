/**
 * Runs asynchronous work one piece at a time, in the order it was handed in: each waits for
 * the one before it, and one that fails does not stop the next (its caller gets the error).
 */
export class OneAtATime {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work);
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Resolves once everything handed in so far has run (never rejects). */
  idle(): Promise<unknown> {
    return this.#tail;
  }
}
