import { type ClientHttp2Session, connect } from 'node:http2';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMetricsRequest, type MetricBatch } from '../../src/index.js';
import { OtlpGrpcReceiver } from '../../src/receivers/otlp/otlp-grpc-receiver.js';
import { counterBatch } from '../helpers/batches.js';
import { fuzzRuns, mutate, mutations } from '../helpers/mutation.js';
import { grpcFrame, rawExportCall } from '../helpers/raw-grpc.js';

// gRPC messages as a hostile client sends them: length-prefixed frames (plain or gzip) with
// the frame header and the message damaged — lying lengths, a compressed flag without an
// encoding, garbage where gzip should be. Every call ends with a gRPC status, and the
// receiver keeps answering; what it accepted is counted.

const RUNS = Math.min(fuzzRuns(), Number(process.env.FUZZ_GRPC_RUNS ?? 100_000));
const received: MetricBatch[] = [];
const receiver = new OtlpGrpcReceiver(
  { endpoint: '127.0.0.1:0', maxReceiveBytes: 64 * 1024, retryAfterSeconds: 1 },
  { consume: async (batch) => void received.push(batch) },
  pino({ level: 'silent' }),
);
let session: ClientHttp2Session;
const statuses = new Map<string, number>();

beforeAll(async () => {
  await receiver.start();
  session = connect(`http://${receiver.address}`);
});
afterAll(async () => {
  session.close();
  await receiver.shutdown({ deadlineMs: 1_000 });
  console.log(
    JSON.stringify({ fuzz: 'grpc-messages', cases: RUNS, statuses: Object.fromEntries(statuses) }),
  );
});

/** One unary call with `body` as the request stream: its grpc-status, or `reset`. */
function call(body: Uint8Array, gzip: boolean): Promise<string> {
  return rawExportCall(session, body, gzip ? { 'grpc-encoding': 'gzip' } : {});
}

describe('OTLP/gRPC receiver under damaged messages', () => {
  it('answers every call with a status and keeps serving', async () => {
    const message = encodeMetricsRequest(counterBatch(5).batch);
    const plain = grpcFrame(message, false);
    const zipped = grpcFrame(gzipSync(message), true);
    expect(await call(plain, false)).toBe('0');
    await fc.assert(
      fc.asyncProperty(fc.boolean(), mutations, async (gzip, edits) => {
        const status = await call(mutate(gzip ? zipped : plain, edits), gzip);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        // OK, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, INTERNAL (a frame grpc-js cannot read),
        // UNIMPLEMENTED (a compressed flag it cannot honour): a status, never a crash.
        expect(status).toMatch(/^(0|3|8|12|13)$/);
      }),
      { numRuns: RUNS },
    );
    expect(await call(plain, false)).toBe('0');
    expect(await call(zipped, true)).toBe('0');
    expect(statuses.get('0')).toBeGreaterThan(0);
    expect(statuses.get('3')).toBeGreaterThan(0);
  });
});
