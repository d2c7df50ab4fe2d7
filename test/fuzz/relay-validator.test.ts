import fc from 'fast-check';
import { compressSync } from 'snappy';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeWriteRequest,
  encodeWriteRequest,
  type WriteRequest,
} from '../../src/codec/prometheus/remote-write.js';
import { remoteWriteToBatch } from '../../src/codec/prometheus/remote-write-to-batch.js';
import { RemoteWriteWasm } from '../../src/codec/prometheus/remote-write-wasm.js';
import { RemoteWriteValidator } from '../../src/codec/prometheus/validate-write-request.js';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { OtlpRequestValidator } from '../../src/codec/protobuf/validate-request.js';
import { seriesKeysOfBatch } from '../../src/delivery/in-flight-series.js';
import { encodeMetricsRequest, fromResourceMetrics, type MetricBatch } from '../../src/index.js';
import { type AttributeLimits, checkAttributeLimits } from '../../src/model/attribute-limits.js';
import { DecodeError, SluiceError } from '../../src/model/errors.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { fuzzRuns, mutate, mutations } from '../helpers/mutation.js';
import { refEncode } from '../helpers/reference.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

// The relay (`otlp → batch → otlp` without decoding) hands on the bytes the validator takes,
// so it must never take a body the receiver's decoder and attribute limits refuse; for a body
// it takes, its point count and series keys must be the decoded batch's.

const RUNS = fuzzRuns();
const seen = { cases: 0, refusedByBoth: 0, leftToDecoder: 0, takenByBoth: 0 };
afterAll(() => console.log(JSON.stringify({ fuzz: 'otlp-relay-validator', ...seen })));

const roomy: AttributeLimits = { maxAttributes: 128, maxValueBytes: 16 * 1024 };
// Tight limits, so generated and SDK requests cross them often.
const tight: AttributeLimits = { maxAttributes: 2, maxValueBytes: 12 };

/** The receiver's path: decode, then the attribute limits; undefined when refused. */
function decoded(body: Uint8Array, limits: AttributeLimits): MetricBatch | undefined {
  try {
    const batch = decodeMetricsRequest(body);
    checkAttributeLimits(batch, limits);
    return batch;
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    return undefined;
  }
}

function sortedKeys(keys: ArrayLike<number> | undefined): number[] {
  return [...new Set(Array.from(keys ?? []))].sort((a, b) => a - b);
}

function check(body: Uint8Array, limits: AttributeLimits): void {
  seen.cases++;
  const batch = decoded(body, limits);
  const before = Buffer.from(body);
  const taken = new OtlpRequestValidator(limits).validate(body);
  // The validator hashes attribute runs in place (tags set and put back): nothing changes.
  expect(Buffer.from(body).equals(before)).toBe(true);
  if (!batch) {
    expect(taken, 'the validator took a body the decoder refuses').toBeUndefined();
    seen.refusedByBoth++;
    return;
  }
  if (!taken) {
    seen.leftToDecoder++; // decoded as usual: allowed, only slower
    return;
  }
  seen.takenByBoth++;
  expect(taken.bytes).toBe(body);
  expect(taken.points).toBe(batch.pointCount);
  expect(sortedKeys(taken.seriesKeys)).toEqual(sortedKeys(seriesKeysOfBatch(batch)));
}

/** A length-delimited field: its tag bytes, a one-byte length, the body. */
const field = (tag: number[], body: Uint8Array) => Uint8Array.from([...tag, body.length, ...body]);
/** A `KeyValue` with a string value, of raw key and value bytes. */
const attribute = (key: Uint8Array, value: Uint8Array) =>
  Buffer.concat([field([0x0a], key), field([0x12], field([0x0a], value))]);
/** A `KeyValue` with an int value, of raw key bytes. */
const intAttribute = (key: Uint8Array) =>
  Buffer.concat([field([0x0a], key), field([0x12], Uint8Array.from([0x18, 5]))]);
const time = Uint8Array.from([0x19, 1, 0, 0, 0, 0, 0, 0, 0]);
const value = Uint8Array.from([0x31, 7, 0, 0, 0, 0, 0, 0, 0]);
/** A request of one metric `g` whose data field `dataTag` (gauge: 0x2a) holds `points`, written by hand. */
const metricRequest = (dataTag: number, points: Uint8Array) =>
  field(
    [0x0a],
    field(
      [0x12],
      field([0x12], Buffer.concat([field([0x0a], Buffer.from('g')), field([dataTag], points)])),
    ),
  );
/** A request of one gauge `g` with one point. */
const request = (point: Uint8Array) => metricRequest(0x2a, field([0x0a], point));

describe('the relay validator against the decoder', () => {
  it('takes every valid request the encoder writes, with its points and series keys', async () => {
    const sdk = [
      await collectSdkMetrics({ series: 6 }),
      await collectSdkMetrics({ series: 3, exponential: true }),
    ];
    for (const metrics of sdk) {
      const body = encodeMetricsRequest(fromResourceMetrics(metrics));
      const taken = new OtlpRequestValidator(roomy).validate(body);
      const batch = decodeMetricsRequest(body);
      expect(taken?.points).toBe(batch.pointCount);
      expect(sortedKeys(taken?.seriesKeys)).toEqual(sortedKeys(seriesKeysOfBatch(batch)));
    }
  });

  it('never takes a body the decoder or the limits refuse (generated and damaged bodies, property)', async () => {
    const sdkBody = encodeMetricsRequest(
      fromResourceMetrics(await collectSdkMetrics({ series: 4, exponential: true })),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constant(sdkBody),
          metricsRequest.map((r) => refEncode(r)),
        ),
        fc.option(mutations, { freq: 3 }),
        fc.boolean(),
        (body, edits, tightLimits) =>
          check(edits ? mutate(body, edits) : body, tightLimits ? tight : roomy),
      ),
      { numRuns: RUNS },
    );
    expect(seen.refusedByBoth).toBeGreaterThan(0);
    expect(seen.takenByBoth).toBeGreaterThan(0);
  });

  it("gives a point's key whether its attributes lie back to back or not, and leaves the bytes as they were", () => {
    // Attributes (field 7, tag 0x3a) around the time field, with a tag written in two bytes
    // (0xba 0x00), and back to back.
    const text = (s: string) => Buffer.from(s, 'utf8');
    const a = attribute(text('host'), text('h1'));
    const b = attribute(text('route'), text('/x'));
    const points = [
      Buffer.concat([field([0x3a], a), field([0x3a], b), time, value]),
      Buffer.concat([field([0x3a], a), time, field([0x3a], b), value]),
      Buffer.concat([time, field([0xba, 0x00], a), field([0x3a], b), value]),
      Buffer.concat([field([0x3a], a), field([0xba, 0x00], b), time, value]),
    ];
    const keys = points.map((point) => {
      const body = request(point);
      const before = Buffer.from(body);
      const taken = new OtlpRequestValidator(roomy).validate(body);
      expect(Buffer.from(body).equals(before)).toBe(true);
      const batch = decodeMetricsRequest(body);
      expect(sortedKeys(taken?.seriesKeys)).toEqual(sortedKeys(seriesKeysOfBatch(batch)));
      return taken?.seriesKeys?.[0];
    });
    // One series, one key, however it was written.
    expect(new Set(keys).size).toBe(1);
  });

  it('never takes key or value text that is not UTF-8, whatever its length and wherever the bad byte is', () => {
    // The check of plain attributes reads text a word at a time, the last word where the
    // text ends: a bad byte must be found in texts shorter than a word (a key beside an int
    // value), in the first word and in the last.
    for (let length = 1; length <= 9; length++) {
      for (let at = 0; at < length; at++) {
        const clean = new Uint8Array(length).fill(0x61);
        const bad = clean.slice();
        bad[at] = 0xff;
        const cases: [Uint8Array, Uint8Array | undefined][] = [
          [clean, clean],
          [bad, clean],
          [clean, bad],
          [clean, undefined],
          [bad, undefined],
        ];
        for (const [key, text] of cases) {
          const entry = text ? attribute(key, text) : intAttribute(key);
          const body = request(Buffer.concat([field([0x3a], entry), time, value]));
          const taken = new OtlpRequestValidator(roomy).validate(body);
          if (key === clean && text !== bad) expect(taken?.points, `${length}`).toBe(1);
          else {
            expect(() => decodeMetricsRequest(body)).toThrow(DecodeError);
            expect(taken, `length ${length}, bad byte at ${at}`).toBeUndefined();
          }
        }
      }
    }
  });

  it('never takes a point whose last 8-byte field its length cuts short, of any kind', () => {
    // The field ends the body, so a check that let the value run past the point would also
    // end every enclosing message and take the body.
    const count = Uint8Array.from([0x21, 3, 0, 0, 0, 0, 0, 0, 0]);
    const kinds: [name: string, dataTag: number, last: Uint8Array][] = [
      ['gauge', 0x2a, value],
      ['histogram', 0x4a, count],
      ['exponential histogram', 0x52, count],
      ['summary', 0x5a, count],
    ];
    for (const [name, dataTag, last] of kinds) {
      const whole = metricRequest(dataTag, field([0x0a], Buffer.concat([time, last])));
      expect(new OtlpRequestValidator(roomy).validate(whole), name).toBeDefined();
      for (let keep = 1; keep < last.length; keep++) {
        const point = Buffer.concat([time, last.subarray(0, keep)]);
        const body = metricRequest(dataTag, field([0x0a], point));
        expect(() => decodeMetricsRequest(body), name).toThrow(DecodeError);
        expect(new OtlpRequestValidator(roomy).validate(body), `${name}, ${keep}`).toBeUndefined();
      }
    }
  });

  it("never takes a point whose length cuts its last attribute short (the attribute's bytes follow it)", () => {
    // The attribute's last two bytes, once cut off the point, read as an empty point.
    const point = Buffer.concat([
      time,
      value,
      field([0x3a], attribute(Buffer.from('k'), Buffer.from('v\n\0'))),
    ]);
    expect(new OtlpRequestValidator(roomy).validate(request(point))).toBeDefined();
    for (const cut of [1, 2, 3]) {
      const points = Buffer.concat([Uint8Array.from([0x0a, point.length - cut]), point]);
      const body = metricRequest(0x2a, points);
      expect(() => decodeMetricsRequest(body)).toThrow(DecodeError);
      expect(new OtlpRequestValidator(roomy).validate(body), `cut ${cut}`).toBeUndefined();
    }
  });

  it('refuses what the decoder refuses for the reasons it gives', () => {
    const body = encodeMetricsRequest(fromResourceMetricsOf());
    // Sanity: the clean body is taken.
    expect(new OtlpRequestValidator(roomy).validate(body)).toBeDefined();
    const cut = body.subarray(0, body.length - 1);
    expect(() => decodeMetricsRequest(cut)).toThrow(DecodeError);
    expect(new OtlpRequestValidator(roomy).validate(cut)).toBeUndefined();
  });
});

describe('the remote-write relay validator against the decoder', () => {
  const base: WriteRequest = {
    timeseries: Array.from({ length: 4 }, (_, k) => ({
      labels: [
        ['__name__', k % 2 ? 'http_requests_total' : 'latency_bucket'],
        ['job', 'api'],
        ['le', String(k)],
        ['route', `/r${k}`],
      ] as [string, string][],
      samples: [{ value: k + 0.5, timestampMs: 1_700_000_000_000 + k }],
    })),
    metadata: [{ type: 1, family: 'http_requests_total', help: 'requests', unit: '' }],
  };
  const rwSeen = { cases: 0, refusedByBoth: 0, leftToDecoder: 0, takenByBoth: 0 };
  afterAll(() => console.log(JSON.stringify({ fuzz: 'remote-write-relay-validator', ...rwSeen })));

  it('never takes a body the decoder or the limits refuse, and counts every sample (property)', () => {
    const body = encodeWriteRequest(base);
    fc.assert(
      fc.property(fc.option(mutations, { freq: 4 }), fc.boolean(), (edits, tightLimits) => {
        rwSeen.cases++;
        const damaged = edits ? mutate(body, edits) : body;
        const limits = tightLimits ? tight : roomy;
        let samples = -1;
        try {
          const request = decodeWriteRequest(damaged);
          checkAttributeLimits(remoteWriteToBatch(request), limits);
          samples = request.timeseries.reduce((n, series) => n + series.samples.length, 0);
        } catch (err) {
          expect(err).toBeInstanceOf(SluiceError);
        }
        const taken = new RemoteWriteValidator(limits).validate(damaged);
        if (samples === -1) {
          expect(taken, 'the validator took a body the decoder refuses').toBeUndefined();
          rwSeen.refusedByBoth++;
        } else if (!taken) rwSeen.leftToDecoder++;
        else {
          rwSeen.takenByBoth++;
          expect(taken.points).toBe(samples);
        }
      }),
      { numRuns: RUNS },
    );
    expect(rwSeen.refusedByBoth).toBeGreaterThan(0);
    expect(rwSeen.takenByBoth).toBeGreaterThan(0);
  });

  it('answers in WebAssembly as in JavaScript: taken or not, its samples and keys (property)', () => {
    // The receiver's path: the WebAssembly check of what its snappy decoder just wrote.
    const wasm = new RemoteWriteWasm();
    const answer = (taken: ReturnType<RemoteWriteValidator['validate']>) =>
      taken && { points: taken.points, keys: taken.seriesKeys && [...taken.seriesKeys] };
    const body = encodeWriteRequest(base);
    // The clean body is checked there, not handed to the JavaScript validator.
    expect(wasm.check(wasm.uncompress(compressSync(Buffer.from(body)), 2 ** 20), roomy)).toEqual({
      points: 4,
      seriesKeys: new RemoteWriteValidator(roomy).validate(body)?.seriesKeys,
    });
    // Requests of any shape: label counts and value sizes on both sides of the limits, text
    // beyond ASCII and over 127 bytes (a two-byte length), metadata types past 7.
    const text = fc.oneof(
      { weight: 6, arbitrary: fc.string({ maxLength: 14 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
      { weight: 1, arbitrary: fc.string({ minLength: 120, maxLength: 140 }) },
    );
    const request = fc.record({
      timeseries: fc.array(
        fc.record({
          labels: fc.array(fc.tuple(text, text), { maxLength: 5 }),
          samples: fc.array(
            fc.record({
              value: fc.double(),
              timestampMs: fc.integer({ min: -(2 ** 40), max: 2 ** 45 }),
            }),
            { maxLength: 3 },
          ),
        }),
        { maxLength: 4 },
      ),
      metadata: fc.array(fc.record({ type: fc.nat(9), family: text, help: text, unit: text }), {
        maxLength: 2,
      }),
    });
    // Varints of 10 and 11 bytes where a tag, a length or a timestamp goes.
    const long = (bytes: number, last = 0) => [...Array(bytes - 1).fill(0x80), last];
    const crafted = [
      [0x0a, ...long(10, 0x00)],
      [0x0a, ...long(11)],
      [0x0a, 0x0b, 0x12, 0x09, 0x10, ...long(10, 0x01)],
      [0x0a, 0x0c, 0x12, 0x0a, 0x10, ...long(11)],
      [...long(10, 0x00)],
      // A sample whose timestamp varint runs to 11 bytes, after the value as clients write it.
      [0x0a, 0x17, 0x12, 0x15, 0x09, ...Array(8).fill(0), 0x10, ...long(11)],
      // A label declaring one byte more than its series holds (the byte after would do).
      [0x0a, 0x05, 0x0a, 0x04, 0x0a, 0x02, 0x61, 0x62],
      // A label field whose length byte is over 0x7f (a second varint byte follows): refused,
      // though read as one byte it would end just where the label does.
      (() => {
        const label = [0x0a, 0x85, 0x01, ...Array(132).fill(0x61)];
        const series = [0x0a, 0x87, 0x01, ...label];
        return [0x0a, 0x8a, 0x01, ...series];
      })(),
    ].map((bytes) => Uint8Array.from(bytes));
    const limits = fc.record({
      maxAttributes: fc.nat(6),
      maxValueBytes: fc.nat(24),
    });
    const seen = { cases: 0, taken: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.oneof(
          { weight: 4, arbitrary: request.map((r) => encodeWriteRequest(r)) },
          {
            weight: 3,
            arbitrary: fc
              .tuple(request, mutations)
              .map(([r, edits]) => mutate(encodeWriteRequest(r), edits)),
          },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
          { weight: 1, arbitrary: fc.constantFrom(...crafted) },
        ),
        fc.oneof(limits, fc.constant(roomy)),
        (bytes, limits) => {
          const inJs = answer(new RemoteWriteValidator(limits).validate(bytes));
          const inPlace = wasm.uncompress(compressSync(Buffer.from(bytes)), 2 ** 20);
          const inWasm = answer(new RemoteWriteValidator(limits, wasm).validate(inPlace));
          expect(inWasm).toEqual(inJs);
          seen.cases++;
          if (inJs) seen.taken++;
          else seen.refused++;
        },
      ),
      { numRuns: fuzzRuns(1000) },
    );
    console.log(JSON.stringify({ fuzz: 'remote-write-check-wasm', ...seen }));
    expect(seen.taken).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });

  it('takes label text that is UTF-8 beyond ASCII, and never text that is not', () => {
    const withText = (value: string) =>
      encodeWriteRequest({
        timeseries: [
          {
            labels: [
              ['__name__', 'requests_total'],
              ['city', value],
            ],
            samples: [{ value: 1, timestampMs: 1 }],
          },
        ],
        metadata: [],
      });
    const validator = new RemoteWriteValidator(roomy);
    for (const text of ['Zürich', '東京', 'plain']) {
      expect(validator.validate(withText(text))?.points, text).toBe(1);
    }
    // The same length of bytes, one of them not UTF-8 (a lone continuation byte, 0xff).
    for (const bad of [0x80, 0xff]) {
      const body = withText('Zurich');
      body[body.lastIndexOf('u'.charCodeAt(0))] = bad;
      expect(() => decodeWriteRequest(body)).toThrow(SluiceError);
      expect(validator.validate(body)).toBeUndefined();
    }
  });

  it('keys a series by its labels: the same labels one key, other labels another', () => {
    const keysOf = (routes: string[]) =>
      new RemoteWriteValidator(roomy).validate(
        encodeWriteRequest({
          timeseries: routes.map((route) => ({
            labels: [
              ['__name__', 'requests_total'],
              ['route', route],
            ] as [string, string][],
            samples: [{ value: 1, timestampMs: 1 }],
          })),
          metadata: [],
        }),
      )?.seriesKeys;
    const routes = Array.from({ length: 2000 }, (_, k) => `/r/${k}`);
    const keys = [...(keysOf(routes) ?? [])];
    expect(new Set(keys).size).toBe(routes.length);
    expect([...(keysOf(['/r/7', '/r/1999']) ?? [])]).toEqual([keys[7], keys[1999]]);
  });
});

/** A small request of one gauge point with two attributes, built through the public model. */
function fromResourceMetricsOf(): MetricBatch {
  const batch = decodeMetricsRequest(
    refEncode({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'g',
                  gauge: {
                    dataPoints: [
                      {
                        asDouble: 1.5,
                        timeUnixNano: '7',
                        attributes: [
                          { key: 'a', value: { stringValue: 'x' } },
                          { key: 'b', value: { intValue: 3 } },
                        ],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    }),
  );
  return batch;
}
