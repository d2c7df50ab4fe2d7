import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMetricsResponse } from '../../src/codec/protobuf/response.js';
import { encodeRetryInfoStatus } from '../../src/codec/protobuf/rpc-status.js';
import { METRICS_EXPORT_METHOD } from '../../src/codec/protobuf/service.js';
import { GrpcUnaryClient } from '../../src/net/grpc-unary-client.js';
import { fuzzRuns, mutate, mutations } from '../helpers/mutation.js';
import { grpcFrame } from '../helpers/raw-grpc.js';

// What the `otlp` exporter's gRPC client reads from a server, damaged: the response frame
// (lying lengths, a compressed flag, gzip that is not), a trailers-only answer or trailers
// with odd grpc-status, grpc-message and grpc-status-details-bin values, a missing or wrong
// content type. Every call ends with a status (never an exception, never a hang), and the
// client goes on calling.

const RUNS = Math.min(fuzzRuns(), Number(process.env.FUZZ_GRPC_RUNS ?? 100_000));

interface Answer {
  trailersOnly: boolean;
  contentType: string;
  encoding: string | undefined;
  body: Uint8Array;
  status: string;
  message: string | undefined;
  details: string | undefined;
}

let answer: Answer;
let server: Http2Server;
const sessions = new Set<ServerHttp2Session>();
let client: GrpcUnaryClient;
const codes = new Map<number, number>();

beforeAll(async () => {
  server = createServer();
  server.on('session', (s) => sessions.add(s));
  server.on('stream', (stream) => {
    stream.on('data', () => {});
    const a = answer;
    const head = {
      ':status': 200,
      'content-type': a.contentType,
      ...(a.encoding ? { 'grpc-encoding': a.encoding } : {}),
    };
    const status = {
      'grpc-status': a.status,
      ...(a.message !== undefined ? { 'grpc-message': a.message } : {}),
      ...(a.details !== undefined ? { 'grpc-status-details-bin': a.details } : {}),
    };
    if (a.trailersOnly) {
      stream.respond({ ...head, ...status }, { endStream: true });
      return;
    }
    stream.respond(head, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(status));
    stream.end(a.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new GrpcUnaryClient({
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    maxResponseBytes: 64 * 1024,
  });
});

afterAll(async () => {
  await client.close();
  for (const s of sessions) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  console.log(
    JSON.stringify({ fuzz: 'grpc-answers', cases: RUNS, codes: Object.fromEntries(codes) }),
  );
});

const response = encodeMetricsResponse({ rejectedDataPoints: 3, errorMessage: 'some refused' });
const plain = grpcFrame(response, false);
const zipped = grpcFrame(gzipSync(response), true);
const details = Buffer.from(encodeRetryInfoStatus(8, 2)).toString('base64');

const answers: fc.Arbitrary<Answer> = fc.record({
  trailersOnly: fc.boolean(),
  contentType: fc.constantFrom(
    'application/grpc',
    'application/grpc',
    'application/grpc+proto',
    'text/html',
    '',
  ),
  encoding: fc.constantFrom(undefined, 'gzip', 'identity', 'snappy'),
  body: fc
    .tuple(fc.boolean(), mutations)
    .map(([gzip, edits]) => mutate(gzip ? zipped : plain, edits)),
  // Mostly OK, so the damaged response frames get read.
  status: fc.oneof(
    { arbitrary: fc.constant('0'), weight: 6 },
    { arbitrary: fc.constantFrom('8', '14', '3'), weight: 2 },
    { arbitrary: fc.string({ maxLength: 4 }).filter((t) => /^[\x20-\x7e]*$/.test(t)), weight: 1 },
  ),
  message: fc.option(
    fc.string({ maxLength: 20 }).filter((t) => /^[\x20-\x7e]*$/.test(t)),
    { nil: undefined },
  ),
  details: fc.option(
    fc.oneof(fc.constant(details), fc.base64String({ maxLength: 40 }), fc.constantFrom('%%%', '')),
    { nil: undefined },
  ),
});

describe('gRPC client under damaged answers', () => {
  it('ends every call with a status and keeps calling', async () => {
    await fc.assert(
      fc.asyncProperty(answers, async (a) => {
        answer = a;
        const result = await client.call(METRICS_EXPORT_METHOD, new Uint8Array(8));
        codes.set(result.code, (codes.get(result.code) ?? 0) + 1);
        expect(Number.isInteger(result.code)).toBe(true);
        expect(typeof result.message).toBe('string');
        // An OK status with a response only when the frame was whole and readable.
        if (result.code === 0 && result.response)
          expect(result.response.length).toBeLessThanOrEqual(64 * 1024);
      }),
      { numRuns: RUNS },
    );
    answer = {
      trailersOnly: false,
      contentType: 'application/grpc',
      encoding: 'gzip',
      body: zipped,
      status: '0',
      message: undefined,
      details: undefined,
    };
    const ok = await client.call(METRICS_EXPORT_METHOD, new Uint8Array(8));
    expect(ok.code).toBe(0);
    expect(Buffer.compare(ok.response!, Buffer.from(response))).toBe(0);
    expect(codes.get(0)).toBeGreaterThan(0);
  });
});
