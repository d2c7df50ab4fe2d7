import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { compress } from 'zstd-napi';
import { ZstdThread } from '../../src/exporters/helper/zstd-thread.js';

// Node runs compiled workers only: the thread under test loads the built zstd worker.
const builtWorker = new URL('../../dist/exporters/helper/zstd-worker.js', import.meta.url);
const crashing = new URL('../helpers/crashing-zstd-worker.mjs', import.meta.url);
let thread: ZstdThread | undefined;
afterEach(async () => {
  await thread?.close();
  thread = undefined;
});

/** `length` bytes of metric-like text that compresses, but not to nothing. */
function body(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i % 7 === 0 ? 0x20 : 0x61 + ((x >>> 16) % 20);
  }
  return out;
}

/** Event-loop turns that pass while `work` is pending. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ turns: number; result: T }> {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const result = await work();
  done = true;
  return { turns, result };
}

describe('ZstdThread', () => {
  it('compresses on its worker into the frames zstd makes on this thread, leaving the bodies whole', async () => {
    thread = new ZstdThread({ workerUrl: builtWorker, minBodyBytes: 0 });
    // A Buffer's view of a larger buffer (an encoder's reused one), a whole buffer, a tiny body.
    const large = Buffer.from(body(600_000, 7));
    const inputs = [large.subarray(1000, 400_000), body(200_000, 3), body(10, 5)];
    let jobs = 0;
    for (const input of inputs) {
      for (const level of [1, 3, 19]) {
        const frame = await thread.compress(input, level);
        jobs++;
        expect(Buffer.from(frame).equals(compress(input, { compressionLevel: level }))).toBe(true);
      }
    }
    expect(thread.stats).toEqual({ onThread: jobs, here: 0 });
    // Nothing the caller holds was moved away (a retry sends the same body again).
    expect(large.byteLength).toBe(600_000);
    expect(inputs[1].byteLength).toBe(200_000);
  });

  it('keeps the calling thread free while a large body is compressed', async () => {
    const input = body(4 * 1024 * 1024);
    thread = new ZstdThread({ workerUrl: builtWorker });
    const onWorker = await turnsDuring(() => thread!.compress(input, 3));
    expect(onWorker.turns).toBeGreaterThan(0);
    // The same body compressed on this thread (as before the worker): no turn passes.
    const here = new ZstdThread({ workerUrl: builtWorker, minBodyBytes: Number.POSITIVE_INFINITY });
    const onCaller = await turnsDuring(() => here.compress(input, 3));
    expect(onCaller.turns).toBe(0);
    expect(Buffer.from(onWorker.result).equals(Buffer.from(onCaller.result))).toBe(true);
  });

  it('compresses small bodies on the calling thread', async () => {
    thread = new ZstdThread({ workerUrl: builtWorker });
    const input = body(1000);
    const frame = await thread.compress(input, 3);
    expect(Buffer.from(frame).equals(compress(input, { compressionLevel: 3 }))).toBe(true);
    expect(thread.stats).toEqual({ onThread: 0, here: 1 });
  });

  it('compresses here what a dying worker had, and stops starting workers that keep dying', async () => {
    thread = new ZstdThread({ workerUrl: crashing, minBodyBytes: 0 });
    const inputs = [
      body(50_000, 1),
      body(60_000, 2),
      body(70_000, 3),
      body(80_000, 4),
      body(90_000, 5),
    ];
    for (const input of inputs) {
      const frame = await thread.compress(input, 3);
      expect(Buffer.from(frame).equals(compress(input, { compressionLevel: 3 }))).toBe(true);
    }
    expect(thread.stats).toEqual({ onThread: 0, here: inputs.length });
  });

  it('holds the process open while it compresses, and not once idle', async () => {
    // A script whose only pending work is one compression, on a worker already started (and
    // idle) for an earlier one: it must print the frame's length (the worker is referenced
    // while it works) and then exit by itself (unreferenced when idle again).
    const module = fileURLToPath(
      new URL('../../dist/exporters/helper/zstd-thread.js', import.meta.url),
    );
    const script = `
      const { zstdThread } = await import(${JSON.stringify(module)});
      const body = new Uint8Array(1 << 21).map((_, i) => (i * 2654435761) >>> 27);
      await zstdThread.compress(body, 3);
      zstdThread.compress(body, 3).then((frame) => console.log('frame', frame.length, zstdThread.stats.onThread));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', script],
      { timeout: 20_000 },
    );
    expect(stdout).toMatch(/^frame \d+ 2\n$/);
  });
});
