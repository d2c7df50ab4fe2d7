import type { HrTime } from '@opentelemetry/api';

const TWO_16 = 65536;
const TWO_32 = 4294967296;
const NANOS = 1e9;

/**
 * Writes `seconds * 1e9 + nanos` as two 32-bit halves at `words[2 * index]`, exactly and
 * without a `bigint`: split so that every intermediate product stays below 2^53.
 */
export function writeHrTime(words: Uint32Array, index: number, time: HrTime): void {
  const seconds = time[0];
  const nanos = time[1];
  const low = (seconds % TWO_16) * NANOS; // < 2^46
  const high = Math.floor(seconds / TWO_16) * NANOS; // < 2^46 until the year 2106
  const highLow = high % TWO_16;
  const sum = highLow * TWO_16 + low + nanos; // < 2^47
  words[2 * index] = sum >>> 0;
  words[2 * index + 1] = (Math.floor(high / TWO_16) + Math.floor(sum / TWO_32)) >>> 0;
}

export function nanosToHrTime(nanos: bigint): HrTime {
  return [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)];
}
