import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { GrpcStatus, messagePrefix, percentDecode, statusOfHttp } from './grpc-wire.js';

const gunzipAsync = promisify(gunzip);

export interface GrpcUnaryClientOptions {
  /** `http://host:port` (plain text) or `https://host:port` (TLS). */
  endpoint: string;
  /** `node:tls` options for `https://` (CA, client certificate, server name, ...). */
  tls?: ConnectionOptions;
  /** Sent as `user-agent`. */
  userAgent?: string;
  /** The largest response message read (an OTLP response is a few bytes). */
  maxResponseBytes?: number;
}

export interface GrpcCall {
  /** Metadata, as lower-case header names. */
  headers?: Record<string, string>;
  /** The message is gzip-compressed already: flagged so, with `grpc-encoding: gzip`. */
  gzipped?: boolean;
  /** Cancels the call (CANCELLED), as a timeout does. */
  signal?: AbortSignal;
}

/** How a call ended: its status, with the server's message and details, and the response when OK. */
export interface GrpcCallResult {
  code: number;
  message: string;
  /** `grpc-status-details-bin`: a serialized `google.rpc.Status`. */
  details?: Buffer;
  response?: Buffer;
}

/** How long a connection has to answer a ping after a call on it was cancelled unanswered. */
const PING_TIMEOUT_MS = 5_000;
/** How long `close` lets the calls in flight finish. */
const CLOSE_WAIT_MS = 5_000;

/** Whether the peer ever sent its HTTP/2 settings on `session` (is an HTTP/2 server at all). */
const heardFrom = new WeakSet<ClientHttp2Session>();

/**
 * A gRPC client of unary calls over `node:http2`: one connection, made when first needed
 * and again after it closes (a GOAWAY, a reset, the server gone), a stream per call. Every
 * outcome is a status, never an exception: what the network did becomes UNAVAILABLE (or
 * CANCELLED), what the server said is its status.
 *
 * Why not grpc-js: as the `otlp` exporter's client it cost the collector 1.03 µs a point
 * against 0.63 for the same relay exporting over OTLP/HTTP, and halved its throughput
 * (docs/benchmarks.md), and its receive buffers are what drove the gRPC receiver's GC.
 */
export class GrpcUnaryClient {
  readonly #options: GrpcUnaryClientOptions;
  #session: ClientHttp2Session | undefined;
  #closed = false;
  /** Calls in flight: while there are none the connection does not keep the process alive. */
  #active = 0;

  constructor(options: GrpcUnaryClientOptions) {
    this.#options = options;
  }

  /** Calls `path` with `message` (uncompressed, or gzipped as `call.gzipped` says). */
  call(path: string, message: Uint8Array, call: GrpcCall = {}): Promise<GrpcCallResult> {
    return new Promise((resolve) => {
      if (this.#closed) {
        resolve({ code: GrpcStatus.UNAVAILABLE, message: 'the client was closed' });
        return;
      }
      const headers: OutgoingHttpHeaders = {
        ...call.headers,
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-accept-encoding': 'identity,gzip',
        'user-agent': this.#options.userAgent ?? 'sluice',
        ...(call.gzipped ? { 'grpc-encoding': 'gzip' } : {}),
      };
      let session: ClientHttp2Session;
      let stream: ClientHttp2Stream;
      try {
        session = this.#connection();
        stream = session.request(headers);
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        // Metadata HTTP/2 cannot carry (a connection header, a bad name or value): no retry
        // will send it.
        if (/INVALID_(CONNECTION_HEADERS|HEADER_VALUE|HTTP_TOKEN)|ERR_HTTP2_HEADER/.test(code)) {
          resolve({ code: GrpcStatus.INTERNAL, message: `metadata: ${(err as Error).message}` });
          return;
        }
        // The connection was closing (GOAWAY) as the call came: the next one reconnects.
        this.#drop(this.#session);
        resolve({ code: GrpcStatus.UNAVAILABLE, message: (err as Error).message });
        return;
      }
      if (this.#active++ === 0) session.ref();
      const answer = new AnswerReader(this.#options.maxResponseBytes ?? 4 * 1024 * 1024);
      let cancelled = false;
      const cancel = () => {
        cancelled = true;
        // Nothing came back: the connection may be dead without a reset (a peer gone, a
        // middlebox that dropped it). Checked, so the next call does not wait on it too.
        if (!answer.heard) this.#check(session);
        stream.close(constants.NGHTTP2_CANCEL);
      };
      if (call.signal?.aborted) cancel();
      else call.signal?.addEventListener('abort', cancel, { once: true });
      stream.on('response', (h) => answer.headers(h));
      stream.on('trailers', (t) => answer.trailers(t));
      stream.on('data', (chunk: Buffer) => answer.data(chunk));
      let failure: Error | undefined;
      stream.on('error', (err) => {
        failure = err;
      });
      stream.once('close', () => {
        call.signal?.removeEventListener('abort', cancel);
        // An application that exports from its own process must be able to exit when idle.
        if (--this.#active === 0) this.#session?.unref();
        answer.result(cancelled, failure, stream.rstCode).then(resolve);
      });
      stream.write(messagePrefix(message.length, call.gzipped === true));
      stream.end(message);
    });
  }

  /**
   * Closes the connection once the calls in flight ended (within `CLOSE_WAIT_MS`, then it is
   * destroyed); later calls fail UNAVAILABLE.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    this.#session = undefined;
    if (!session || session.closed || session.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => session.destroy(), CLOSE_WAIT_MS);
      session.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #connection(): ClientHttp2Session {
    const known = this.#session;
    if (known && !known.closed && !known.destroyed) return known;
    const tls = this.#options.tls;
    const session = connect(this.#options.endpoint, {
      ...tls,
      // A sender: the peer's windows govern what it sends; its own only take answers.
      settings: { enablePush: false },
    });
    // Failures reach the calls as stream errors; the session's own would go unhandled.
    session.on('error', () => {});
    session.once('remoteSettings', () => heardFrom.add(session));
    session.on('goaway', () => this.#drop(session));
    session.on('close', () => this.#drop(session));
    this.#session = session;
    return session;
  }

  /** Forgets `session` (calls in flight on it finish on their own): the next call reconnects. */
  #drop(session: ClientHttp2Session | undefined): void {
    if (session && this.#session === session) this.#session = undefined;
  }

  /** Pings `session`; without an answer in time it is destroyed (its calls fail UNAVAILABLE). */
  #check(session: ClientHttp2Session): void {
    if (session.destroyed || session.closed) return;
    const timer = setTimeout(() => {
      this.#drop(session);
      session.destroy();
    }, PING_TIMEOUT_MS);
    timer.unref();
    const sent =
      heardFrom.has(session) &&
      session.ping((err) => {
        clearTimeout(timer);
        if (err) {
          this.#drop(session);
          session.destroy();
        }
      });
    // Not even the peer's settings yet (an address that does not answer, or answers
    // something that is not HTTP/2): not worth waiting for.
    if (!sent) {
      clearTimeout(timer);
      this.#drop(session);
      session.destroy();
    }
  }
}

/** What came back on a call's stream, read into its status and response. */
class AnswerReader {
  readonly #maxBytes: number;
  #httpStatus: number | undefined;
  #contentType = '';
  #encoding = 'identity';
  #code: number | undefined;
  #message = '';
  #details: Buffer | undefined;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  /** Whether anything came back (headers). */
  heard = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  headers(headers: Record<string, unknown>): void {
    this.heard = true;
    this.#httpStatus = Number(headers[':status']);
    this.#contentType = String(headers['content-type'] ?? '');
    this.#encoding = String(headers['grpc-encoding'] ?? 'identity');
    this.#status(headers); // trailers-only
  }

  trailers(trailers: Record<string, unknown>): void {
    this.#status(trailers);
  }

  data(chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#bytes <= this.#maxBytes + 5) this.#chunks.push(chunk);
  }

  #status(fields: Record<string, unknown>): void {
    const code = fields['grpc-status'];
    if (code === undefined) return;
    const text = String(code);
    this.#message = percentDecode(String(fields['grpc-message'] ?? ''));
    if (/^\d{1,9}$/.test(text)) this.#code = Number(text);
    else {
      // Not a status at all: gRPC says UNKNOWN.
      this.#code = GrpcStatus.UNKNOWN;
      this.#message = `grpc-status ${JSON.stringify(text.slice(0, 20))} is not a status code`;
    }
    const details = fields['grpc-status-details-bin'];
    if (typeof details === 'string') this.#details = Buffer.from(details, 'base64');
  }

  async result(
    cancelled: boolean,
    failure: Error | undefined,
    rstCode: number | undefined,
  ): Promise<GrpcCallResult> {
    if (cancelled) return { code: GrpcStatus.CANCELLED, message: 'cancelled (the timeout)' };
    if (this.#code === undefined) {
      // The connection failed (refused, reset, gone): try again.
      if (failure && (failure as { code?: string }).code !== 'ERR_HTTP2_STREAM_ERROR') {
        return { code: GrpcStatus.UNAVAILABLE, message: failure.message };
      }
      // The server reset the stream.
      if (failure || this.#httpStatus === undefined) {
        return {
          code: statusOfReset(rstCode),
          message: failure?.message ?? `stream reset (${rstCode})`,
        };
      }
      if (this.#httpStatus !== 200) {
        return {
          code: statusOfHttp(this.#httpStatus),
          message: `HTTP ${this.#httpStatus} without a gRPC status`,
        };
      }
      return { code: GrpcStatus.UNKNOWN, message: 'the answer carried no grpc-status' };
    }
    if (!this.#contentType.startsWith('application/grpc')) {
      return {
        code: GrpcStatus.UNKNOWN,
        message: `an answer of content-type ${this.#contentType || 'none'}`,
      };
    }
    const result: GrpcCallResult = {
      code: this.#code,
      message: this.#message,
      ...(this.#details ? { details: this.#details } : {}),
    };
    if (this.#code !== GrpcStatus.OK || this.#bytes === 0) return result;
    return this.#withResponse(result);
  }

  /** The OK answer's one message, inflated when it came gzipped. */
  async #withResponse(result: GrpcCallResult): Promise<GrpcCallResult> {
    const body = Buffer.concat(this.#chunks);
    const length = body.length >= 5 ? body.readUInt32BE(1) : -1;
    if (this.#bytes > this.#maxBytes + 5 || length !== body.length - 5) {
      return {
        code: GrpcStatus.INTERNAL,
        message: `the response was not one message of at most ${this.#maxBytes} bytes`,
      };
    }
    let response = body.subarray(5);
    if (body[0] === 1) {
      if (this.#encoding !== 'gzip') {
        return {
          code: GrpcStatus.INTERNAL,
          message: `a compressed response with grpc-encoding ${this.#encoding}`,
        };
      }
      try {
        response = await gunzipAsync(response, { maxOutputLength: this.#maxBytes });
      } catch (err) {
        return { code: GrpcStatus.INTERNAL, message: `the response: ${(err as Error).message}` };
      }
    }
    return { ...result, response };
  }
}

/** The status of a call that ended without one: how its stream was reset, as grpc-js maps it. */
function statusOfReset(rstCode: number | undefined): number {
  switch (rstCode) {
    case constants.NGHTTP2_CANCEL:
      return GrpcStatus.CANCELLED;
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return GrpcStatus.PERMISSION_DENIED;
    case constants.NGHTTP2_INTERNAL_ERROR:
      return GrpcStatus.INTERNAL;
    default:
      // Refused, or never started (a connection refused, the server gone): try again.
      return GrpcStatus.UNAVAILABLE;
  }
}
