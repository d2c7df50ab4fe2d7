import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMetricsRequest } from '../../src/codec/protobuf/encode-request.js';
import type { Collector } from '../../src/collector/collector.js';
import { listDeadLetters } from '../../src/delivery/dead-letters.js';
import { MetricBatch, MetricType } from '../../src/index.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { counterBatch } from '../helpers/batches.js';
import { startCollector } from '../helpers/collectors.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { GrpcRecorder, grpcFrame, rawExportCall } from '../helpers/raw-grpc.js';
import { canonicalJson, RefRequest } from '../helpers/reference.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function sinks(count: number): Promise<OtlpSink[]> {
  const started = [];
  for (let k = 0; k < count; k++) {
    const sink = new OtlpSink();
    await sink.start();
    stops.push(() => sink.stop());
    started.push(sink);
  }
  return started;
}

/** The collector of `yaml`, stopped after the test, and its `otlp` receiver. */
async function collectorOf(yaml: string): Promise<{ collector: Collector; otlp: OtlpReceiver }> {
  const collector = await startCollector(yaml);
  stops.push(() => collector.shutdown(2_000));
  return { collector, otlp: collector.receivers.get('otlp') as unknown as OtlpReceiver };
}

/**
 * A collector: `otlp` (HTTP and gRPC) → `processors` → one `otlphttp` exporter per sink, with
 * `exporterKeys` (one for all, or one per sink).
 */
function relay(
  targets: OtlpSink[],
  processors = '[batch]',
  receiverKeys = '',
  exporterKeys: string | string[] = 'batch: { flush_interval: 10ms }',
): Promise<{ collector: Collector; otlp: OtlpReceiver }> {
  const exporters = targets.map(
    (sink, k) => `  otlphttp/${k}:
    metrics_endpoint: ${sink.url}
    ${typeof exporterKeys === 'string' ? exporterKeys : exporterKeys[k]}`,
  );
  return collectorOf(`
receivers:
  otlp:
    ${receiverKeys}
    protocols:
      http: { endpoint: 127.0.0.1:0 }
      grpc: { endpoint: 127.0.0.1:0 }
processors:
  batch: {}
  filter:
    metrics: { exclude: { match_type: strict, metric_names: [nothing] } }
exporters:
${exporters.join('\n')}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: ${processors}
      exporters: [${targets.map((_, k) => `otlphttp/${k}`).join(', ')}]
`);
}

function post(otlp: OtlpReceiver, body: Uint8Array, gzip = false): Promise<Response> {
  return fetch(`http://${otlp.http!.address}/v1/metrics`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-protobuf',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    },
    body,
  });
}

/** Posts the gzip `bodies` all at once; each must be answered 200. */
async function postAtOnce(otlp: OtlpReceiver, bodies: Buffer[]): Promise<void> {
  const answers = await Promise.all(bodies.map((body) => post(otlp, body, true)));
  expect(answers.map((answer) => answer.status)).toEqual(bodies.map(() => 200));
}

/**
 * Splits `wire` into whole bodies of `sent` (the gzip bodies posted), as a run of them joined;
 * `undefined` when it is not one (it was compressed anew).
 */
function membersOf(wire: Buffer, sent: Buffer[]): number[] | undefined {
  const members: number[] = [];
  for (let at = 0; at < wire.length; ) {
    const k = sent.findIndex((body) => wire.subarray(at, at + body.length).equals(body));
    if (k === -1) return undefined;
    members.push(k);
    at += sent[k].length;
  }
  return members;
}

/** `count` gzip bodies of 30 counter points each, compressed as sluice never does (level 9). */
function gzipBodies(count: number): { plain: Uint8Array[]; gzipped: Buffer[] } {
  const plain = Array.from({ length: count }, () => encodeMetricsRequest(counterBatch(30).batch));
  return { plain, gzipped: plain.map((body) => gzipSync(body, { level: 9 })) };
}

async function until(done: () => boolean, what: string, poll?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (await poll?.(); !done(); await poll?.()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Each `resourceMetrics` entry of the requests as canonical JSON, sorted: what a backend reads. */
function resourceMetricsOf(bodies: Uint8Array[]): string[] {
  return bodies
    .flatMap(
      (body) =>
        RefRequest.toObject(RefRequest.decode(body), { longs: String, bytes: String })
          .resourceMetrics,
    )
    .map((entry: unknown) => canonicalJson(entry))
    .sort();
}

/**
 * Waits until `sink` took `points` points, then checks they are the requests `sent`, as a
 * backend reads them.
 */
async function expectDelivered(
  sink: OtlpSink,
  sent: Uint8Array[],
  points: number,
  what = 'the points',
): Promise<void> {
  await until(() => sink.accepted.reduce((n, r) => n + r.points, 0) >= points, what);
  expect(resourceMetricsOf(sink.accepted.map((r) => r.body))).toEqual(resourceMetricsOf(sent));
}

/**
 * A counter and a histogram point for each of `points` unique `id`s from the official SDK,
 * in several exports (delta: each point is exported once).
 */
async function exportWithSdk(exporter: PushMetricExporter, points: number): Promise<string[]> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const counter = provider.getMeter('app').createCounter('jobs');
  const histogram = provider.getMeter('app').createHistogram('job.duration');
  const ids: string[] = [];
  for (let k = 0; k < points; k++) {
    ids.push(`sdk${k}`);
    counter.add(k + 1, { id: `sdk${k}` });
    histogram.record(k, { id: `sdk${k}` });
    if (k % 100 === 99) await reader.forceFlush();
  }
  await provider.shutdown();
  return ids;
}

describe('otlp → batch → otlphttp carries requests as they came (relay)', () => {
  it('hands the bytes on unchanged: the backend reads exactly what was sent', async () => {
    const [sink] = await sinks(1);
    const { collector, otlp } = await relay([sink]);
    const sent: Uint8Array[] = [];
    for (let k = 0; k < 20; k++) {
      const body = encodeMetricsRequest(counterBatch(50).batch);
      sent.push(body);
      expect((await post(otlp, body)).status).toBe(200);
    }
    await expectDelivered(sink, sent, 1000);
    // Joined byte for byte: every request the sink got is a run of sent bodies.
    const joined = Buffer.concat(sent);
    for (const { body } of sink.accepted) expect(joined.includes(body)).toBe(true);
    expect(otlp.http!.stats).toMatchObject({ requests: 20, relayed: 20, accepted: 1000 });
    expect(collector.relays.get('otlp')).toEqual(['otlp']);
    // Every point still counted, at each step.
    expect(collector.processors[0].counts).toEqual({ in: 1000, out: 1000 });
    expect(collector.exporterCounts.get('otlphttp/0')).toEqual({ in: 1000 });
  });

  it('reads a body that comes in small pieces, with a length or chunked, byte for byte', async () => {
    const [sink] = await sinks(1);
    const { otlp } = await relay(
      [sink],
      '[batch]',
      '',
      'batch: { flush_interval: 10ms, max_points: 100000 }',
    );
    // Past the first block a body is read into (256 KiB), so it grows while the pieces come.
    const sent = [
      encodeMetricsRequest(counterBatch(16_000).batch),
      encodeMetricsRequest(counterBatch(10).batch),
    ];
    expect(sent[0].length).toBeGreaterThan(600 * 1024);
    for (const body of sent) {
      for (const chunked of [false, true]) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(`http://${otlp.http!.address}/v1/metrics`, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-protobuf',
              ...(chunked ? {} : { 'content-length': String(body.length) }),
            },
          });
          req.on('response', (res) => {
            res.resume();
            resolve(res.statusCode!);
          });
          req.on('error', reject);
          void (async () => {
            for (let at = 0; at < body.length; at += 7_000) {
              req.write(body.subarray(at, at + 7_000));
              if (at % 70_000 === 0) await new Promise((r) => setTimeout(r, 1));
            }
            req.end();
          })();
        });
        expect(status).toBe(200);
      }
    }
    await until(() => sink.accepted.reduce((n, r) => n + r.points, 0) >= 32_020, 'the points');
    const joined = Buffer.concat([sent[0], sent[0], sent[1], sent[1]]);
    for (const { body } of sink.accepted) expect(joined.includes(body)).toBe(true);
    expect(resourceMetricsOf(sink.accepted.map((r) => r.body))).toEqual(
      resourceMetricsOf([sent[0], sent[0], sent[1], sent[1]]),
    );
  });

  it('relays the official exporters over HTTP (gzip) and gRPC, every point delivered', async () => {
    const [sink] = await sinks(1);
    const { otlp } = await relay([sink]);
    const http = await exportWithSdk(
      new ProtoExporter({
        url: `http://${otlp.http!.address}/v1/metrics`,
        compression: CompressionAlgorithm.GZIP,
        temporalityPreference: AggregationTemporalityPreference.DELTA,
      }),
      300,
    );
    const grpc = await exportWithSdk(
      new GrpcExporter({
        url: `http://${otlp.grpc!.address}`,
        temporalityPreference: AggregationTemporalityPreference.DELTA,
      }),
      300,
    );
    await until(() => sink.accepted.reduce((n, r) => n + r.points, 0) >= 2 * 600, 'the points');
    const delivered = sink.accepted.flatMap((r) => r.ids);
    // A counter and a histogram point per id, each sent once.
    expect(delivered.length).toBe(1200);
    expect(new Set(delivered)).toEqual(new Set([...http, ...grpc]));
    expect(otlp.http!.stats.relayed).toBe(otlp.http!.stats.requests);
    expect(otlp.grpc!.stats.relayed).toBe(otlp.grpc!.stats.requests);
    expect(otlp.http!.stats.requests + otlp.grpc!.stats.requests).toBeGreaterThanOrEqual(6);
  });

  it('still refuses bad data with the decoder’s message, and decodes what it does not carry', async () => {
    const [sink] = await sinks(1);
    const { otlp } = await relay([sink], '[batch]', 'max_attributes_per_point: 4');
    const good = encodeMetricsRequest(counterBatch(3).batch);

    const truncated = await post(otlp, good.subarray(0, good.length - 3));
    expect(truncated.status).toBe(400);
    expect(await truncated.text()).toMatch(/byte \d+/);

    const utf8 = Buffer.from(good);
    const at = utf8.indexOf('requests');
    utf8[at] = 0xff;
    const badText = await post(otlp, utf8);
    expect(badText.status).toBe(400);
    expect(await badText.text()).toMatch(/valid UTF-8/);

    const wide = counterBatch(1).batch;
    wide.addNumberPoint(wide.series(0, { a: '1', b: '2', c: '3', d: '4', e: '5' }), {
      time: 2n,
      value: 1,
    });
    const tooMany = await post(otlp, encodeMetricsRequest(wide));
    expect(tooMany.status).toBe(400);
    expect(await tooMany.text()).toMatch(/5 attributes, over max_attributes_per_point 4/);

    // An unknown field (number 99, varint) at the end: valid OTLP the relay does not carry
    // blind, so it is decoded, and its points delivered all the same.
    const unknown = Buffer.concat([good, Buffer.from([0x98, 0x06, 0x01])]);
    expect((await post(otlp, unknown)).status).toBe(200);
    expect((await post(otlp, good)).status).toBe(200);
    await until(() => sink.accepted.reduce((n, r) => n + r.points, 0) >= 6, 'the points');
    expect(otlp.http!.stats).toMatchObject({ requests: 5, malformed: 3, relayed: 1, accepted: 6 });
  });

  it('fans one request out to every exporter', async () => {
    const targets = await sinks(2);
    const { otlp } = await relay(targets);
    const { batch, ids } = counterBatch(40);
    expect((await post(otlp, encodeMetricsRequest(batch))).status).toBe(200);
    for (const sink of targets) {
      await until(() => sink.deliveredIds().size === 40, 'both sinks');
      expect([...sink.deliveredIds()].sort()).toEqual([...ids].sort());
    }
    expect(otlp.http!.stats.relayed).toBe(1);
  });

  it('gives every exporter its own bytes: a slow one still sends what came, while the fast one’s buffers are reused', async () => {
    // Bodies over 64 KiB live in the process's reused request buffers. The fast exporter
    // gives each back once sent, and later requests are written into them; the slow one,
    // still holding the same requests, must not send those later bytes.
    const [fast, slow] = await sinks(2);
    // One request at a time, each answered late: the slow exporter's queue holds the others.
    slow.reply = () => ({ delayMs: 40 });
    const { otlp } = await collectorOf(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  otlphttp/fast:
    metrics_endpoint: ${fast.url}
    batch: { flush_interval: 10ms }
  otlphttp/slow:
    metrics_endpoint: ${slow.url}
    batch: { flush_interval: 10ms }
    sending_queue: { num_consumers: 1 }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlphttp/fast, otlphttp/slow] }
`);
    const ids: string[] = [];
    const sent: Uint8Array[] = [];
    for (let k = 0; k < 12; k++) {
      const batch = counterBatch(2500);
      ids.push(...batch.ids);
      const body = encodeMetricsRequest(batch.batch);
      expect(body.length).toBeGreaterThan(64 * 1024);
      sent.push(body);
      expect((await post(otlp, body)).status).toBe(200);
    }
    for (const sink of [fast, slow]) {
      await expectDelivered(sink, sent, ids.length);
    }
  });

  it('a memory_limiter over its limit refuses what it would relay; a second pipeline still gets it', async () => {
    const [limited, open] = await sinks(2);
    const { collector, otlp } = await collectorOf(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 1, spike_limit_mib: 0 }
  batch: {}
exporters:
  otlphttp/limited:
    metrics_endpoint: ${limited.url}
    batch: { flush_interval: 10ms }
  otlphttp/open:
    metrics_endpoint: ${open.url}
    batch: { flush_interval: 10ms }
service:
  pipelines:
    metrics/limited: { receivers: [otlp], processors: [memory_limiter], exporters: [otlphttp/limited] }
    metrics/open: { receivers: [otlp], processors: [batch], exporters: [otlphttp/open] }
`);
    const { batch, ids } = counterBatch(30);
    // One pipeline refused, the other took it: accepted (the fan-out's rule).
    expect((await post(otlp, encodeMetricsRequest(batch))).status).toBe(200);
    await until(() => open.deliveredIds().size === 30, 'the open pipeline');
    expect([...open.deliveredIds()].sort()).toEqual([...ids].sort());
    const limiter = collector.processors.find((p) => p.id === 'memory_limiter')!;
    expect(limiter.counts.out).toBe(0);
    expect((limiter.component as unknown as { refused: number }).refused).toBe(30);
    expect(limited.received).toHaveLength(0);
    expect(otlp.http!.stats.relayed).toBe(1);
  });

  it("cuts a request over the exporter's batch limits as it cuts a batch, instead of sending it whole", async () => {
    const [sink] = await sinks(1);
    const { collector, otlp } = await collectorOf(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms, max_points: 100 }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlphttp] }
`);
    const { batch, ids } = counterBatch(450);
    expect((await post(otlp, encodeMetricsRequest(batch))).status).toBe(200);
    await until(() => sink.deliveredIds().size === 450, 'every point');
    expect([...sink.deliveredIds()].sort()).toEqual([...ids].sort());
    expect(Math.max(...sink.accepted.map((r) => r.points))).toBeLessThanOrEqual(100);
    expect(otlp.http!.stats.relayed).toBe(1);
    expect(collector.exporters.get('otlphttp')!.engine!.stats.deadLettered).toEqual({});
  });

  it('keeps a series in order across concurrent sends, unless `sending_queue.ordering` is none', async () => {
    /** One point of the gauge `depth{queue="a"}`: value and time `value`. */
    const depth = (value: number) => {
      const batch = new MetricBatch();
      const scope = batch.addScope(batch.addResource());
      const m = batch.addMetric(scope, { name: 'depth', type: MetricType.Gauge });
      batch.addNumberPoint(batch.series(m, { queue: 'a' }), { time: BigInt(value), value });
      return encodeMetricsRequest(batch);
    };
    // Relayed as bytes (`batch`), and decoded into batches (`filter` needs the points).
    const cases = ['[batch]', '[filter]'].flatMap((processors) =>
      ['per_series', 'none'].map((ordering) => ({ processors, ordering })),
    );
    for (const { processors, ordering } of cases) {
      const [sink] = await sinks(1);
      // The first send fails, late; the others go meanwhile unless they wait for it.
      sink.reply = (_r, index) =>
        index === 0 ? { status: 503, headers: { 'retry-after': '0' }, delayMs: 50 } : {};
      const { otlp } = await relay(
        [sink],
        processors,
        '',
        `sending_queue: { num_consumers: 4, ordering: ${ordering} }
    batch: { max_points: 1, flush_interval: 1ms }`,
      );
      for (let value = 1; value <= 6; value++)
        expect((await post(otlp, depth(value))).status).toBe(200);
      await until(() => sink.accepted.length === 6, `six sends (${processors}, ${ordering})`);
      const values = sink.accepted.map(
        (r) => r.request.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble,
      );
      expect(otlp.http!.stats.relayed).toBe(processors === '[batch]' ? 6 : 0);
      if (ordering === 'per_series') expect(values).toEqual([1, 2, 3, 4, 5, 6]);
      else {
        expect(values).not.toEqual([1, 2, 3, 4, 5, 6]);
        expect([...values].sort()).toEqual([1, 2, 3, 4, 5, 6]);
      }
    }
  });

  it('decodes when a processor needs the points', async () => {
    const [sink] = await sinks(1);
    const { collector, otlp } = await relay([sink], '[batch, filter]');
    expect(collector.relays.has('otlp')).toBe(false);
    const { batch, ids } = counterBatch(10);
    expect((await post(otlp, encodeMetricsRequest(batch))).status).toBe(200);
    await until(() => sink.deliveredIds().size === 10, 'the points');
    expect([...sink.deliveredIds()].sort()).toEqual([...ids].sort());
    expect(otlp.http!.stats.relayed).toBe(0);
  });
});

describe('a relay of gzip bodies to exporters that send gzip', () => {
  it('sends a request that goes out alone as its client gzipped it: nothing is compressed again', async () => {
    const targets = await sinks(2);
    // Requests of 30 points, and at most 30 a send: each goes out alone, to both exporters.
    const { otlp } = await relay(
      targets,
      '[batch]',
      '',
      'batch: { flush_interval: 10ms, max_points: 30 }',
    );
    const { plain, gzipped } = gzipBodies(8);
    await postAtOnce(otlp, gzipped);
    for (const sink of targets) {
      await expectDelivered(sink, plain, 240);
      expect(sink.accepted.every((r) => r.contentEncoding === 'gzip')).toBe(true);
      // Byte for byte what was posted (level 9: sluice compresses at level 1).
      const members = sink.accepted.map((r) => membersOf(r.wire, gzipped));
      expect(members.every((m) => m?.length === 1)).toBe(true);
      expect(members.map((m) => m![0]).sort((a, b) => a - b)).toEqual([...gzipped.keys()]);
    }
    expect(otlp.http!.stats).toMatchObject({ relayed: 8, accepted: 240 });
  });

  it('does the same over gRPC, either way: a gzip message in, a gzip body or message out', async () => {
    const [sink] = await sinks(1);
    const recorder = new GrpcRecorder();
    const grpcTarget = await recorder.start();
    stops.push(() => recorder.stop());
    const { otlp } = await collectorOf(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
      grpc: { endpoint: 127.0.0.1:0 }
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms, max_points: 30 }
  otlp:
    endpoint: ${grpcTarget}
    tls: { insecure: true }
    batch: { flush_interval: 10ms, max_points: 30 }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlphttp, otlp] }
`);
    const { plain, gzipped } = gzipBodies(4);
    for (const body of gzipped.slice(0, 2)) {
      const status = await rawExportCall(otlp.grpc!.address, grpcFrame(body, true), {
        'grpc-encoding': 'gzip',
      });
      expect(status).toBe('0');
    }
    for (const body of gzipped.slice(2)) expect((await post(otlp, body, true)).status).toBe(200);
    await until(() => sink.accepted.length === 4 && recorder.calls.length === 4, 'both exporters');
    expect(resourceMetricsOf(sink.accepted.map((r) => r.body))).toEqual(resourceMetricsOf(plain));
    const overHttp = sink.accepted.map((r) => membersOf(r.wire, gzipped)?.join());
    const overGrpc = recorder.calls.map((call) => {
      expect(call.headers['grpc-encoding']).toBe('gzip');
      expect(call.frame[0]).toBe(1);
      return membersOf(call.frame.subarray(5), gzipped)?.join();
    });
    for (const sent of [overHttp, overGrpc]) expect(sent.sort()).toEqual(['0', '1', '2', '3']);
    expect(otlp.grpc!.stats.relayed + otlp.http!.stats.relayed).toBe(4);
  });

  it('compresses requests it joins anew, into one gzip member: never a run of members', async () => {
    const [sink] = await sinks(1);
    const { otlp } = await relay(
      [sink],
      '[batch]',
      '',
      'batch: { flush_interval: 50ms }\n    sending_queue: { num_consumers: 1 }',
    );
    const { plain, gzipped } = gzipBodies(12);
    // Posted at once, so the exporter's queue joins several into one request.
    await postAtOnce(otlp, gzipped);
    await expectDelivered(sink, plain, 360);
    expect(sink.accepted.some((r) => r.points > 30)).toBe(true);
    for (const r of sink.accepted) {
      const members = membersOf(r.wire, gzipped);
      // Alone, as it came; joined, compressed anew (not a run of posted bodies).
      if (r.points === 30) expect(members?.length ?? 1).toBe(1);
      else expect(members).toBeUndefined();
    }
  });

  it('gives every exporter its own gzipped body: a slow one still sends what came, while the fast one’s buffers are reused', async () => {
    // Bodies that gzip to over 64 KiB live in the process's reused request buffers, as in
    // the test above for plain ones: the fast exporter gives each back once sent.
    const [fast, slow] = await sinks(2);
    slow.reply = () => ({ delayMs: 40 });
    const keys = 'batch: { flush_interval: 10ms, max_points: 2000 }';
    const { otlp } = await relay([fast, slow], '[batch]', '', [
      keys,
      `${keys}\n    sending_queue: { num_consumers: 1 }`,
    ]);
    const gzipped: Buffer[] = [];
    for (let k = 0; k < 10; k++) {
      const batch = new MetricBatch();
      const scope = batch.addScope(batch.addResource({ attributes: {} }), { name: 'test' });
      const metric = batch.addMetric(scope, { name: 'noise', type: MetricType.Gauge });
      for (let p = 0; p < 2000; p++) {
        const id = randomBytes(32).toString('hex');
        batch.addNumberPoint(batch.series(metric, { id }), { time: 2n, value: p });
      }
      gzipped.push(gzipSync(encodeMetricsRequest(batch), { level: 9 }));
      expect(gzipped[k].length).toBeGreaterThan(64 * 1024);
      expect((await post(otlp, gzipped[k], true)).status).toBe(200);
    }
    for (const sink of [fast, slow]) {
      await until(() => sink.accepted.length === 10, 'ten sends');
      const members = sink.accepted.map((r) => membersOf(r.wire, gzipped));
      expect(members.map((m) => m?.[0]).sort((a, b) => a! - b!)).toEqual([...gzipped.keys()]);
    }
  });

  it('inflates a body of several members, one past a piece, and refuses one whose trailer lies', async () => {
    const [sink] = await sinks(1);
    const { otlp } = await relay(
      [sink],
      '[batch]',
      '',
      'batch: { flush_interval: 10ms, max_points: 100000 }\n    compression: none',
    );
    const parts = [counterBatch(10), counterBatch(20)];
    const twoMembers = Buffer.concat(parts.map((p) => gzipSync(encodeMetricsRequest(p.batch))));
    // The last member's trailer sizes the pieces: here it speaks for 20 points of 30.
    expect((await post(otlp, twoMembers, true)).status).toBe(200);
    // Past the largest piece (1 MiB), so it inflates in several.
    const large = counterBatch(25_000);
    const plain = encodeMetricsRequest(large.batch);
    expect(plain.length).toBeGreaterThan(1024 * 1024);
    expect((await post(otlp, gzipSync(plain), true)).status).toBe(200);
    const ids = [...parts[0].ids, ...parts[1].ids, ...large.ids];
    await until(() => sink.deliveredIds().size === ids.length, 'every point');
    // A trailer declaring another length: zlib checks it, and the body is refused.
    const lying = gzipSync(encodeMetricsRequest(counterBatch(5).batch));
    lying.writeUInt32LE(lying.readUInt32LE(lying.length - 4) + 1, lying.length - 4);
    const refused = await post(otlp, lying, true);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/could not read the body/);
  });

  it('checks and counts them as ever: a bad one is refused, one it does not carry is decoded', async () => {
    const [sink] = await sinks(1);
    const { otlp } = await relay([sink]);
    const good = encodeMetricsRequest(counterBatch(3).batch);
    const truncated = await post(otlp, gzipSync(good.subarray(0, good.length - 3)), true);
    expect(truncated.status).toBe(400);
    expect(await truncated.text()).toMatch(/byte \d+/);
    const cutShort = await post(otlp, gzipSync(good).subarray(0, 12), true);
    expect(cutShort.status).toBe(400);
    // An unknown field: decoded, not carried, and delivered all the same (compressed anew).
    const unknown = gzipSync(Buffer.concat([good, Buffer.from([0x98, 0x06, 0x01])]));
    expect((await post(otlp, unknown, true)).status).toBe(200);
    await until(() => sink.accepted.reduce((n, r) => n + r.points, 0) >= 3, 'the points');
    expect(otlp.http!.stats).toMatchObject({ requests: 3, malformed: 2, relayed: 0, accepted: 3 });
    expect(sink.accepted[0].wire.equals(unknown)).toBe(false);
  });

  it('compresses anew for an exporter that does not send gzip, queues on disk, or shares the request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-gzip-relay-'));
    const setups = [
      { name: 'compression none', keys: 'compression: none', sinks: 1 },
      { name: 'zstd', keys: 'compression: zstd', sinks: 1 },
      {
        name: 'a persistent queue',
        keys: 'sending_queue: { storage: file_storage }',
        sinks: 1,
        extensions: `extensions:\n  file_storage: { directory: ${dir} }\n`,
      },
    ];
    for (const setup of setups) {
      const [sink] = await sinks(1);
      const { otlp } = await collectorOf(`
${setup.extensions ?? ''}receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms }
    ${setup.keys}
service:
  ${setup.extensions ? 'extensions: [file_storage]' : ''}
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlphttp] }
`);
      const { plain, gzipped } = gzipBodies(3);
      for (const body of gzipped) expect((await post(otlp, body, true)).status).toBe(200);
      await expectDelivered(sink, plain, 90, setup.name);
      expect(sink.accepted.every((r) => membersOf(r.wire, gzipped) === undefined)).toBe(true);
      expect(otlp.http!.stats.relayed).toBe(3);
    }
    // Two exporters, one of them without gzip: each gets what it sends.
    const [gzipSink, plainSink] = await sinks(2);
    const { otlp } = await relay([gzipSink, plainSink], '[batch]', '', [
      'batch: { flush_interval: 10ms }',
      'batch: { flush_interval: 10ms }\n    compression: none',
    ]);
    const { plain, gzipped } = gzipBodies(2);
    for (const body of gzipped) expect((await post(otlp, body, true)).status).toBe(200);
    for (const sink of [gzipSink, plainSink]) {
      await expectDelivered(sink, plain, 60, 'both sinks');
    }
    expect(gzipSink.accepted.every((r) => r.contentEncoding === 'gzip')).toBe(true);
    expect(plainSink.accepted.every((r) => r.contentEncoding === undefined)).toBe(true);
  });

  it('holds them to the batch limits by their size uncompressed', async () => {
    const [sink] = await sinks(1);
    const { otlp } = await relay(
      [sink],
      '[batch]',
      '',
      'batch: { flush_interval: 10ms, max_bytes: 2000 }',
    );
    // 300 points: 13 KB uncompressed, under 2,000 bytes gzipped.
    const plain = encodeMetricsRequest(counterBatch(300).batch);
    const gzipped = gzipSync(plain, { level: 9 });
    expect(plain.length).toBeGreaterThan(5 * 2000);
    expect(gzipped.length).toBeLessThan(2000);
    expect((await post(otlp, gzipped, true)).status).toBe(200);
    await until(() => sink.accepted.reduce((n, r) => n + r.points, 0) >= 300, 'the points');
    expect(sink.accepted.length).toBeGreaterThan(5);
    expect(sink.accepted.every((r) => r.body.length <= 2000)).toBe(true);
  });

  it('writes an undeliverable one to dead letters as the OTLP request it holds', async () => {
    const [sink] = await sinks(1);
    sink.reply = () => ({ status: 400, body: 'no' });
    const dir = await mkdtemp(join(tmpdir(), 'sluice-gzip-dlq-'));
    const { otlp } = await relay(
      [sink],
      '[batch]',
      '',
      `batch: { flush_interval: 10ms }\n    dead_letter_dir: ${dir}`,
    );
    const { plain, gzipped } = gzipBodies(1);
    expect((await post(otlp, gzipped[0], true)).status).toBe(200);
    let records: Awaited<ReturnType<typeof listDeadLetters>> = [];
    await until(
      () => records.length > 0,
      'a dead letter',
      async () => {
        records = await listDeadLetters(dir);
      },
    );
    expect(records[0]).toMatchObject({ reason: 'permanent', points: 30 });
    const bytes = await readFile(join(dir, records[0].file));
    expect(resourceMetricsOf([bytes])).toEqual(resourceMetricsOf(plain));
  });
});
