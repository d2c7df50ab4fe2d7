import { createRequire } from 'node:module';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { DecodeError } from '../model/errors.js';

const { DCtx } = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;

/** Output produced per decompression step (and the most a body can pass its limit by). */
const STEP = 128 * 1024;

/**
 * Zstandard-decompresses `input` step by step, holding at most `limit` bytes of output: at
 * the first step past it, `tooLarge()` is thrown and nothing more is inflated. The stream
 * decompressor of `zstd-napi` inflates each whole input chunk before its reader sees any of
 * it, so a 6 KB body that inflates to 200 MiB took ~380 MB of memory before a size limit
 * could refuse it; zstd has no bound on its ratio.
 */
export async function* decompressZstdBounded(
  input: AsyncIterable<Buffer>,
  limit: number,
  tooLarge: () => Error,
): AsyncGenerator<Buffer> {
  const dctx = new DCtx();
  let produced = 0;
  let inFrame = false;
  for await (const chunk of input) {
    let src: Uint8Array = chunk;
    for (;;) {
      const dst = Buffer.allocUnsafe(STEP);
      const [left, written, consumed] = dctx.decompressStream(dst, src);
      src = src.subarray(consumed);
      if (written > 0) {
        produced += written;
        if (produced > limit) throw tooLarge();
        yield dst.subarray(0, written);
      }
      // Input used up and nothing more to flush for it: read the next chunk.
      if (src.length === 0 && (written < STEP || left === 0)) {
        inFrame = left !== 0;
        break;
      }
    }
  }
  if (inFrame) throw new DecodeError('the end of the zstd body', 'the rest of its last frame');
}
