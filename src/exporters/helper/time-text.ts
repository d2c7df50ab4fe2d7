import type { Words64 } from '../../model/words64.js';

/**
 * The text of a point's u64 nanosecond time, worked out again only when the time changes:
 * an SDK stamps all points of a collection with one time (and one start per instrument), so
 * a batch formats a handful of times instead of a bigint division and a decimal per point.
 */
export class RepeatedTimeText {
  readonly #format: (nanos: bigint) => string;
  #hi = -1;
  #lo = -1;
  #text = '';

  constructor(format: (nanos: bigint) => string) {
    this.#format = format;
  }

  /** The text of `column[i]`. */
  of(column: Words64, i: number): string {
    const words = column.u32;
    const lo = words[2 * i];
    const hi = words[2 * i + 1];
    if (lo !== this.#lo || hi !== this.#hi) {
      this.#lo = lo;
      this.#hi = hi;
      this.#text = this.#format(column.u64[i]);
    }
    return this.#text;
  }
}
