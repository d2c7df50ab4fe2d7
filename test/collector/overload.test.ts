import { gzipSync } from 'node:zlib';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compress } from 'zstd-napi';
import { retryDelayMs } from '../../src/codec/protobuf/rpc-status.js';
import { METRICS_EXPORT_METHOD } from '../../src/codec/protobuf/service.js';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { encodeMetricsRequest } from '../../src/index.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { counterBatch } from '../helpers/batches.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

let sink: OtlpSink;
let collector: Collector;

beforeEach(async () => {
  sink = new OtlpSink();
  sink.reply = () => ({ delayMs: 500 }); // a slow backend
  await sink.start();
  collector = new Collector(
    parseConfig(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 4000
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    sending_queue:
      num_consumers: 1
      queue_size: 20
    batch:
      max_points: 10
      flush_interval: 1ms
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [otlphttp]
`),
    pino({ level: 'silent' }),
  );
  await collector.start();
});

afterEach(async () => {
  await collector.shutdown(200);
  await sink.stop();
});

const receiver = () => collector.receivers.get('otlp') as unknown as OtlpReceiver;
const post = (body: Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`http://${receiver().http!.address}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', ...headers },
    body,
  });

describe('backpressure and limits', () => {
  it('answers 429 with Retry-After when the exporter queue is full', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let k = 0; k < 6; k++) {
      const response = await post(encodeMetricsRequest(counterBatch(10).batch));
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers.get('retry-after');
      await response.arrayBuffer();
    }
    expect(statuses).toContain(200);
    expect(statuses).toContain(429);
    expect(retryAfter).toBe('1');
    // A request that does not fit a queue with room left is read and refused with its points;
    // one that comes when the queue is at its limit is refused unread, counted per request.
    const { refused, refusedRequests } = receiver().http!.stats;
    expect((refused.queue_full ?? 0) + (refusedRequests.queue_full ?? 0)).toBeGreaterThan(0);
  });

  it('refuses a request unread while the queue is at its limit: no decompression, no check', async () => {
    // Answering nothing until released: the queue stays at its limit while the test looks,
    // however long a loaded machine takes between requests.
    let release = () => {};
    const until = new Promise<void>((resolve) => {
      release = resolve;
    });
    sink.reply = () => ({ until });
    const stats = receiver().http!.stats;
    // Bytes no decoder takes, and a gzip stream that is not one: both would be a 400 if they
    // were read. While the queue is full they are answered as the next valid request would be.
    // The exporter may still take a batch off the queue after a 429 (it cuts the next one
    // while a send is out), making room once: fill it again and retry.
    const garbage = Buffer.from('not an OTLP request at all');
    let refused = false;
    for (let attempt = 0; attempt < 5 && !refused; attempt++) {
      let status = 0;
      for (let k = 0; status !== 429 && k < 10; k++) {
        const response = await post(encodeMetricsRequest(counterBatch(10).batch));
        status = response.status;
        await response.arrayBuffer();
      }
      expect(status).toBe(429);
      const unread = stats.refusedRequests.queue_full ?? 0;
      const malformed = stats.malformed;
      const statuses: number[] = [];
      for (const [body, headers] of [
        [garbage, {}],
        [garbage, { 'content-encoding': 'gzip' }],
      ] as const) {
        const response = await post(body, headers);
        statuses.push(response.status);
        if (response.status === 429) {
          expect(response.headers.get('retry-after')).toBe('1');
          expect(await response.text()).toContain('queue full');
        } else await response.arrayBuffer();
      }
      if (statuses.every((status) => status === 429)) {
        refused = true;
        expect(stats.refusedRequests.queue_full).toBe(unread + 2);
        expect(stats.malformed).toBe(malformed);
      }
    }
    expect(refused).toBe(true);
    const malformedBefore = stats.malformed;
    release();
    // Once the queue has room, the same bytes are read and refused for what they are.
    const deadline = Date.now() + 20_000;
    let status = 429;
    while (status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const response = await post(garbage);
      status = response.status;
      await response.arrayBuffer();
    }
    expect(status).toBe(400);
    expect(stats.malformed).toBe(malformedBefore + 1);
  });

  it('answers RESOURCE_EXHAUSTED with RetryInfo over gRPC when the queue is full', async () => {
    // The backend answers nothing until the end: the queue fills and stays full.
    let release = () => {};
    const until = new Promise<void>((resolve) => {
      release = resolve;
    });
    sink.reply = () => ({ until });
    const Client = makeGenericClientConstructor({}, 'MetricsService');
    const client = new Client(receiver().grpc!.address, credentials.createInsecure());
    const call = (bytes: Uint8Array) =>
      new Promise<ServiceError | null>((resolve) =>
        client.makeUnaryRequest(
          METRICS_EXPORT_METHOD,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(bytes),
          (error) => resolve(error),
        ),
      );
    const errors: (ServiceError | null)[] = [];
    for (let k = 0; k < 6; k++)
      errors.push(await call(encodeMetricsRequest(counterBatch(10).batch)));
    client.close();
    const exhausted = errors.find((e) => e?.code === 8)!;
    expect(exhausted).toBeDefined();
    expect(retryDelayMs(exhausted.metadata.get('grpc-status-details-bin')[0] as Buffer)).toBe(1000);
    // While the queue is at its limit a message is refused before it is checked: bytes no
    // decoder takes get RESOURCE_EXHAUSTED, not INVALID_ARGUMENT.
    const client2 = new Client(receiver().grpc!.address, credentials.createInsecure());
    const garbage = await new Promise<ServiceError | null>((resolve) =>
      client2.makeUnaryRequest(
        METRICS_EXPORT_METHOD,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from('not an OTLP request at all'),
        (error) => resolve(error),
      ),
    );
    client2.close();
    expect(garbage?.code).toBe(8);
    expect(receiver().grpc!.stats.refusedRequests.queue_full).toBeGreaterThan(0);
    expect(receiver().grpc!.stats.malformed).toBe(0);
    release();
  });

  it('refuses bodies over max_request_body_size, before and after decompression', async () => {
    const big = encodeMetricsRequest(counterBatch(200).batch);
    expect(big.length).toBeGreaterThan(4000);
    const plain = await post(big);
    expect(plain.status).toBe(413);
    const zipped = gzipSync(big);
    expect(zipped.length).toBeLessThan(4000);
    const bomb = await post(zipped, { 'content-encoding': 'gzip' });
    expect(bomb.status).toBe(413);
    expect(Buffer.from(await bomb.arrayBuffer()).toString()).toContain('after decompression');
    // zstd has no bound on its ratio: 64 MiB from a few KB, refused without inflating it.
    const zstdBomb = compress(Buffer.alloc(64 * 1024 * 1024));
    const refused = await post(zstdBomb, { 'content-encoding': 'zstd' });
    expect(refused.status).toBe(413);
    expect(Buffer.from(await refused.arrayBuffer()).toString()).toContain('after decompression');
    const small = await post(compress(encodeMetricsRequest(counterBatch(3).batch)), {
      'content-encoding': 'zstd',
    });
    expect(small.status).toBe(200);
    // Each refusal is counted, the one refused from its declared length too.
    expect(receiver().http!.stats.malformed).toBe(3);
  });
});
