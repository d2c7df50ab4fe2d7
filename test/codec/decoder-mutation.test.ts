import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeWriteRequest,
  encodeWriteRequest,
  type WriteRequest,
} from '../../src/codec/prometheus/remote-write.js';
import {
  DecodeError,
  decodeMetricsRequestJson,
  encodeMetricsRequestJson,
  fromResourceMetrics,
} from '../../src/index.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

// Mutation fuzzing of the decoders that read network bytes besides OTLP protobuf (which
// protobuf-malformed.test.ts covers): valid bodies with characters or bytes overwritten,
// inserted, deleted or cut off. The decoder returns a result or throws `DecodeError` —
// never another error (a TypeError, a RangeError), never a hang. FUZZ_RUNS sets the cases.

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

const edit = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);

function mutate(
  body: Uint8Array,
  edits: { kind: string; at: number; value?: number }[],
): Uint8Array {
  let out = body;
  for (const e of edits) {
    if (out.length === 0) break;
    const at = e.at % out.length;
    if (e.kind === 'set') {
      // A copy (a Buffer's `slice` is a view: the valid body would change under the test).
      out = Uint8Array.from(out);
      out[at] = e.value!;
    } else if (e.kind === 'insert')
      out = Uint8Array.from([...out.subarray(0, at), e.value!, ...out.subarray(at)]);
    else if (e.kind === 'delete')
      out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1)]);
    else out = out.subarray(0, at);
  }
  return out;
}

function onlyDecodeErrors(decode: () => unknown): 'ok' | 'refused' {
  try {
    decode();
    return 'ok';
  } catch (err) {
    if (err instanceof DecodeError) return 'refused';
    throw err;
  }
}

describe('decoders under mutated input', () => {
  it('OTLP/JSON: a result or a DecodeError, for text with bytes changed', async () => {
    const json = Buffer.from(
      encodeMetricsRequestJson(fromResourceMetrics(await collectSdkMetrics({ series: 3 }))),
    );
    // JSON punctuation is where a parser's mistakes hide; digits changed into digits keep
    // the text valid JSON and reach the decoder's checks of values (times, counts, enums).
    const digits = [...json.keys()].filter((k) => json[k] >= 0x30 && json[k] <= 0x39);
    const jsonEdit = fc.oneof(
      edit,
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
    const seen = { ok: 0, refused: 0 };
    fc.assert(
      fc.property(fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), (edits) => {
        seen[onlyDecodeErrors(() => decodeMetricsRequestJson(mutate(json, edits)))]++;
      }),
      { numRuns: RUNS },
    );
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.ok).toBeGreaterThan(0);
  });

  it('remote write: a result or a DecodeError, for bytes changed', () => {
    const request: WriteRequest = {
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
    const body = encodeWriteRequest(request);
    expect(decodeWriteRequest(body).timeseries).toHaveLength(5);
    const seen = { ok: 0, refused: 0 };
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        seen[onlyDecodeErrors(() => decodeWriteRequest(mutate(body, edits)))]++;
      }),
      { numRuns: RUNS },
    );
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.ok).toBeGreaterThan(0);
  });
});
