import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a secret in constant time whatever the two lengths: both sides are hashed first,
 * so neither the content nor the length of the expected secret leaks through timing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
