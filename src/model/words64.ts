/**
 * A growable column of 64-bit words seen through every view the hot paths need:
 * doubles, signed and unsigned 64-bit integers, and the 32-bit halves codecs copy to the
 * wire without creating a `bigint` per value.
 */
export type Words64Views = Pick<Words64, 'f64' | 'i64' | 'u64' | 'u32' | 'u8'>;

export class Words64 {
  f64!: Float64Array<ArrayBuffer>;
  i64!: BigInt64Array<ArrayBuffer>;
  u64!: BigUint64Array<ArrayBuffer>;
  /** Low half at `2 * i`, high half at `2 * i + 1` (little-endian). */
  u32!: Uint32Array<ArrayBuffer>;
  /** Raw little-endian bytes, 8 per value: codecs copy them straight to and from the wire. */
  u8!: Uint8Array<ArrayBuffer>;

  /** `views`: the same five views over one buffer that came from another thread. */
  constructor(capacity: number, views?: Words64Views) {
    if (views) {
      this.f64 = views.f64;
      this.i64 = views.i64;
      this.u64 = views.u64;
      this.u32 = views.u32;
      this.u8 = views.u8;
    } else this.#allocate(capacity);
  }

  get capacity(): number {
    return this.f64.length;
  }

  resize(capacity: number, keep: number): void {
    const old = this.u32;
    this.#allocate(capacity);
    this.u32.set(old.subarray(0, keep * 2));
  }

  #allocate(capacity: number): void {
    const buffer = new ArrayBuffer(capacity * 8);
    this.f64 = new Float64Array(buffer);
    this.i64 = new BigInt64Array(buffer);
    this.u64 = new BigUint64Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.u8 = new Uint8Array(buffer);
  }
}

export function growUint32(from: Uint32Array, capacity: number): Uint32Array<ArrayBuffer> {
  const to = new Uint32Array(capacity);
  to.set(from.subarray(0, Math.min(from.length, capacity)));
  return to;
}

export function growInt32(from: Int32Array, capacity: number): Int32Array<ArrayBuffer> {
  const to = new Int32Array(capacity);
  to.set(from.subarray(0, Math.min(from.length, capacity)));
  return to;
}

export function growUint8(from: Uint8Array, capacity: number): Uint8Array<ArrayBuffer> {
  const to = new Uint8Array(capacity);
  to.set(from.subarray(0, Math.min(from.length, capacity)));
  return to;
}

export function growFloat64(from: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const to = new Float64Array(capacity);
  to.set(from.subarray(0, Math.min(from.length, capacity)));
  return to;
}

/** Next capacity when `needed` slots do not fit into `current`. */
export function nextCapacity(current: number, needed: number): number {
  let capacity = Math.max(16, current * 2);
  while (capacity < needed) capacity *= 2;
  return capacity;
}
