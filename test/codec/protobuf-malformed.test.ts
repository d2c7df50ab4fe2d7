import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  decodeMetricsRequest,
  decodeMetricsRequestJson,
  decodeMetricsResponse,
  encodeMetricsResponse,
} from '../../src/index.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { RefResponse, refEncode } from '../helpers/reference.js';
import { varint } from '../helpers/varint.js';

function decodeOrDecodeError(bytes: Uint8Array): 'ok' | 'decode-error' {
  try {
    decodeMetricsRequest(bytes);
    return 'ok';
  } catch (err) {
    if (err instanceof DecodeError) {
      expect(err.code).toBe('SLUICE_ERR_DECODE');
      expect(typeof err.where).toBe('number');
      expect(err.message).toMatch(/^cannot decode OTLP metrics at byte \d+: expected /);
      return 'decode-error';
    }
    throw err;
  }
}

describe('malformed protobuf', () => {
  it('every truncation of a valid request either decodes or throws DecodeError', () => {
    fc.assert(
      fc.property(metricsRequest, fc.nat(), (request, cut) => {
        const bytes = refEncode(request);
        if (bytes.length === 0) return;
        decodeOrDecodeError(bytes.subarray(0, cut % bytes.length));
      }),
      { numRuns: 300 },
    );
  });

  it('random byte corruption never throws anything but DecodeError', () => {
    fc.assert(
      fc.property(
        metricsRequest,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (request, edits) => {
          const bytes = refEncode(request).slice();
          if (bytes.length === 0) return;
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          decodeOrDecodeError(bytes);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('random garbage never throws anything but DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        decodeOrDecodeError(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it('a lying length prefix is refused with its offset, without allocating what it claims', () => {
    // resource_metrics (field 1), length 0xFFFFFFF (268 MB) followed by 3 bytes.
    const bytes = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]);
    const before = process.memoryUsage().arrayBuffers;
    const err = (() => {
      try {
        decodeMetricsRequest(bytes);
      } catch (e) {
        return e as DecodeError;
      }
      throw new Error('decoded a lying length');
    })();
    expect(err).toBeInstanceOf(DecodeError);
    expect(err.where).toBe(1);
    expect(err.message).toContain('268435455 bytes of a length-delimited field');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it('a known field with the wrong wire type is named', () => {
    // resource_metrics as a varint instead of a message.
    expect(() => decodeMetricsRequest(Uint8Array.from([0x08, 0x01]))).toThrow(
      /ExportMetricsServiceRequest field 1 with its declared wire type \(got wire type 0\)/,
    );
  });

  it('an overlong varint is refused', () => {
    const bytes = Uint8Array.from([
      0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
    ]);
    expect(() => decodeMetricsRequest(bytes)).toThrow(DecodeError);
  });
});

describe('ExportMetricsServiceResponse', () => {
  it('round-trips partial success through the reference definitions', () => {
    fc.assert(
      fc.property(fc.nat(), fc.string(), (rejected, message) => {
        const ours = encodeMetricsResponse({ rejectedDataPoints: rejected, errorMessage: message });
        const ref = RefResponse.toObject(RefResponse.decode(ours), {
          longs: Number,
          defaults: true,
        });
        if (rejected === 0 && message === '') expect(ref.partialSuccess).toBeNull();
        else {
          expect(ref.partialSuccess.rejectedDataPoints).toBe(rejected);
          expect(ref.partialSuccess.errorMessage).toBe(message);
        }
        const back = decodeMetricsResponse(
          RefResponse.encode(
            RefResponse.fromObject({
              partialSuccess: { rejectedDataPoints: rejected, errorMessage: message },
            }),
          ).finish(),
        );
        expect(back).toEqual({ rejectedDataPoints: rejected, errorMessage: message });
      }),
    );
  });

  it('an empty response is full success', () => {
    expect(decodeMetricsResponse(new Uint8Array(0))).toEqual({
      rejectedDataPoints: 0,
      errorMessage: '',
    });
    expect(encodeMetricsResponse()).toHaveLength(0);
  });
});

describe('nesting bombs', () => {
  /** A resource attribute whose value is an array nested `depth` times. */
  function nestedAttribute(depth: number): Uint8Array {
    let value: Uint8Array = Uint8Array.from([0x0a, 0x00]); // AnyValue{string_value: ""}
    for (let k = 0; k < depth; k++) {
      const array = Uint8Array.from([0x0a, ...varint(value.length), ...value]); // ArrayValue{values}
      value = Uint8Array.from([0x2a, ...varint(array.length), ...array]); // AnyValue{array_value}
    }
    const kv = Uint8Array.from([0x0a, 0x01, 0x6b, 0x12, ...varint(value.length), ...value]);
    const resource = Uint8Array.from([0x0a, ...varint(kv.length), ...kv]);
    const rm = Uint8Array.from([0x0a, ...varint(resource.length), ...resource]);
    return Uint8Array.from([0x0a, ...varint(rm.length), ...rm]);
  }

  it('protobuf: 60 levels decode, 2,000 levels are a DecodeError (not a stack overflow)', () => {
    expect(decodeMetricsRequest(nestedAttribute(60)).resources[0].attributes[0].key).toBe('k');
    expect(() => decodeMetricsRequest(nestedAttribute(2_000))).toThrow(
      /AnyValue nested at most 64 deep/,
    );
  });

  it('JSON: 10,000 levels are a DecodeError with the path', () => {
    let value = '{"stringValue":"x"}';
    for (let k = 0; k < 10_000; k++) value = `{"arrayValue":{"values":[${value}]}}`;
    const text = `{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":${value}}]}}]}`;
    expect(() => decodeMetricsRequestJson(text)).toThrow(DecodeError);
    expect(() => decodeMetricsRequestJson(text)).toThrow(
      /^cannot decode OTLP metrics at \$\.resourceMetrics\[0\]\.resource\.attributes\[0\]\.value\.arrayValue/,
    );
  });
});
