import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { encodeMetricsRequest, MetricBatch, MetricType } from '../../src/index.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

// Requests a hostile or broken client sends, each answered with a clear 4xx naming what was
// wrong, or accepted as documented (docs/security.md) — and the receiver keeps serving.

const sink = new OtlpSink();
let strict: Collector;
let roomy: Collector;

async function collector(limits: string): Promise<Collector> {
  const c = new Collector(
    parseConfig(`
receivers:
  otlp:
    ${limits}
    protocols: { http: { endpoint: 127.0.0.1:0 } }
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    compression: none
    batch: { flush_interval: 10ms }
service:
  decode_threads: 0
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`),
    pino({ level: 'silent' }),
  );
  await c.start();
  return c;
}

beforeAll(async () => {
  await sink.start();
  strict = await collector('');
  roomy = await collector(
    'max_attributes_per_point: 20000\n    max_attribute_value_bytes: 2000000',
  );
});
afterAll(async () => {
  await strict.shutdown(2_000);
  await roomy.shutdown(2_000);
  await sink.stop();
});

function post(c: Collector, body: Uint8Array | string, json = false) {
  const receiver = c.receivers.get('otlp') as unknown as OtlpReceiver;
  return fetch(`http://${receiver.http!.address}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf' },
    body,
  }).then(async (r) => ({ status: r.status, text: await r.text() }));
}

/** A one-point gauge request with these point and resource attributes. */
function gauge(
  attributes: Record<string, string>,
  resource: Record<string, string> = { 'service.name': 'hostile' },
  name = 'hostile.gauge',
): Uint8Array {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource({ attributes: resource }));
  const metric = batch.addMetric(scope, { name, type: MetricType.Gauge });
  batch.addNumberPoint(batch.series(metric, attributes), { time: 1n, value: 1 });
  return encodeMetricsRequest(batch);
}

/** `body` with the UTF-8 bytes of `marker` overwritten by bytes that are not UTF-8. */
function withInvalidUtf8(body: Uint8Array, marker: string): Uint8Array {
  const out = Buffer.from(body);
  const at = out.indexOf(marker);
  expect(at).toBeGreaterThanOrEqual(0);
  out.set([0xff, 0xfe, 0xc3, 0x28], at);
  return out;
}

const manyAttributes = Object.fromEntries(
  Array.from({ length: 10_000 }, (_, k) => [`key${k}`, `value${k}`]),
);

describe('hostile input on OTLP/HTTP', () => {
  it('10,000 attributes on one point: 400 over max_attributes_per_point, accepted when raised', async () => {
    const body = gauge(manyAttributes);
    const refused = await post(strict, body);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain(
      'a point has 10000 attributes, over max_attributes_per_point 128',
    );
    expect((await post(roomy, body)).status).toBe(200);
    const tooManyForResource = await post(strict, gauge({}, manyAttributes));
    expect(tooManyForResource.text).toContain('a resource has 10000 attributes');
  });

  it('a 1 MiB attribute value: 400 naming the attribute, accepted when raised', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const point = await post(strict, gauge({ blob: big }));
    expect(point.status).toBe(400);
    expect(point.text).toMatch(
      /point attribute "blob" has a value of 10485\d\d bytes, over max_attribute_value_bytes 16384/,
    );
    const resource = await post(strict, gauge({}, { blob: big }));
    expect(resource.status).toBe(400);
    expect(resource.text).toContain('resource attribute "blob" has a value of');
    expect((await post(roomy, gauge({ blob: big }))).status).toBe(200);
  });

  it('text that is not UTF-8 (attribute key or value, metric name, a JSON body): 400', async () => {
    for (const body of [
      withInvalidUtf8(gauge({ route: 'MARKER' }), 'MARKER'),
      withInvalidUtf8(gauge({ MARKERKEY: 'v' }), 'MARKERKEY'),
      withInvalidUtf8(gauge({}, { 'service.name': 'MARKER' }), 'MARKER'),
      withInvalidUtf8(gauge({}, undefined, 'MARKER.name'), 'MARKER'),
    ]) {
      const answer = await post(strict, body);
      expect(answer.status).toBe(400);
      expect(answer.text).toContain('valid UTF-8');
    }
    const json = Buffer.concat([
      Buffer.from('{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","gauge":{"dataPoints":[{"timeUnixNano":"1","asDouble":1}]}}]}]}]}'),
    ]);
    const answer = await post(strict, json, true);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('valid UTF-8');
  });

  it('deep nesting (JSON 100,000 levels, protobuf AnyValue 10,000 levels): 400, no stack overflow', async () => {
    const deep = `{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":${'{"arrayValue":{"values":['.repeat(100_000)}${']}}'.repeat(100_000)}}]}}]}`;
    const json = await post(strict, deep, true);
    expect(json.status).toBe(400);
    // AnyValue { array_value: ArrayValue { values: AnyValue { ... } } }, 10,000 deep.
    const value = nestedArrays(10_000);
    const spliced = requestWithAttributeValue(lengthDelimited(0x12, value));
    const protobuf = await post(strict, spliced);
    expect(protobuf.status).toBe(400);
    expect(protobuf.text).toContain('nested at most');
    // The same request three levels deep is fine: it was the depth.
    const shallow = requestWithAttributeValue(lengthDelimited(0x12, nestedArrays(3)));
    expect((await post(strict, shallow)).status).toBe(200);
  });

  it('NaN and ±Infinity: accepted in values, sums, min and max; refused in times and counts', async () => {
    const point = (fields: string) =>
      `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"nan.check","histogram":{"aggregationTemporality":2,"dataPoints":[{${fields}}]}}]}]}]}`;
    const gaugeOf = (value: string) =>
      `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"nan.gauge","gauge":{"dataPoints":[{"timeUnixNano":"5","asDouble":${value}}]}}]}]}]}`;
    for (const value of ['"NaN"', '"Infinity"', '"-Infinity"'])
      expect((await post(strict, gaugeOf(value), true)).status).toBe(200);
    const histogram = await post(
      strict,
      point(
        '"timeUnixNano":"5","count":"2","sum":"NaN","min":"-Infinity","max":"Infinity","bucketCounts":["1","1"],"explicitBounds":["Infinity"]',
      ),
      true,
    );
    expect(histogram.status).toBe(200);
    for (const bad of [
      '"timeUnixNano":"NaN","count":"1"',
      '"timeUnixNano":"5","count":"NaN"',
      '"timeUnixNano":"5","count":"1","bucketCounts":["Infinity"]',
    ]) {
      const answer = await post(strict, point(bad), true);
      expect(answer.status, bad).toBe(400);
    }
    // What was accepted went on with its values.
    await expect
      .poll(
        () =>
          sink.accepted
            .flatMap((r) => JSON.stringify(r.request))
            .filter((text) => text.includes('nan.gauge')).length,
      )
      .toBeGreaterThanOrEqual(1);
  });

  it('keeps serving after all of it', async () => {
    expect((await post(strict, gauge({ ok: 'yes' }))).status).toBe(200);
  });
});

/** AnyValue { array_value { values: AnyValue { ... "x" } } }, `depth` levels, built once. */
function nestedArrays(depth: number): Uint8Array {
  const inner = [0x0a, 0x01, 0x78]; // string_value "x"
  const prefixes: number[][] = [];
  let size = inner.length;
  for (let k = 0; k < depth; k++) {
    for (const tag of [0x0a, 0x2a]) {
      // ArrayValue.values, then AnyValue.array_value around it.
      const prefix = [tag, ...varint(size)];
      prefixes.push(prefix);
      size += prefix.length;
    }
  }
  return Uint8Array.from([...prefixes.reverse().flat(), ...inner]);
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function lengthDelimited(tag: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([tag, ...varint(payload.length), ...payload]);
}

/** A one-point gauge request, encoded by hand, whose attribute "k" has this value field. */
function requestWithAttributeValue(valueField: Uint8Array): Uint8Array {
  const attribute = lengthDelimited(0x3a, Uint8Array.from([0x0a, 0x01, 0x6b, ...valueField]));
  const time = Uint8Array.of(0x19, 1, 0, 0, 0, 0, 0, 0, 0); // time_unix_nano fixed64 = 1
  const value = Uint8Array.of(0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f); // as_double = 1
  const dataPoint = lengthDelimited(0x0a, Uint8Array.from([...attribute, ...time, ...value]));
  const gaugeMessage = lengthDelimited(0x2a, dataPoint);
  const metric = lengthDelimited(0x12, Uint8Array.from([0x0a, 0x01, 0x67, ...gaugeMessage]));
  return lengthDelimited(0x0a, lengthDelimited(0x12, metric));
}
