import { describe, expect, it } from 'vitest';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { MetricsRequestScanner } from '../../src/codec/protobuf/scan-request.js';
import { Capture, processor, sortedPoints } from '../helpers/aggregate-fixtures.js';
import { varint } from '../helpers/varint.js';

// The fast-path scanner copies a point's attribute entries into its set a run at a time: the
// entries lying back to back in the body in one copy. Encoders write them so, but a body may
// put another field between two entries, or write a tag in more than one byte; the scanner
// must then gather the same set the decoder does. Bodies are written by hand here.

const field = (tag: number[], bytes: number[]) => [...tag, ...varint(bytes.length), ...bytes];
const text = (s: string) => [...Buffer.from(s)];
/** A `KeyValue` with a string value. */
const keyValue = (key: string, value: string) => [
  ...field([0x0a], text(key)),
  ...field([0x12], field([0x0a], text(value))),
];
const fixed64 = (tag: number, n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return [tag, ...b];
};
const double = (tag: number, x: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return [tag, ...b];
};

/** Attributes (field 7) as one-byte tags, or with `longTag` as the two-byte 0xba 0x00. */
const attribute = (key: string, value: string, longTag = false) =>
  field(longTag ? [0xba, 0x00] : [0x3a], keyValue(key, value));

/** A cumulative monotonic sum `m.requests` with the given data points (each a byte list). */
function request(points: number[][], service = 'svc'): Uint8Array {
  const sum = [...points.flatMap((p) => field([0x0a], p)), 0x10, 0x02, 0x18, 0x01];
  const metric = [...field([0x0a], text('m.requests')), ...field([0x3a], sum)];
  const scopeMetrics = [...field([0x0a], field([0x0a], text('s'))), ...field([0x12], metric)];
  const resource = field([0x0a], field([0x0a], keyValue('service.name', service)));
  return Uint8Array.from(field([0x0a], [...resource, ...field([0x12], scopeMetrics)]));
}

/** One point of series `route`/`host`, its attributes laid out as `layout` says. */
function point(route: string, host: string, time: bigint, value: number, layout: string): number[] {
  const times = [...fixed64(0x11, 1n), ...fixed64(0x19, time)];
  const value64 = double(0x21, value);
  const a = attribute('route', route);
  const b = attribute('host', host);
  switch (layout) {
    case 'back to back':
      return [...times, ...value64, ...a, ...b];
    case 'a value between':
      return [...a, ...times, ...value64, ...b];
    case 'a two-byte tag':
      return [...times, ...value64, ...attribute('route', route, true), ...b];
    default:
      throw new Error(layout);
  }
}

describe('the fast-path scanner gathers attribute sets as the decoder does', () => {
  const cases = ['back to back', 'a value between', 'a two-byte tag'].flatMap((layout) =>
    [false, true].map((inPlace) => ({ layout, inPlace })),
  );
  for (const { layout, inPlace } of cases) {
    it(`entries ${layout}${inPlace ? ', retagged in place' : ''}`, async () => {
      const series = [
        ['/a', 'h1'],
        ['/b', 'h2'],
        ['/c', 'h1'],
      ];
      // Primed with the encoders' layout: every series is known, so the scan may take all.
      const first = request(series.map(([r, h], k) => point(r, h, 10n, k, 'back to back')));
      const next = request(series.map(([r, h], k) => point(r, h, 20n, 5 + k, layout)));
      const rules = [{ metrics: ['m.*'], drop_attributes: ['host'] }];
      const viaScan = new Capture();
      const viaDecoder = new Capture();
      const a = processor(rules, viaScan, () => 1_000);
      const b = processor(rules, viaDecoder, () => 1_000);
      await a.consume(decodeMetricsRequest(first));
      await b.consume(decodeMetricsRequest(first));
      const sent = next.slice();
      expect(new MetricsRequestScanner(a, { inPlace }).scan(next)).toBe(series.length);
      expect(Buffer.from(next).equals(sent)).toBe(true);
      await b.consume(decodeMetricsRequest(next));
      a.flush();
      b.flush();
      await a.shutdown();
      await b.shutdown();
      expect(viaScan.points().length).toBe(3);
      expect(sortedPoints(viaScan)).toEqual(sortedPoints(viaDecoder));
    });
  }
});

describe('the fast-path scanner and a reused body buffer', () => {
  it("reads each request's resource, even when the next request lies in the same buffer", async () => {
    // A receiver's bodies lie in reused request buffers: the next request may be written
    // where the last one was. The scanner keeps the last resource's bytes to skip decoding
    // an unchanged resource; kept as a view (`Buffer#slice`), they would be the new
    // request's own bytes, always "unchanged", and its points would go to the old resource.
    const at = (service: string, time: bigint, value: number) =>
      request([point('/a', 'h1', time, value, 'back to back')], service);
    const viaScan = new Capture();
    const viaDecoder = new Capture();
    const a = processor([{ metrics: ['m.*'], drop_attributes: ['host'] }], viaScan, () => 1_000);
    const b = processor([{ metrics: ['m.*'], drop_attributes: ['host'] }], viaDecoder, () => 1_000);
    for (const service of ['svc-a', 'svc-b']) {
      await a.consume(decodeMetricsRequest(at(service, 10n, 1)));
      await b.consume(decodeMetricsRequest(at(service, 10n, 1)));
    }
    const scanner = new MetricsRequestScanner(a);
    const buffer = Buffer.alloc(at('svc-a', 20n, 2).length);
    for (const [service, value] of [
      ['svc-a', 2],
      ['svc-b', 7],
    ] as const) {
      buffer.set(at(service, 20n, value));
      expect(scanner.scan(buffer)).toBe(1);
      await b.consume(decodeMetricsRequest(at(service, 20n, value)));
    }
    a.flush();
    b.flush();
    await a.shutdown();
    await b.shutdown();
    // Each output point with its resource's service.name and its value.
    const byService = (capture: Capture) =>
      capture.batches
        .flatMap((batch) =>
          [...batch.pointViews()].map((p) => {
            const resource = batch.resources[batch.scopes[p.metric.scope].resource];
            const service = resource.attributes.find((kv) => kv.key === 'service.name')?.value;
            return `${service} ${p.time} ${p.value}`;
          }),
        )
        .sort();
    expect(byService(viaScan)).toContain('svc-b 20 7');
    expect(byService(viaScan)).toEqual(byService(viaDecoder));
    expect(sortedPoints(viaScan)).toEqual(sortedPoints(viaDecoder));
  });
});

describe('decoded bytes values and a reused body buffer', () => {
  it('keeps resource bytes attributes and exemplar ids after the buffer holds the next request', () => {
    // AnyValue.bytes_value and an exemplar's span and trace ids are read with `slice`, which
    // on a Buffer is a view of the body: the next request written there would change them.
    const bytesValue = (key: string, value: number[]) => [
      ...field([0x0a], text(key)),
      ...field([0x12], field([0x3a], value)),
    ];
    const exemplar = [
      ...fixed64(0x11, 5n),
      ...double(0x19, 1),
      ...field([0x22], [1, 2, 3, 4, 5, 6, 7, 8]),
      ...field(
        [0x2a],
        Array.from({ length: 16 }, (_, k) => k + 1),
      ),
    ];
    const dataPoint = [...fixed64(0x11, 1n), ...fixed64(0x19, 5n), ...double(0x21, 1)];
    const sum = [...field([0x0a], [...dataPoint, ...field([0x2a], exemplar)]), 0x10, 0x02];
    const metric = [...field([0x0a], text('m')), ...field([0x3a], sum)];
    const resource = field([0x0a], field([0x0a], bytesValue('id', [9, 9, 9])));
    const body = Buffer.from(field([0x0a], [...resource, ...field([0x12], field([0x12], metric))]));
    const batch = decodeMetricsRequest(body);
    body.fill(0xee);
    expect([...((batch.resources[0]?.attributes[0]?.value ?? []) as Uint8Array)]).toEqual([
      9, 9, 9,
    ]);
    expect([...(batch.exemplars[0]?.spanId ?? [])]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(batch.exemplars[0]?.traceId.length).toBe(16);
    expect(batch.exemplars[0]?.traceId[15]).toBe(16);
  });
});
