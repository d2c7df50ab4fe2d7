// Snappy block decompression of remote-write bodies: sluice's decoders — the WebAssembly one
// the remote-write receiver uses, and the JavaScript one that names faults — against the
// `snappy` package (Rust's snap crate through N-API), alternating. Each side must give back
// every byte the bodies hold.
import { compressSync, uncompressSync } from 'snappy';
import { encodeWriteRequest } from '../../dist/codec/prometheus/remote-write.js';
import { RemoteWriteWasm } from '../../dist/codec/prometheus/remote-write-wasm.js';
import { uncompressSnappyInto } from '../../dist/codec/prometheus/snappy-block.js';
import { runComparisons, table, writeDocsSection } from '../lib/report.js';

const BODIES = 100;
const SAMPLES = 1000;
// Bodies as Prometheus sends them: series of a few labels, one sample each.
const now = Date.now();
const raw = [];
for (let b = 0; b < BODIES; b++) {
  const timeseries = [];
  for (let s = 0; s < SAMPLES; s++) {
    timeseries.push({
      labels: [
        ['__name__', 'http_requests_total'],
        ['code', String(200 + (s % 3))],
        ['job', 'api'],
        ['route', `/r/${b * SAMPLES + s}`],
      ],
      samples: [{ value: s % 7, timestampMs: now - b }],
    });
  }
  raw.push(Buffer.from(encodeWriteRequest({ timeseries, metadata: [] })));
}
const bodies = raw.map((bytes) => compressSync(bytes));
const totalBytes = raw.reduce((sum, bytes) => sum + bytes.length, 0);

const wasm = new RemoteWriteWasm();
const out = new Uint8Array(1 << 20);
/** Decodes every body; the bytes out, summed (and checked against the originals once). */
const each = (decode) => () => {
  let bytes = 0;
  for (const body of bodies) bytes += decode(body).length;
  return bytes;
};
const checkSamples = (bytes) => (bytes === totalBytes ? BODIES * SAMPLES : -1);
const reference = each((body) => uncompressSync(body));
for (const [name, decode] of [
  ['WebAssembly', (body) => wasm.uncompress(body, 1 << 20)],
  ['JavaScript', (body) => out.subarray(0, uncompressSnappyInto(body, out))],
]) {
  bodies.forEach((body, k) => {
    if (!Buffer.from(decode(body)).equals(raw[k])) throw new Error(`${name}: body ${k} differs`);
  });
}

const results = await runComparisons(
  `Snappy decompression, ${BODIES} remote-write bodies of ${SAMPLES} samples`,
  [
    {
      name: 'uncompress: WebAssembly (the receiver)',
      unit: 'samples/s',
      work: BODIES * SAMPLES,
      check: checkSamples,
      ours: each((body) => wasm.uncompress(body, 1 << 20)),
      baseline: reference,
      baselineName: '`snappy` package uncompressSync',
    },
    {
      name: 'uncompress: JavaScript (names faults)',
      unit: 'samples/s',
      work: BODIES * SAMPLES,
      check: checkSamples,
      ours: each((body) => out.subarray(0, uncompressSnappyInto(body, out))),
      baseline: reference,
      baselineName: '`snappy` package uncompressSync',
    },
  ],
);

if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'codec-snappy',
    [
      `${BODIES} bodies of ${SAMPLES} samples, ${bodies[0].length} bytes compressed and ${raw[0].length} uncompressed each, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
      '',
      table(results),
    ].join('\n'),
  );
}
