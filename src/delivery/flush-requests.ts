import type { WakeList } from './wake-list.js';

/**
 * Open requests to hand out what is queued now instead of waiting for the flush interval
 * (`forceFlush`): a queue's `take` stops waiting while one is open.
 */
export class FlushRequests {
  #open = 0;
  readonly #takers: WakeList;

  /** `takers`: who waits in `take`, woken when a request opens. */
  constructor(takers: WakeList) {
    this.#takers = takers;
  }

  get active(): boolean {
    return this.#open > 0;
  }

  /** Opens a request; the function returned closes it (once, however often it is called). */
  begin(): () => void {
    this.#open++;
    this.#takers.wakeAll();
    let ended = false;
    return () => {
      if (!ended) {
        ended = true;
        this.#open--;
      }
    };
  }
}
