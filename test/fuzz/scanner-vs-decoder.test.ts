import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { MetricsRequestScanner } from '../../src/codec/protobuf/scan-request.js';
import type { MetricBatch } from '../../src/index.js';
import { DecodeError } from '../../src/model/errors.js';
import {
  Capture,
  type PointSpec,
  processor,
  scanRequest,
  sortedPoints,
} from '../helpers/aggregate-fixtures.js';
import { fuzzRuns, mutate, mutations } from '../helpers/mutation.js';

// The collector's fast path (`otlp → aggregate` without decoding) must never take a body the
// full decoder refuses, and for a body both accept it must change the aggregate exactly as
// the decoded batch does; scanning in place (as the collector does), it leaves the body as
// it came. Every series of the valid request is known to the processor, so
// the scan would take it whole: each damaged copy is decided by the checks alone.

const rules = [{ metrics: ['m.*'], drop_attributes: ['host'] }];
const clock = () => 1_000;
const specs: PointSpec[] = [0, 1, 2, 3, 4].flatMap((metric) =>
  [0, 1, 2, 3].map((set) => ({
    metric,
    resource: set % 2,
    set,
    value: 7,
    int: set % 2 === 0,
    otherBounds: false,
  })),
);
const seen = { cases: 0, refusedByBoth: 0, refusedByScanOnly: 0, takenByBoth: 0 };
afterAll(() => console.log(JSON.stringify({ fuzz: 'otlp-fast-path-scanner', ...seen })));

/** A processor that has aggregated the valid request once (every series known). */
async function primed(out: Capture) {
  const p = processor(rules, out, clock);
  await p.consume(decodeMetricsRequest(scanRequest(specs, 20n)));
  return p;
}

describe('the fast-path scanner against the decoder', () => {
  it('never takes a body the decoder refuses; a body both take changes the state alike (damaged bodies, property)', async () => {
    const shared = await primed(new Capture());
    const valid = scanRequest(specs, 30n);
    await fc.assert(
      fc.asyncProperty(mutations, fc.boolean(), async (edits, inPlace) => {
        seen.cases++;
        const body = mutate(valid, edits);
        const sent = body.slice();
        let decoded: MetricBatch | undefined;
        try {
          decoded = decodeMetricsRequest(body);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
        // A scanner of its own: one that missed eight in a row would skip bodies untried.
        const taken = new MetricsRequestScanner(shared, { inPlace }).scan(body);
        // A scan in place puts back every byte it changed, whether it took the body or not.
        expect(Buffer.from(body).equals(sent), 'the scan left the body changed').toBe(true);
        if (!decoded) {
          expect(taken, 'the scan took a body the decoder refuses').toBe(-1);
          seen.refusedByBoth++;
          return;
        }
        if (taken === -1) {
          seen.refusedByScanOnly++; // the decoder's path takes it: allowed, only slower
          return;
        }
        expect(taken).toBe(decoded.pointCount);
        seen.takenByBoth++;
        // The same body through the scan and through the decoder, into equal processors.
        const viaScan = new Capture();
        const viaDecoder = new Capture();
        const a = await primed(viaScan);
        const b = await primed(viaDecoder);
        // A Buffer, as receivers hand on, overwritten after the scan as a reused request
        // buffer is: what the aggregate kept of it must be copies (a `Buffer#slice` is not).
        const reused = Buffer.from(body);
        expect(new MetricsRequestScanner(a, { inPlace }).scan(reused)).toBe(decoded.pointCount);
        expect(reused.equals(sent), 'the scan left the body changed').toBe(true);
        reused.fill(0xee);
        await b.consume(decoded);
        a.flush();
        b.flush();
        await a.shutdown();
        await b.shutdown();
        expect(viaScan.points().length).toBeGreaterThan(0);
        expect(sortedPoints(viaScan)).toEqual(sortedPoints(viaDecoder));
      }),
      { numRuns: fuzzRuns() },
    );
    expect(seen.refusedByBoth).toBeGreaterThan(0);
    expect(seen.takenByBoth).toBeGreaterThan(0);
    await shared.shutdown();
  });

  it("never takes a point whose length cuts its last attribute short (the attribute's bytes follow it)", async () => {
    const field = (tag: number, body: Uint8Array) => Buffer.from([tag, body.length, ...body]);
    const fixed64 = (tag: number, value: bigint) => {
      const bytes = Buffer.alloc(9);
      bytes[0] = tag;
      bytes.writeBigUInt64LE(value, 1);
      return bytes;
    };
    const attribute = (key: string, value: string) =>
      field(
        0x3a,
        Buffer.concat([
          field(0x0a, Buffer.from(key)),
          field(0x12, field(0x0a, Buffer.from(value))),
        ]),
      );
    /** A request of one gauge `m.0` with one point, its attributes last; `cut` bytes short. */
    const request = (time: bigint, cut = 0) => {
      const point = Buffer.concat([
        fixed64(0x11, 1n),
        fixed64(0x19, time),
        fixed64(0x21, 4611686018427387904n), // 2.0
        attribute('host', 'h1'),
        // Its last two bytes, once cut off the point, read as an empty point of the gauge's.
        attribute('k', 'v\n\0'),
      ]);
      const points = Buffer.concat([Buffer.from([0x0a, point.length - cut]), point]);
      const metric = Buffer.concat([field(0x0a, Buffer.from('m.0')), field(0x2a, points)]);
      return field(0x0a, field(0x12, field(0x12, metric)));
    };
    const p = processor(rules, new Capture(), clock);
    await p.consume(decodeMetricsRequest(request(10n)));
    // The whole point is taken: the series is known.
    expect(new MetricsRequestScanner(p, { inPlace: true }).scan(request(20n))).toBe(1);
    for (const cut of [1, 2, 3]) {
      const body = request(30n, cut);
      expect(() => decodeMetricsRequest(body)).toThrow(DecodeError);
      expect(new MetricsRequestScanner(p, { inPlace: true }).scan(body), `cut ${cut}`).toBe(-1);
    }
    await p.shutdown();
  });
});
