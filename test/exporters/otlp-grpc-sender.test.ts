import { status } from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorForGrpcStatus } from '../../src/exporters/helper/grpc-status.js';
import {
  DeliveryEngine,
  OtlpGrpcSender,
  PermanentError,
  RetryableError,
  ThrottleError,
} from '../../src/index.js';
import { counterBatch } from '../helpers/batches.js';
import { GrpcSink, retryInfoStatus } from '../helpers/grpc-sink.js';

let sink: GrpcSink;
let endpoint: string;
const engines: DeliveryEngine[] = [];

beforeEach(async () => {
  sink = new GrpcSink();
  endpoint = await sink.start();
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.shutdown({ deadlineMs: 200 });
  await sink.stop();
});

function engine(compression: 'none' | 'gzip' = 'none'): DeliveryEngine {
  const e = new DeliveryEngine({
    sender: new OtlpGrpcSender({ endpoint, compression, headers: { 'x-tenant': 't1' } }),
    retry: { initialIntervalMs: 20, maxIntervalMs: 50 },
    batch: { flushIntervalMs: 5 },
    logger: pino({ level: 'silent' }),
  });
  engines.push(e);
  return e;
}

describe('OTLP/gRPC sender against a real grpc-js server', () => {
  it('delivers with metadata, gzip, and reads partial success', async () => {
    sink.reply = () => ({ rejected: 1 });
    const e = engine('gzip');
    const { batch, ids } = counterBatch(25);
    await e.consume(batch);
    await e.forceFlush();
    expect([...sink.ids].sort()).toEqual([...ids].sort());
    expect(sink.metadata[0].get('x-tenant')).toEqual(['t1']);
    expect(e.stats.rejected).toBe(1);
    expect(e.stats.sent).toBe(24);
  });

  it('retries UNAVAILABLE and RESOURCE_EXHAUSTED with RetryInfo, honouring its delay', async () => {
    const times: number[] = [];
    sink.reply = (index) => {
      times.push(Date.now());
      if (index === 0) return { code: status.UNAVAILABLE, details: 'restarting' };
      if (index === 1)
        return { code: status.RESOURCE_EXHAUSTED, statusDetails: retryInfoStatus(8, 1) };
      return {};
    };
    const e = engine();
    const { batch, ids } = counterBatch(3);
    await e.consume(batch);
    await e.forceFlush();
    expect(sink.requests).toBe(3);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(950);
    expect([...sink.ids].sort()).toEqual([...ids].sort());
  });

  it('does not retry INVALID_ARGUMENT, nor RESOURCE_EXHAUSTED without RetryInfo', async () => {
    sink.reply = () => ({ code: status.INVALID_ARGUMENT, details: 'bad metric' });
    const e = engine();
    await e.consume(counterBatch(2).batch);
    await e.forceFlush();
    expect(sink.requests).toBe(1);
    expect(e.stats.dropped.permanent).toBe(2);
  });
});

describe('OTLP/gRPC sender configuration', () => {
  it('refuses headers that cannot be gRPC metadata when it is built, naming the header', () => {
    for (const name of ['Connection', 'te', 'x tenant', 'x-tenant:1']) {
      expect(() => new OtlpGrpcSender({ endpoint, headers: { [name]: 'v' } }), name).toThrow(
        new RegExp(`headers.*${name.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
    }
    expect(() => new OtlpGrpcSender({ endpoint, headers: { 'X-Tenant_1.a': 'v' } })).not.toThrow();
  });
});

describe('gRPC status mapping (OTLP specification)', () => {
  it('retries exactly the retryable codes', () => {
    for (const code of [1, 4, 10, 11, 14, 15])
      expect(errorForGrpcStatus(code, '', undefined)).toBeInstanceOf(RetryableError);
    for (const code of [2, 3, 5, 6, 7, 8, 9, 12, 13, 16])
      expect(errorForGrpcStatus(code, '', undefined)).toBeInstanceOf(PermanentError);
    const throttled = errorForGrpcStatus(8, 'slow down', retryInfoStatus(8, 2, 500_000_000));
    expect(throttled).toBeInstanceOf(ThrottleError);
    expect((throttled as ThrottleError).retryAfterMs).toBe(2500);
  });
});
