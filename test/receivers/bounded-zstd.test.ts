import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { compress } from 'zstd-napi';
import { SluiceError } from '../../src/model/errors.js';
import { decompressZstdBounded } from '../../src/receivers/bounded-zstd.js';

class TooLarge extends SluiceError {
  constructor() {
    super('SLUICE_ERR_BODY_TOO_LARGE', 'too large');
  }
}

/** What the decompressor yields for `body` sent in `chunk`-byte pieces, and how it ended. */
async function inflate(body: Uint8Array, limit: number, chunk = 16 * 1024) {
  const pieces: Buffer[] = [];
  for (let at = 0; at < body.length; at += chunk)
    pieces.push(Buffer.from(body.subarray(at, at + chunk)));
  let produced = 0;
  let error: unknown;
  const out: Buffer[] = [];
  try {
    for await (const piece of decompressZstdBounded(
      Readable.from(pieces),
      limit,
      () => new TooLarge(),
    )) {
      produced += piece.length;
      out.push(Buffer.from(piece)); // a piece is valid until the next is asked for
    }
  } catch (err) {
    error = err;
  }
  return { produced, error, body: Buffer.concat(out) };
}

describe('decompressZstdBounded', () => {
  it('gives back what was compressed, across chunks and frames', async () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, k) => (k * 7919) % 251));
    const twoFrames = Buffer.concat([
      compress(data.subarray(0, 100_000)),
      compress(data.subarray(100_000)),
    ]);
    const result = await inflate(twoFrames, 1_000_000, 1000);
    expect(result.error).toBeUndefined();
    expect(result.body.equals(data)).toBe(true);
  });

  it('stops a bomb (64 MiB from a few KB) at the limit instead of inflating it', async () => {
    const bomb = compress(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(10_000); // a ratio of several thousand to one
    const limit = 1024 * 1024;
    const result = await inflate(bomb, limit);
    expect(result.error).toBeInstanceOf(TooLarge);
    expect(result.produced).toBeLessThanOrEqual(limit); // the step past it is never handed out
  });

  it('starts each body afresh after one that ended mid-frame (refused, cut short, abandoned)', async () => {
    const data = Buffer.from(Array.from({ length: 400_000 }, (_, k) => (k * 31) % 253));
    const good = compress(data);
    const bomb = compress(Buffer.alloc(64 * 1024 * 1024));
    const cut = compress(Buffer.alloc(300_000, 9)).subarray(0, 500);
    for (const bad of [bomb, cut]) {
      await inflate(bad, 1024 * 1024);
      const after = await inflate(good, 1_000_000, 4096);
      expect(after.error).toBeUndefined();
      expect(after.body.equals(data)).toBe(true);
    }
    // A reader that stops after the first piece (its request failed elsewhere).
    for await (const _ of decompressZstdBounded(
      Readable.from([bomb]),
      1 << 30,
      () => new TooLarge(),
    ))
      break;
    expect((await inflate(good, 1_000_000)).body.equals(data)).toBe(true);
  });

  it('keeps bodies inflated at the same time apart', async () => {
    const bodies = [1, 2, 3, 4].map((seed) =>
      Buffer.from(Array.from({ length: 500_000 }, (_, k) => (k * seed * 7) % 241)),
    );
    // Each body in 1000-byte pieces, one piece of each in turn: every inflation is mid-frame
    // while the others step.
    const results = await Promise.all(bodies.map((data) => inflate(compress(data), 1 << 20, 1000)));
    for (const [k, result] of results.entries()) {
      expect(result.error).toBeUndefined();
      expect(result.body.equals(bodies[k])).toBe(true);
    }
  });

  it('refuses a body cut in the middle of a frame', async () => {
    const body = compress(Buffer.alloc(100_000, 7));
    const result = await inflate(body.subarray(0, body.length - 3), 1_000_000);
    expect((result.error as SluiceError).code).toBe('SLUICE_ERR_DECODE');
  });
});
