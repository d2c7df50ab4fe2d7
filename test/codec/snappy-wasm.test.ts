import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in JavaScript, without declarations
import { compileWat } from '../../scripts/build-wasm.js';
import { SNAPPY_WASM } from '../../src/codec/prometheus/snappy-module.js';
import { SnappyWasmDecoder } from '../../src/codec/prometheus/snappy-wasm.js';

describe('the WebAssembly snappy decoder', () => {
  it('embeds the binary its source compiles to (run `npm run build:wasm` after editing snappy.wat)', async () => {
    const binary: Buffer = await compileWat('src/codec/prometheus/snappy.wat');
    expect(SNAPPY_WASM).toBe(binary.toString('base64'));
  });

  it('grows its memory for a body larger than it held, and keeps decoding small ones', () => {
    const decoder = new SnappyWasmDecoder();
    const small = Buffer.from('__name__ up job node '.repeat(20));
    // Several 64 KiB pages of output, and an incompressible part that makes the block large.
    const large = Buffer.concat([
      Buffer.from('route /r/1 '.repeat(30_000)),
      Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251)),
    ]);
    expect(Buffer.from(decoder.uncompress(compressSync(small), 2 ** 20)).equals(small)).toBe(true);
    expect(Buffer.from(decoder.uncompress(compressSync(large), 2 ** 20)).equals(large)).toBe(true);
    expect(Buffer.from(decoder.uncompress(compressSync(small), 2 ** 20)).equals(small)).toBe(true);
  });
});
