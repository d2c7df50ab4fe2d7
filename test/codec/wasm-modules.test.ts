import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in JavaScript, without declarations
import { compileWat } from '../../scripts/build-wasm.js';
import { REMOTE_WRITE_CHECK_WASM } from '../../src/codec/prometheus/remote-write-check-module.js';
import { RemoteWriteWasm } from '../../src/codec/prometheus/remote-write-wasm.js';
import { SNAPPY_WASM } from '../../src/codec/prometheus/snappy-module.js';

describe('the WebAssembly modules', () => {
  it.each([
    ['src/codec/prometheus/snappy.wat', SNAPPY_WASM],
    ['src/codec/prometheus/remote-write-check.wat', REMOTE_WRITE_CHECK_WASM],
  ])(
    'embed the binary their source compiles to: %s (after an edit: `npm run build:wasm`)',
    async (source, embedded) => {
      const binary: Buffer = await compileWat(source);
      expect(embedded).toBe(binary.toString('base64'));
    },
  );

  it('grow the memory for a body larger than it held, and keep decoding small ones', () => {
    const decoder = new RemoteWriteWasm();
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
