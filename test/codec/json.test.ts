import { readFileSync } from 'node:fs';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  decodeMetricsRequest,
  decodeMetricsRequestJson,
  encodeMetricsRequest,
  encodeMetricsRequestJson,
  type KeyValueList,
  MetricType,
  Temporality,
} from '../../src/index.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { firstDifference, RefRequest, refCanonical, refEncode } from '../helpers/reference.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

const same = (a: Uint8Array, b: Uint8Array) =>
  firstDifference(refCanonical(a), refCanonical(b)) ?? 'same';

/** Trace and span ids: hex in OTLP/JSON, base64 in protobufjs' object form. */
function convertIds(value: unknown, to: 'hex' | 'base64'): unknown {
  if (Array.isArray(value)) return value.map((v) => convertIds(v, to));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if ((key === 'spanId' || key === 'traceId') && typeof v === 'string') {
      out[key] =
        to === 'hex'
          ? Buffer.from(v, 'base64').toString('hex')
          : Buffer.from(v, 'hex').toString('base64');
    } else out[key] = convertIds(v, to);
  }
  return out;
}

/** The reference's object form rendered as the OTLP/JSON text the specification describes. */
function referenceToSpecJson(bytes: Uint8Array): string {
  const object = RefRequest.toObject(RefRequest.decode(bytes), {
    longs: String,
    enums: Number,
    bytes: String,
  });
  return JSON.stringify(convertIds(object, 'hex'), (_k, v) => {
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return 'NaN';
      if (v === Number.POSITIVE_INFINITY) return 'Infinity';
      if (v === Number.NEGATIVE_INFINITY) return '-Infinity';
      if (Object.is(v, -0)) return '-0';
    }
    return v;
  });
}

describe('OTLP/JSON', () => {
  it('our JSON, read by the reference definitions, equals the original request', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const original = refEncode(request);
        const json = encodeMetricsRequestJson(decodeMetricsRequest(original));
        const parsed = convertIds(JSON.parse(json), 'base64');
        const viaReference = RefRequest.encode(RefRequest.fromObject(parsed)).finish();
        expect(same(viaReference, original)).toBe('same');
      }),
      { numRuns: 300 },
    );
  });

  it('the specification form of any request decodes to the same request', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const original = refEncode(request);
        const batch = decodeMetricsRequestJson(referenceToSpecJson(original));
        expect(same(encodeMetricsRequest(batch), original)).toBe('same');
      }),
      { numRuns: 300 },
    );
  });

  it('JSON → batch → JSON is stable', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const once = encodeMetricsRequestJson(decodeMetricsRequest(refEncode(request)));
        expect(encodeMetricsRequestJson(decodeMetricsRequestJson(once))).toBe(once);
      }),
      { numRuns: 200 },
    );
  });

  it('reads what the official JS JSON serializer emits', async () => {
    const rm = await collectSdkMetrics({ series: 10, exponential: true });
    const json = JsonMetricsSerializer.serializeRequest(rm)!;
    const batch = decodeMetricsRequestJson(json);
    const proto = ProtobufMetricsSerializer.serializeRequest(rm)!;
    expect(same(encodeMetricsRequest(batch), proto)).toBe('same');
  });

  it('reads the opentelemetry-proto example (bare-number timestamps)', () => {
    const batch = decodeMetricsRequestJson(
      readFileSync(new URL('testdata/otlp-proto-example-metrics.json', import.meta.url)),
    );
    expect(batch.metrics.map((m) => m.name)).toEqual(['my.counter', 'my.gauge', 'my.histogram']);
    const counter = batch.point(0);
    expect(counter.value).toBe(5);
    expect(counter.time).toBe(1544712660300000000n);
    expect(counter.metric.temporality).toBe(Temporality.Delta);
    expect(counter.metric.monotonic).toBe(true);
    const histogram = batch.point(2);
    expect([...histogram.bucketCounts]).toEqual([1n, 1n, 1n]);
    expect([...histogram.bounds]).toEqual([1]);
    expect(histogram.sum).toBe(3);
    expect(batch.scopes[0].attributes).toEqual([
      { key: 'my.scope.attribute', value: 'some scope attribute' },
    ]);
  });

  it('reads OpenTelemetry Collector output with every kind and edge value', () => {
    const batch = decodeMetricsRequestJson(
      readFileSync(new URL('testdata/collector-metrics.json', import.meta.url), 'utf8'),
    );
    const resource = batch.resources[0];
    expect(resource.attributes[1]).toEqual({ key: 'host.cpu.count', value: 9007199254740993n });
    expect(resource.attributes[2].value).toEqual(['a', true]);
    expect([...(resource.attributes[3].value as Uint8Array)]).toEqual([0, 1, 2, 255]);
    expect((resource.attributes[4].value as KeyValueList).values[0].value).toBe(
      Number.NEGATIVE_INFINITY,
    );
    expect(resource.schemaUrl).toBe('https://opentelemetry.io/schemas/1.26.0');
    const cpu = batch.point(0);
    expect(cpu.time).toBe(1730000010123456789n);
    expect(cpu.attributes).toEqual([
      { key: 'cpu', value: 'cpu0' },
      { key: 'state', value: 'user' },
    ]);
    const [exemplar] = cpu.exemplars;
    expect(exemplar.value).toBe(-7n);
    expect(Buffer.from(exemplar.traceId).toString('hex')).toBe('0102030405060708090a0b0c0d0e0f10');
    expect(batch.point(1).exactValue).toBe(18446744073709551n);
    expect(batch.point(2).hasValue).toBe(false);
    expect(batch.point(2).flags).toBe(1);
    const exp = batch.point(4);
    expect(exp.metric.type).toBe(MetricType.ExponentialHistogram);
    expect(exp.metric.temporality).toBe(Temporality.Cumulative);
    expect(exp.scale).toBe(-2);
    expect(exp.positive).toEqual({ offset: -1, bucketCounts: BigUint64Array.from([1n, 3n]) });
    expect(exp.negative).toEqual({ offset: 0, bucketCounts: new BigUint64Array(0) });
    expect(exp.zeroThreshold).toBe(1e-9);
    expect(exp.min).toBe(0);
    const summary = batch.point(5);
    expect(summary.quantiles[1].quantile).toBe(0.99);
    expect(summary.quantiles[1].value).toBeNaN();
    // And it survives a protobuf round trip through the reference.
    const bytes = encodeMetricsRequest(batch);
    expect(same(encodeMetricsRequest(decodeMetricsRequest(bytes)), bytes)).toBe('same');
  });

  it('bad JSON is a DecodeError that names the JSON path and what was expected', () => {
    const cases: [string, string][] = [
      ['{"resourceMetrics": [', 'at $: expected valid JSON'],
      ['[]', 'at $: expected an object (got an array)'],
      ['{"resourceMetrics": {}}', 'at $.resourceMetrics: expected an array'],
      [
        '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"dataPoints":[{"timeUnixNano":"12x"}]}}]}]}]}',
        'at $.resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].timeUnixNano: expected an unsigned 64-bit integer',
      ],
      [
        '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asDouble":"fast"}]}}]}]}]}',
        'at $.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble: expected a number',
      ],
      [
        '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"aggregationTemporality":7}}]}]}]}',
        'at $.resourceMetrics[0].scopeMetrics[0].metrics[0].sum.aggregationTemporality: expected an aggregation temporality',
      ],
      [
        '{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"99999999999999999999"}}]}}]}',
        'at $.resourceMetrics[0].resource.attributes[0].value.intValue: expected a signed 64-bit integer',
      ],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        decodeMetricsRequestJson(text);
      } catch (err) {
        error = err;
      }
      expect(error, text).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).message).toContain(message);
      expect((error as DecodeError).code).toBe('SLUICE_ERR_DECODE');
    }
  });

  it('accepts snake_case keys and enum names as the protobuf JSON mapping allows', () => {
    const batch = decodeMetricsRequestJson(
      '{"resource_metrics":[{"scope_metrics":[{"metrics":[{"name":"c","sum":{"data_points":[{"time_unix_nano":"5","as_int":"3"}],"aggregation_temporality":"AGGREGATION_TEMPORALITY_DELTA","is_monotonic":true}}]}]}]}',
    );
    expect(batch.point(0).exactValue).toBe(3n);
    expect(batch.point(0).time).toBe(5n);
    expect(batch.metrics[0].temporality).toBe(Temporality.Delta);
  });
});
