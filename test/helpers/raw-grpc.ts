import { type ClientHttp2Session, connect } from 'node:http2';
import { METRICS_EXPORT_METHOD } from '../../src/codec/protobuf/service.js';

// OTLP/gRPC spoken by hand over HTTP/2, for tests that send what no gRPC client would:
// damaged frames, pre-compressed bombs, calls without credentials.

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
