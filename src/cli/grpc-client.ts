import { type ClientHttp2Session, connect } from 'node:http2';

/**
 * A gRPC unary client on `node:http2`, for the load generator: one HTTP/2 connection, a
 * stream per call (`POST`, `content-type: application/grpc`, `te: trailers`), the message
 * behind its 5-byte length prefix, and the call's status read from the trailers (or from a
 * trailers-only answer). grpc-js as a client stopped near 430k points/s on a 2-core machine,
 * so the collector's gRPC rows were measured at that rate whatever the collector could take.
 */
export class GrpcUnaryClient {
  readonly #session: ClientHttp2Session;

  /** `endpoint`: `host:port` (or an `http://` URL). */
  constructor(endpoint: string) {
    this.#session = connect(`http://${endpoint.replace(/^https?:\/\//, '')}`);
    // Failures surface on the calls; the session's own error would be unhandled otherwise.
    this.#session.on('error', () => {});
  }

  /** Calls `path` with `message`: `ok`, `grpc <status>`, or the connection's error code. */
  call(path: string, message: Uint8Array): Promise<string> {
    return new Promise((resolve) => {
      let status: string | undefined;
      const stream = this.#session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('response', (headers) => {
        if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
        else if (headers[':status'] !== 200) status = `http ${headers[':status']}`;
      });
      stream.on('trailers', (trailers) => {
        if (trailers['grpc-status'] !== undefined) status = String(trailers['grpc-status']);
      });
      // The answer's message is read and let go: a load generator needs its status only.
      stream.on('data', () => {});
      stream.on('end', () => resolve(status === '0' ? 'ok' : `grpc ${status ?? 'unknown'}`));
      stream.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(message.length, 1);
      stream.write(prefix);
      stream.end(message);
    });
  }

  close(): void {
    this.#session.close();
  }
}
