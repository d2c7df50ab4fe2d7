import { createRequire } from 'node:module';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { DecodeError } from '../model/errors.js';

const { DCtx, ResetDirective } = createRequire(import.meta.url)(
  'zstd-napi/binding.js',
) as typeof ZstdBinding;

/** Output produced per decompression step (and the most a body can pass its limit by). */
const STEP = 128 * 1024;

/** A decompression context and the buffer its steps write into. */
interface Inflater {
  dctx: ZstdBinding.DCtx;
  out: Buffer;
}

/**
 * Inflaters kept between bodies. A context allocates its window (megabytes) at its first
 * frame, and the kernel maps those pages afresh each time: a new context and output buffer
 * per body cost 1.0 µs a point on the load generator's 210 KB bodies, a kept one 0.03
 * (a one-off script, alternating). Two cover a receiver's steady state; more bodies at once
 * get fresh ones, so what is kept stays bounded.
 */
const idle: Inflater[] = [];
const MAX_IDLE = 2;

/**
 * Zstandard-decompresses `input` step by step, holding at most `limit` bytes of output: at
 * the first step past it, `tooLarge()` is thrown and nothing more is inflated. The stream
 * decompressor of `zstd-napi` inflates each whole input chunk before its reader sees any of
 * it, so a 6 KB body that inflates to 200 MiB took ~380 MB of memory before a size limit
 * could refuse it; zstd has no bound on its ratio.
 *
 * Each piece yielded is a view of a buffer the next step writes again: copy it before asking
 * for the next (the receivers append it to the request's body).
 */
export async function* decompressZstdBounded(
  input: AsyncIterable<Buffer> | Iterable<Buffer>,
  limit: number,
  tooLarge: () => Error,
): AsyncGenerator<Buffer> {
  const inflater = idle.pop() ?? { dctx: new DCtx(), out: Buffer.allocUnsafe(STEP) };
  const { dctx, out } = inflater;
  try {
    let produced = 0;
    let inFrame = false;
    for await (const chunk of input) {
      let src: Uint8Array = chunk;
      for (;;) {
        const [left, written, consumed] = dctx.decompressStream(out, src);
        src = src.subarray(consumed);
        if (written > 0) {
          produced += written;
          if (produced > limit) throw tooLarge();
          yield out.subarray(0, written);
        }
        // Input used up and nothing more to flush for it: read the next chunk.
        if (src.length === 0 && (written < STEP || left === 0)) {
          inFrame = left !== 0;
          break;
        }
      }
    }
    if (inFrame) throw new DecodeError('the end of the zstd body', 'the rest of its last frame');
  } finally {
    // However the body ended (refused mid-frame, cut short, its reader gone), the next one
    // starts a frame afresh.
    dctx.reset(ResetDirective.sessionOnly);
    if (idle.length < MAX_IDLE) idle.push(inflater);
  }
}
