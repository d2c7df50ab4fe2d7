import {
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import type { Logger } from 'pino';
import { headerLookup, type ServerAuthenticator } from '../model/auth.js';
import { GrowingBytes, requestBytes } from '../model/byte-pool.js';
import { giveBack } from '../model/encoded-request.js';
import { within } from '../model/within.js';
import { EndpointListener, type EndpointListenerOptions } from './endpoint-listener.js';
import { GrpcStatus, messagePrefix, percentEncode } from './grpc-wire.js';
import { gzipPieceSize } from './gzip-piece-size.js';
import type { RefusalReason } from './refusal-log.js';

export { GrpcStatus } from './grpc-wire.js';

/**
 * HTTP/2 starts a stream's and a connection's window at 64 KiB: a sender may have that much
 * unacknowledged, so a message of a few hundred KiB crosses in several round trips of the
 * event loop. The listener opens a MiB per call and 4 MiB per connection.
 */
export const GRPC_STREAM_WINDOW_BYTES = 1024 * 1024;
export const GRPC_CONNECTION_WINDOW_BYTES = 4 * 1024 * 1024;

/** How a call ends: its status, and the response message when OK. */
export interface GrpcAnswer {
  code: number;
  /** Sent as `grpc-message`. */
  message?: string;
  /** The response message (OK only). */
  response?: Uint8Array;
  /** A serialized `google.rpc.Status`, sent as `grpc-status-details-bin`. */
  details?: Uint8Array;
}

export interface GrpcUnaryListenerOptions extends EndpointListenerOptions {
  /** The one method served, e.g. `/opentelemetry.proto.collector.metrics.v1.MetricsService/Export`. */
  method: string;
  /** Largest request message, on the wire and once decompressed. */
  maxReceiveBytes: number;
  /** A call whose stream is idle this long is cancelled; 30 s by default. */
  streamIdleMs?: number;
  /**
   * Asked once a call is let in, before its message is read: a refusal answers it at once
   * (a full pipeline: the message would be refused whatever it holds).
   */
  beforeReading?: () => { reason: RefusalReason; answer: GrpcAnswer } | undefined;
  /**
   * Asked for each gzip message once inflated: whether to keep it as it came too
   * (`MessageCarry.gzipped`), for a handler that may send it on that way.
   */
  keepGzipped?: () => boolean;
}

/** A call's message as a handler may keep it: setting `taken` makes the block the handler's. */
export interface MessageCarry {
  bytes: Buffer;
  /** The message as it came, when it was gzip and `keepGzipped` said to keep it. */
  gzipped?: Buffer;
  taken?: boolean;
}

/**
 * Takes a call's request message and answers it. The message is a block of the process's
 * request buffers (`requestBytes`), given back once the returned promise settles unless the
 * handler set `carry.taken` (it then owns the block).
 */
export type GrpcUnaryHandler = (message: Buffer, carry: MessageCarry) => Promise<GrpcAnswer>;

/** A call idle this long is cancelled by default (as an HTTP listener's `idle_timeout`). */
const STREAM_IDLE_MS = 30_000;

const gunzipBounded = promisify(gunzip);
const inflateBounded = promisify(inflate);

/**
 * A gRPC server of one unary method over `node:http2`. A general gRPC server (grpc-js)
 * gathers a message from the connection's read buffers and keeps them with the call; under
 * load those buffers lived long enough to reach V8's old generation, and mark-compacts
 * started by external memory every quarter second took a third of a relay's CPU. Here a
 * message is copied into a request buffer as its frames arrive, and nothing keeps the read
 * buffers. Answers: UNIMPLEMENTED for another method or an unknown `grpc-encoding`,
 * UNAUTHENTICATED before the message is read, RESOURCE_EXHAUSTED for a message over the
 * limit (on the wire, or once inflated: inflating stops there), INTERNAL for a stream that
 * is not one well-framed message, and what the handler says otherwise.
 */
export class GrpcUnaryListener extends EndpointListener<GrpcUnaryListenerOptions> {
  readonly #handler: GrpcUnaryHandler;
  readonly #sessions = new Set<ServerHttp2Session>();

  constructor(options: GrpcUnaryListenerOptions, handler: GrpcUnaryHandler) {
    super(options);
    this.#handler = handler;
  }

  start(): Promise<void> {
    // At most 100 calls at once per connection (as grpc-go's default): each holds a
    // request buffer, grown to its message's size as the bytes arrive.
    const settings = { initialWindowSize: GRPC_STREAM_WINDOW_BYTES, maxConcurrentStreams: 100 };
    return this.listenWith((tls) => {
      const server: Http2Server | Http2SecureServer = tls
        ? createSecureServer({ ...tls.contextOptions, ...tls.serverOptions, settings })
        : createServer({ settings });
      server.on('session', (session: ServerHttp2Session) => this.#session(session));
      server.on('stream', (stream, headers) => this.#stream(stream, headers));
      return server;
    });
  }

  /**
   * Stops accepting connections and calls; calls in flight finish (their data reaches the
   * pipeline) within `deadlineMs`, then every connection is closed.
   */
  async close(deadlineMs: number): Promise<void> {
    const server = this.stopListening();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // GOAWAY: clients open no new calls here; a connection closes once its calls are done.
    const sessionsClosed = [...this.#sessions].map(
      (session) => new Promise<void>((resolve) => session.close(() => resolve())),
    );
    await within(Promise.all(sessionsClosed), deadlineMs);
    for (const session of this.#sessions) session.destroy();
    await closed;
  }

  #session(session: ServerHttp2Session): void {
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    session.on('error', () => {});
    try {
      session.setLocalWindowSize(GRPC_CONNECTION_WINDOW_BYTES);
    } catch {
      // A session closing meanwhile: it ends with the 64 KiB window.
    }
  }

  #stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    if (headers[':method'] !== 'POST' || headers[':path'] !== this.options.method) {
      answerEarly(stream, {
        code: GrpcStatus.UNIMPLEMENTED,
        message: `unknown method ${headers[':method']} ${headers[':path']}: this server takes ${this.options.method}`,
      });
      return;
    }
    if (!String(headers['content-type'] ?? '').startsWith('application/grpc')) {
      stream.respond({ ':status': 415 }, { endStream: true });
      stream.resume();
      return;
    }
    const encoding = String(headers['grpc-encoding'] ?? 'identity');
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      answerEarly(stream, {
        code: GrpcStatus.UNIMPLEMENTED,
        message: `unsupported grpc-encoding "${encoding}": use gzip, deflate or identity`,
      });
      return;
    }
    const authenticator = this.options.authenticator;
    if (!authenticator) {
      this.#admit(stream, encoding);
      return;
    }
    const refuse = () => {
      this.refusals.refuse('unauthenticated', peerOf(stream));
      answerEarly(stream, { code: GrpcStatus.UNAUTHENTICATED, message: 'unauthenticated' });
    };
    const verdict = authenticator.authenticate(headerLookup(headers));
    if (verdict === true) this.#admit(stream, encoding);
    else if (verdict === false) refuse();
    else verdict.then((ok) => (ok ? this.#admit(stream, encoding) : refuse()), refuse);
  }

  #admit(stream: ServerHttp2Stream, encoding: string): void {
    const refusal = this.options.beforeReading?.();
    if (refusal) {
      this.refusals.refuse(refusal.reason, peerOf(stream));
      answerEarly(stream, refusal.answer);
      return;
    }
    this.#read(stream, encoding);
  }

  /** Reads the call's one message into a request buffer as its frames arrive, then handles it. */
  #read(stream: ServerHttp2Stream, encoding: string): void {
    const limit = this.options.maxReceiveBytes;
    // A call that stops sending ends, and gives its buffer back.
    stream.setTimeout(this.options.streamIdleMs ?? STREAM_IDLE_MS, () =>
      stream.close(constants.NGHTTP2_CANCEL),
    );
    const prefix = Buffer.alloc(5);
    let prefixFilled = 0;
    const message = new GrowingBytes();
    /** The length the message's prefix declared; `message` grows to it as bytes come. */
    let length = 0;
    let failed = false;
    const fail = (answer: GrpcAnswer) => {
      failed = true;
      message.release();
      answerEarly(stream, answer);
    };
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      let at = 0;
      if (prefixFilled < 5) {
        at = Math.min(5 - prefixFilled, chunk.length);
        chunk.copy(prefix, prefixFilled, 0, at);
        prefixFilled += at;
        if (prefixFilled < 5) return;
        const flag = prefix[0];
        length = prefix.readUInt32BE(1);
        if (flag > 1 || (flag === 1 && encoding === 'identity')) {
          return fail({
            code: GrpcStatus.INTERNAL,
            message: `message compressed flag ${flag} with grpc-encoding ${encoding}`,
          });
        }
        if (length > limit) {
          return fail({
            code: GrpcStatus.RESOURCE_EXHAUSTED,
            message: `message of ${length} bytes exceeds the limit of ${limit}`,
          });
        }
      }
      const rest = chunk.length - at;
      if (rest === 0) return;
      if (message.length + rest > length) {
        return fail({ code: GrpcStatus.INTERNAL, message: 'more than one request message' });
      }
      message.append(chunk, at, length);
    });
    stream.once('end', () => {
      if (failed) return;
      if (prefixFilled < 5 || message.length < length) {
        return fail({
          code: GrpcStatus.INTERNAL,
          message: prefixFilled < 5 ? 'no request message' : 'the request message was cut short',
        });
      }
      const wire = message.take();
      this.#handle(stream, wire, prefix[0] === 1 ? encoding : 'identity').catch((err) => {
        // The stream went away while it was answered: nothing to tell anyone.
        this.options.logger.debug({ error: (err as Error).message }, 'gRPC call ended early');
        stream.destroy();
      });
    });
    // Reset by the client before its message was whole: nothing to answer.
    stream.once('close', () => message.release());
  }

  async #handle(stream: ServerHttp2Stream, wire: Buffer, encoding: string): Promise<void> {
    let message = wire;
    let kept: Buffer | undefined;
    if (encoding !== 'identity') {
      try {
        const inflated = await (encoding === 'gzip' ? gunzipBounded : inflateBounded)(wire, {
          maxOutputLength: this.options.maxReceiveBytes,
          // deflate has no trailer that tells its length: its pieces are zlib's 16 KiB.
          ...(encoding === 'gzip' ? { chunkSize: gzipPieceSize(wire) } : {}),
        });
        message = requestBytes.copy(inflated);
        if (encoding === 'gzip' && this.options.keepGzipped?.()) kept = wire;
      } catch (err) {
        const tooLarge = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
        answerEarly(
          stream,
          tooLarge
            ? {
                code: GrpcStatus.RESOURCE_EXHAUSTED,
                message: `message exceeds the limit of ${this.options.maxReceiveBytes} bytes once inflated`,
              }
            : {
                code: GrpcStatus.INTERNAL,
                message: `could not inflate the message: ${(err as Error).message}`,
              },
        );
        return;
      } finally {
        if (!kept) requestBytes.give(wire);
      }
    }
    const carry: MessageCarry = { bytes: message, gzipped: kept };
    let answer: GrpcAnswer;
    try {
      answer = await this.#handler(message, carry);
    } catch (err) {
      answer = { code: GrpcStatus.INTERNAL, message: (err as Error).message };
    } finally {
      if (!carry.taken) giveBack(carry);
    }
    if (stream.destroyed || stream.closed) return;
    if (answer.code !== GrpcStatus.OK) {
      answerEarly(stream, answer);
      return;
    }
    const response = answer.response ?? new Uint8Array(0);
    const frame = Buffer.concat([messagePrefix(response.length, false), response]);
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc' },
      { waitForTrailers: true },
    );
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame);
  }
}

/**
 * A status without a message ("Trailers-Only"), as grpc-js answers. What is left of the
 * client's message is dropped as it arrives (not read into anything); a gRPC client cancels
 * the rest once it has the status.
 */
function answerEarly(stream: ServerHttp2Stream, answer: GrpcAnswer): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(answer.code),
      ...(answer.message ? { 'grpc-message': percentEncode(answer.message) } : {}),
      ...(answer.details
        ? { 'grpc-status-details-bin': Buffer.from(answer.details).toString('base64') }
        : {}),
    },
    { endStream: true },
  );
  stream.resume();
}

function peerOf(stream: ServerHttp2Stream): string | undefined {
  const socket = stream.session?.socket;
  return socket?.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
}
