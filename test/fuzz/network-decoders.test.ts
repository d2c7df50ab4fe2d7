import fc from 'fast-check';
import { compressSync } from 'snappy';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeWriteRequest, type WriteRequest } from '../../src/codec/prometheus/remote-write.js';
import {
  DecodeError,
  encodeMetricsRequest,
  encodeMetricsRequestJson,
  fromResourceMetrics,
} from '../../src/index.js';
import { BodyTooLargeError } from '../../src/receivers/body-too-large.js';
import { RemoteWriteBodies } from '../../src/receivers/prometheusremotewrite/remote-write-body.js';
import { decodeRequest } from '../../src/receivers/request-decoder.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { fuzzRuns, type Mutation, mutate, mutation, mutations } from '../helpers/mutation.js';
import { refEncode } from '../helpers/reference.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

// Every decoder that reads network bytes, on damaged valid bodies, exactly as the receivers
// call it: the answer is a batch or a DecodeError (a 400 naming the byte), or for a body that
// would inflate past the limit a BodyTooLargeError (413) — never another error, never a hang.
// `npm run fuzz` runs 100,000 cases per decoder; `npm test` 1,000.

const RUNS = fuzzRuns();
const tally: Record<string, { cases: number; accepted: number; refused: number }> = {};

afterAll(() => {
  // One line per decoder for docs/security.md's table.
  for (const [decoder, counts] of Object.entries(tally))
    console.log(JSON.stringify({ fuzz: decoder, ...counts }));
});

function outcome(decoder: string, decode: () => unknown): void {
  tally[decoder] ??= { cases: 0, accepted: 0, refused: 0 };
  const counts = tally[decoder];
  counts.cases++;
  try {
    decode();
    counts.accepted++;
  } catch (err) {
    if (!(err instanceof DecodeError) && !(err instanceof BodyTooLargeError)) throw err;
    counts.refused++;
  }
}

const LIMIT = 1024 * 1024;

describe('network decoders under damaged input', () => {
  it('OTLP protobuf (SDK data and generated requests): a batch or a DecodeError', async () => {
    const sdkBody = encodeMetricsRequest(
      fromResourceMetrics(await collectSdkMetrics({ series: 4 })),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constant(sdkBody),
          metricsRequest.map((r) => refEncode(r)),
        ),
        mutations,
        (body, edits) =>
          outcome('otlp-protobuf', () => decodeRequest('otlp-protobuf', mutate(body, edits))),
      ),
      { numRuns: RUNS },
    );
    expect(tally['otlp-protobuf'].refused).toBeGreaterThan(0);
    expect(tally['otlp-protobuf'].accepted).toBeGreaterThan(0);
  });

  it('OTLP/JSON: a batch or a DecodeError, for text with bytes changed', async () => {
    const json = Buffer.from(
      encodeMetricsRequestJson(fromResourceMetrics(await collectSdkMetrics({ series: 3 }))),
    );
    // JSON punctuation is where a parser's mistakes hide; digits changed into digits keep
    // the text valid JSON and reach the decoder's checks of values (times, counts, enums).
    const digits = [...json.keys()].filter((k) => json[k] >= 0x30 && json[k] <= 0x39);
    const jsonEdit: fc.Arbitrary<Mutation> = fc.oneof(
      mutation,
      fc.record({
        kind: fc.constant('set' as const),
        at: fc.nat(),
        value: fc.constantFrom(...Buffer.from('{}[]":,0123456789-.eE ntfu\\')),
      }),
      fc.record({
        kind: fc.constant('set' as const),
        at: fc.constantFrom(...digits),
        // 1-9: a 0 would make a leading zero, which JSON forbids.
        value: fc.integer({ min: 0x31, max: 0x39 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), (edits) =>
        outcome('otlp-json', () => decodeRequest('otlp-json', mutate(json, edits))),
      ),
      { numRuns: RUNS },
    );
    expect(tally['otlp-json'].refused).toBeGreaterThan(0);
    expect(tally['otlp-json'].accepted).toBeGreaterThan(0);
  });

  const writeRequest: WriteRequest = {
    timeseries: Array.from({ length: 5 }, (_, k) => ({
      labels: [
        ['__name__', 'http_requests_total'],
        ['route', `/r${k}`],
        ['host', 'h1'],
      ] as [string, string][],
      samples: [
        { value: k + 0.5, timestampMs: 1_700_000_000_000 + k },
        { value: k + 1.5, timestampMs: 1_700_000_001_000 + k },
      ],
    })),
    metadata: [{ type: 1, family: 'http_requests_total', help: 'requests', unit: '' }],
  };

  it('remote write as sent (snappy, then protobuf): a batch, a DecodeError or a 413', () => {
    const body = compressSync(Buffer.from(encodeWriteRequest(writeRequest)));
    const bodies = new RemoteWriteBodies();
    fc.assert(
      fc.property(mutations, (edits) =>
        outcome('remote-write-snappy', () => {
          const bytes = bodies.uncompress(mutate(body, edits), 'snappy', LIMIT);
          return decodeRequest('prometheus-remote-write', bytes);
        }),
      ),
      { numRuns: RUNS },
    );
    expect(tally['remote-write-snappy'].refused).toBeGreaterThan(0);
    expect(tally['remote-write-snappy'].accepted).toBeGreaterThan(0);
  });

  it('remote write protobuf (identity): a batch or a DecodeError', () => {
    const body = encodeWriteRequest(writeRequest);
    fc.assert(
      fc.property(mutations, (edits) =>
        outcome('remote-write-protobuf', () =>
          decodeRequest('prometheus-remote-write', mutate(body, edits)),
        ),
      ),
      { numRuns: RUNS },
    );
    expect(tally['remote-write-protobuf'].refused).toBeGreaterThan(0);
    expect(tally['remote-write-protobuf'].accepted).toBeGreaterThan(0);
  });
});
