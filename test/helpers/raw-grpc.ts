import {
  type ClientHttp2Session,
  connect,
  createServer,
  type IncomingHttpHeaders,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { METRICS_EXPORT_METHOD } from '../../src/codec/protobuf/service.js';

// OTLP/gRPC spoken by hand over HTTP/2, for tests that send what no gRPC client would
// (damaged frames, pre-compressed bombs, calls without credentials) or that look at what a
// client sent, byte for byte (`GrpcRecorder`).

/** A gRPC length-prefixed message: the compressed flag, the length, the bytes. */
export function grpcFrame(message: Uint8Array, compressed: boolean): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/**
 * One `MetricsService/Export` call with `body` as its request stream, over `session` or over
 * a session of its own to `target` (closed after): the grpc-status the server answered, or
 * `reset` when the stream ended without one.
 */
export function rawExportCall(
  to: ClientHttp2Session | string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<string> {
  const session = typeof to === 'string' ? connect(`http://${to}`) : to;
  return new Promise((resolve) => {
    let status: string | undefined;
    const stream = session.request({
      ':method': 'POST',
      ':path': METRICS_EXPORT_METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const take = (answer: Record<string, unknown>) => {
      if (answer['grpc-status'] !== undefined) status = String(answer['grpc-status']);
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', () => {});
    stream.on('error', () => {});
    stream.on('close', () => {
      if (typeof to === 'string') session.close();
      resolve(status ?? 'reset');
    });
    stream.end(body);
  });
}

/** One call a `GrpcRecorder` took: its request headers and its body as it came (prefix included). */
export interface RecordedCall {
  headers: IncomingHttpHeaders;
  frame: Buffer;
}

/**
 * A bare HTTP/2 server on 127.0.0.1 that keeps every call as it came — no gRPC library
 * between, so a test sees the compressed flag and the bytes a client really sent — and
 * answers each with an empty message and grpc-status 0.
 */
export class GrpcRecorder {
  readonly calls: RecordedCall[] = [];
  readonly #server = createServer();

  constructor() {
    this.#server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        this.calls.push({ headers, frame: Buffer.concat(chunks) });
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc' },
          { waitForTrailers: true },
        );
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.alloc(5));
      });
    });
  }

  /** Listens on a free port; its `host:port`. */
  async start(): Promise<string> {
    await new Promise<void>((done) => this.#server.listen(0, '127.0.0.1', done));
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((done) => this.#server.close(() => done()));
  }
}
