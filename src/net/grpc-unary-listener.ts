import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import { requestBytes } from '../model/byte-pool.js';
import { giveBack } from '../model/encoded-request.js';
import { within } from '../model/within.js';
import { EndpointListener, type EndpointListenerOptions } from './endpoint-listener.js';
import { GrpcMessageReader } from './grpc-message-reader.js';
import { type GrpcAnswer, GrpcStatus, messagePrefix, percentEncode } from './grpc-wire.js';
import { gzipPieceSize } from './gzip-piece-size.js';
import { H2Connection, type H2Limits, type H2StreamHost } from './http2/h2-connection.js';
import type { H2Stream } from './http2/h2-stream.js';
import { encodeFields } from './http2/hpack.js';
import type { RequestFields } from './http2/request-fields.js';
import { OpenConnections } from './open-connections.js';
import { type ConnectionReader, readingServer } from './reading-into.js';
import type { RefusalReason } from './refusal-log.js';

export { type GrpcAnswer, GrpcStatus } from './grpc-wire.js';

/**
 * HTTP/2 starts a stream's and a connection's window at 64 KiB: a sender may have that much
 * unacknowledged, so a message of a few hundred KiB crosses in several round trips of the
 * event loop. The listener opens a MiB per call and 4 MiB per connection.
 */
export const GRPC_STREAM_WINDOW_BYTES = 1024 * 1024;
export const GRPC_CONNECTION_WINDOW_BYTES = 4 * 1024 * 1024;

export interface GrpcUnaryListenerOptions extends EndpointListenerOptions {
  /** The one method served, e.g. `/opentelemetry.proto.collector.metrics.v1.MetricsService/Export`. */
  method: string;
  /** Largest request message, on the wire and once decompressed. */
  maxReceiveBytes: number;
  /** A call whose stream is idle this long is cancelled; 30 s by default. */
  streamIdleMs?: number;
  /** A connection that has not sent its TLS handshake and HTTP/2 preface in this long is closed; 10 s by default. */
  prefaceTimeoutMs?: number;
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

/** One call as the listener follows it. */
interface Call {
  reader: GrpcMessageReader;
  /** The authenticator and `beforeReading` let it in. */
  admitted: boolean;
  /** The client sent the whole request stream. */
  whole: boolean;
  /** Answered, refused or gone: whatever still arrives is dropped. */
  done: boolean;
}

/** A call idle this long is cancelled by default (as an HTTP listener's `idle_timeout`). */
const STREAM_IDLE_MS = 30_000;
const PREFACE_TIMEOUT_MS = 10_000;
/** Bytes a plain connection's socket reads into, shared: a read is handled before the next. */
const READ_BUFFER_BYTES = 64 * 1024;

const gunzipBounded = promisify(gunzip);
const inflateBounded = promisify(inflate);

const OK_HEAD = encodeFields([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const OK_TRAILERS = encodeFields([['grpc-status', '0']]);
const NOT_GRPC = encodeFields([[':status', '415']]);

/**
 * A gRPC server of one unary method, on sluice's own HTTP/2 server side (`H2Connection`).
 * `node:http2` made every DATA frame a buffer and a stream event and cost 190-360 µs of CPU
 * for a 213 KB message; here a plain connection's socket reads into one buffer the listener
 * keeps and a message is copied once, from it into the request buffer it is carried on in.
 * Answers: UNIMPLEMENTED for another method or an unknown `grpc-encoding`, UNAUTHENTICATED
 * before the message is read, RESOURCE_EXHAUSTED for a message over the limit (on the wire,
 * or once inflated: inflating stops there), INTERNAL for a stream that is not one
 * well-framed message, and what the handler says otherwise.
 */
export class GrpcUnaryListener
  extends EndpointListener<GrpcUnaryListenerOptions>
  implements H2StreamHost<Call>
{
  readonly limits: H2Limits;
  readonly #handler: GrpcUnaryHandler;
  readonly #connections = new OpenConnections<H2Connection<Call>>();
  readonly #readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  constructor(options: GrpcUnaryListenerOptions, handler: GrpcUnaryHandler) {
    super(options);
    this.#handler = handler;
    this.limits = {
      // At most 100 calls at once per connection (as grpc-go's default): each holds a
      // request buffer, grown to its message's size as the bytes arrive.
      maxConcurrentStreams: 100,
      streamWindow: GRPC_STREAM_WINDOW_BYTES,
      connectionWindow: GRPC_CONNECTION_WINDOW_BYTES,
      maxHeaderListSize: 32 * 1024,
      streamIdleMs: options.streamIdleMs ?? STREAM_IDLE_MS,
      prefaceTimeoutMs: options.prefaceTimeoutMs ?? PREFACE_TIMEOUT_MS,
    };
  }

  async start(): Promise<void> {
    await this.listenWith((tls) =>
      readingServer(
        tls,
        { ALPNProtocols: ['h2'], handshakeTimeout: this.limits.prefaceTimeoutMs },
        this.#readBuffer,
        (socket) => this.#open(socket),
        (error, socket) => this.connectionFailed(error, socket),
      ),
    );
    this.#connections.sweepEvery(
      Math.max(50, Math.min(1000, this.limits.streamIdleMs / 4, this.limits.prefaceTimeoutMs / 4)),
    );
  }

  /**
   * Stops accepting connections and calls (GOAWAY); calls in flight finish (their data
   * reaches the pipeline) within `deadlineMs`, then every connection is closed.
   */
  async close(deadlineMs: number): Promise<void> {
    const server = this.stopListening();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await within(this.#connections.drain(), deadlineMs);
    this.#connections.destroyAll();
    await closed;
    this.#connections.stopSweeping();
  }

  opened(stream: H2Stream<Call>, request: RequestFields): void {
    const method = this.options.method;
    if (request.method !== 'POST' || request.path !== method) {
      answer(stream, {
        code: GrpcStatus.UNIMPLEMENTED,
        message: `unknown method ${request.method} ${request.path}: this server takes ${method}`,
      });
      return;
    }
    if (!(request.headers['content-type'] ?? '').startsWith('application/grpc')) {
      stream.respond(NOT_GRPC);
      return;
    }
    const encoding = request.headers['grpc-encoding'] ?? 'identity';
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      answer(stream, {
        code: GrpcStatus.UNIMPLEMENTED,
        message: `unsupported grpc-encoding "${encoding}": use gzip, deflate or identity`,
      });
      return;
    }
    const call: Call = {
      reader: new GrpcMessageReader(this.options.maxReceiveBytes, encoding),
      admitted: false,
      whole: false,
      done: false,
    };
    stream.context = call;
    const authenticator = this.options.authenticator;
    if (!authenticator) {
      this.#admit(stream, call);
      return;
    }
    const verdict = authenticator.authenticate((name) => request.headers[name]);
    if (verdict === true) this.#admit(stream, call);
    else if (verdict === false) this.#unauthenticated(stream, call);
    else {
      // The lookup counts against the connection's streams until it is done.
      stream.startWork();
      const decided = (ok: boolean) => {
        stream.endWork();
        if (call.done) return;
        if (ok) this.#admit(stream, call);
        else this.#unauthenticated(stream, call);
      };
      verdict.then(decided, () => decided(false));
    }
  }

  data(stream: H2Stream<Call>, bytes: Buffer, start: number, end: number): void {
    const call = stream.context;
    if (!call || call.done) return;
    const refusal = call.reader.take(bytes, start, end);
    if (refusal) this.#refuse(stream, call, refusal);
  }

  ended(stream: H2Stream<Call>): void {
    const call = stream.context;
    if (!call || call.done) return;
    call.whole = true;
    if (call.admitted) this.#finish(stream, call);
  }

  aborted(stream: H2Stream<Call>): void {
    const call = stream.context;
    if (!call || call.done) return;
    call.done = true;
    call.reader.release();
  }

  refused(reason: 'malformed_http' | 'timeout', peer: string | undefined, detail: string): void {
    this.refusals.refuse(reason, peer, detail);
  }

  closed(connection: H2Connection<Call>): void {
    this.#connections.remove(connection);
  }

  #admit(stream: H2Stream<Call>, call: Call): void {
    const refusal = this.options.beforeReading?.();
    if (refusal) {
      this.refusals.refuse(refusal.reason, stream.peer);
      this.#refuse(stream, call, refusal.answer);
      return;
    }
    call.admitted = true;
    if (call.whole) this.#finish(stream, call);
  }

  #unauthenticated(stream: H2Stream<Call>, call: Call): void {
    this.refusals.refuse('unauthenticated', stream.peer);
    this.#refuse(stream, call, { code: GrpcStatus.UNAUTHENTICATED, message: 'unauthenticated' });
  }

  #refuse(stream: H2Stream<Call>, call: Call, refusal: GrpcAnswer): void {
    call.done = true;
    call.reader.release();
    answer(stream, refusal);
  }

  #finish(stream: H2Stream<Call>, call: Call): void {
    call.done = true;
    const message = call.reader.finish();
    if (!('wire' in message)) {
      answer(stream, message);
      return;
    }
    stream.startWork();
    this.#handle(stream, message.wire, message.encoding).catch((err) => {
      this.options.logger.error({ error: (err as Error).message }, 'a gRPC call failed');
      answer(stream, { code: GrpcStatus.INTERNAL, message: 'internal error' });
    });
  }

  async #handle(stream: H2Stream<Call>, wire: Buffer, encoding: string): Promise<void> {
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
        answer(
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
    let result: GrpcAnswer;
    try {
      result = await this.#handler(message, carry);
    } catch (err) {
      result = { code: GrpcStatus.INTERNAL, message: (err as Error).message };
    } finally {
      if (!carry.taken) giveBack(carry);
    }
    answer(stream, result);
  }

  #open(socket: Socket): ConnectionReader | undefined {
    if (this.server === undefined) return undefined;
    const connection = new H2Connection(socket, this);
    this.#connections.add(connection);
    return (bytes, start, end) => connection.read(bytes, start, end);
  }
}

/**
 * Ends a call: OK with its response message between the head and the trailers; any other
 * status "Trailers-Only" (one header block that ends the stream), as grpc-js answers.
 */
function answer(stream: H2Stream<Call>, result: GrpcAnswer): void {
  if (result.code === GrpcStatus.OK) {
    const response = result.response ?? new Uint8Array(0);
    const data = Buffer.allocUnsafe(5 + response.length);
    messagePrefix(response.length, false).copy(data, 0);
    data.set(response, 5);
    stream.respond(OK_HEAD, data, OK_TRAILERS);
    return;
  }
  stream.respond(
    encodeFields([
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-status', String(result.code)],
      ...(result.message ? [['grpc-message', percentEncode(result.message)] as const] : []),
      ...(result.details
        ? [['grpc-status-details-bin', Buffer.from(result.details).toString('base64')] as const]
        : []),
    ]),
  );
}
