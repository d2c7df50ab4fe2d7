import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';
import type { Logger } from 'pino';
import { encodeMetricsResponseJson } from '../../codec/json/response-json.js';
import { encodeMetricsResponse } from '../../codec/protobuf/response.js';
import type { OtlpRequestValidator } from '../../codec/protobuf/validate-request.js';
import type { ServerAuthenticator } from '../../model/auth.js';
import { readWhole, requestBytes } from '../../model/byte-pool.js';
import type { Component, Consumer } from '../../model/consumer.js';
import { InvalidArgumentError, SluiceError } from '../../model/errors.js';
import { writeVarint } from '../../model/wire.js';
import { gzipPieceSize } from '../../net/gzip-piece-size.js';
import { HttpListener } from '../../net/http-listener.js';
import { HTTP_LISTENER_DEFAULTS, type HttpListenerConfig } from '../../net/listener-config.js';
import { BodyTooLargeError } from '../body-too-large.js';
import { decompressZstdBounded } from '../bounded-zstd.js';
import {
  type Carry,
  ReceiverStats,
  type Refusal,
  refusalBeforeReading,
} from '../receiver-stats.js';
import { inlineDecoder, type RequestDecoder } from '../request-decoder.js';

export interface OtlpHttpReceiverOptions extends Partial<HttpListenerConfig> {
  endpoint: string;
  /** Largest body accepted, checked on the wire and again after decompression. */
  maxRequestBodySize: number;
  metricsPath: string;
  /** Seconds sent in Retry-After when the pipeline is full. */
  retryAfterSeconds: number;
  /** Where bodies are decoded (the collector's `DecodePool`); this thread by default. */
  decoder?: RequestDecoder;
  /** Where its keys are in the config (`receivers.otlp.protocols.http`), for messages. */
  configKey?: string;
  /** Checks every request's credentials before its body is read (`auth`). */
  authenticator?: ServerAuthenticator;
  /** Checks protobuf bodies for a pipeline that carries them as bytes (`Consumer.encoded`). */
  validator?: OtlpRequestValidator;
}

/**
 * OTLP/HTTP: `POST /v1/metrics` with protobuf or JSON bodies, identity, gzip, deflate or zstd
 * encoded. Answers with an `ExportMetricsServiceResponse` in the request's content type, 400
 * with the decoder's message for bad data, 413 for bodies over the limit, and 429 with
 * Retry-After when the pipeline is full — which the official exporters retry.
 */
export class OtlpHttpReceiver implements Component {
  readonly stats = new ReceiverStats();
  readonly #options: OtlpHttpReceiverOptions;
  readonly #next: Consumer;
  readonly #logger: Logger;
  readonly listener: HttpListener;

  constructor(options: OtlpHttpReceiverOptions, next: Consumer, logger: Logger) {
    this.#options = options;
    this.#next = next;
    this.#logger = logger;
    this.listener = new HttpListener(
      {
        ...HTTP_LISTENER_DEFAULTS,
        ...options,
        endpointKey: `${options.configKey ?? 'protocols.http'}.endpoint`,
        logger,
        onRefused: (reason) => this.stats.refuseRequest(reason),
      },
      (req, res) => void this.#handle(req, res),
    );
  }

  get listening(): boolean {
    return this.listener.listening;
  }

  /** The bound address (after `start`), e.g. `127.0.0.1:4318`. */
  get address(): string {
    return this.listener.address;
  }

  get metricsPath(): string {
    return this.#options.metricsPath;
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  /** Stops accepting; requests in flight finish (their data reaches the pipeline). */
  shutdown(): Promise<void> {
    return this.listener.close('graceful');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = (req.headers['content-type'] ?? '').includes('json');
    const fail = (status: number, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        'content-type': json ? 'application/json' : 'application/x-protobuf',
        ...headers,
      });
      res.end(
        json
          ? JSON.stringify({ code: status === 400 ? 3 : 14, message })
          : statusProto(status === 400 ? 3 : 14, message),
      );
    };
    const url = req.url?.split('?')[0];
    if (url !== this.#options.metricsPath)
      return fail(404, `not found: this receiver takes POST ${this.#options.metricsPath}`);
    if (req.method !== 'POST') return fail(405, `method ${req.method} not allowed: use POST`);
    const type = req.headers['content-type'] ?? '';
    if (!type.includes('application/x-protobuf') && !type.includes('application/json')) {
      return fail(
        415,
        `unsupported content-type "${type}": use application/x-protobuf or application/json`,
      );
    }
    this.stats.requests++;
    const refusal = refusalBeforeReading(this.#next, 'otlp');
    if (refusal) {
      this.listener.refuse('queue_full', req);
      return fail(429, refusal.message, {
        'retry-after': String(this.#options.retryAfterSeconds),
      });
    }
    // A relay whose exporters all send gzip keeps a gzip body as it came, to send it on
    // when the request goes out alone.
    const keepGzip = !json && this.#options.validator !== undefined && this.#next.encoded?.gzip;
    let body: Buffer;
    let wire: Buffer | undefined;
    try {
      ({ body, wire } = await this.#readBody(req, keepGzip === true));
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        this.stats.malformed++;
        // The rest of the body is not worth reading: answer, then drop the connection.
        res.once('finish', () => req.socket?.destroy());
        return fail(413, err.message, { connection: 'close' });
      }
      this.stats.malformed++;
      return fail(400, `could not read the body: ${(err as Error).message}`);
    }
    // The body (and the body as it came, if kept) is in the process's request buffers: a
    // relayed request carries it on (no copy), anything else gives it back once handled.
    const carry: Carry = { bytes: body, gzipped: wire };
    try {
      await this.#accept(body, json, res, fail, carry);
    } finally {
      if (!carry.taken) {
        requestBytes.give(body);
        if (wire) requestBytes.give(wire);
      }
    }
  }

  /** Hands a read body to the pipeline (fast path or decoded) and answers. */
  async #accept(
    body: Buffer,
    json: boolean,
    res: ServerResponse,
    fail: (status: number, message: string, headers?: Record<string, string>) => void,
    carry: Carry,
  ): Promise<void> {
    if (!json && this.stats.offerOtlpProtobuf(this.#next, body)) {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end(encodeMetricsResponse());
      return;
    }
    let refused: Refusal | undefined;
    try {
      refused = await this.stats.accept(
        this.#next,
        body,
        () =>
          (this.#options.decoder ?? inlineDecoder).decode(
            json ? 'otlp-json' : 'otlp-protobuf',
            body,
          ),
        json ? undefined : this.#options.validator,
        { carry },
      );
    } catch (err) {
      const message =
        err instanceof SluiceError ? err.message : `cannot decode: ${(err as Error).message}`;
      this.#logger.warn({ error: message }, 'refused a malformed OTLP/HTTP request');
      return fail(400, message);
    }
    if (refused) {
      const status = refused.reason === 'queue_full' ? 429 : 503;
      return fail(status, refused.error.message, {
        'retry-after': String(this.#options.retryAfterSeconds),
      });
    }
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? encodeMetricsResponseJson() : encodeMetricsResponse());
  }

  /**
   * The body (decompressed), in a buffer of the process's request buffers (`requestBytes`);
   * with `keepGzip`, a gzip body as it came too (`wire`, in another).
   */
  async #readBody(
    req: IncomingMessage,
    keepGzip: boolean,
  ): Promise<{ body: Buffer; wire?: Buffer }> {
    const limit = this.#options.maxRequestBodySize;
    const declared = Number(req.headers['content-length']);
    if (declared > limit)
      throw new BodyTooLargeError(
        `body of ${declared} bytes exceeds max_request_body_size ${limit}`,
      );
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    const tooLarge = () =>
      new BodyTooLargeError(
        `body exceeds max_request_body_size ${limit} bytes${encoding !== 'identity' ? ' after decompression' : ''}`,
      );
    let source: AsyncIterable<Buffer> = req;
    let wire: Buffer | undefined;
    if (encoding === 'gzip') {
      // Read whole first: its trailer then sizes the pieces it is inflated in.
      wire = await readWhole(
        req,
        declared,
        limit,
        () => new BodyTooLargeError(`body exceeds max_request_body_size ${limit} bytes`),
      );
      const gunzip = createGunzip({ chunkSize: gzipPieceSize(wire) });
      gunzip.end(wire);
      source = gunzip;
    } else if (encoding === 'deflate') source = req.pipe(createInflate(INFLATE_OPTIONS));
    else if (encoding === 'zstd') source = decompressZstdBounded(req, limit, tooLarge);
    else if (encoding !== 'identity')
      throw new InvalidArgumentError('content-encoding', encoding, 'gzip, deflate, zstd or none');
    let body: Buffer;
    try {
      // Sized to a small declared body; a compressed one's size says little about its own.
      const first = encoding === 'identity' ? declared : 0;
      body = await readWhole(source, first, limit, tooLarge);
    } catch (err) {
      if (wire) requestBytes.give(wire);
      throw err;
    }
    if (wire && !keepGzip) {
      requestBytes.give(wire);
      wire = undefined;
    }
    return { body, wire };
  }
}

/**
 * zlib hands inflated bytes over in pieces of `chunkSize`, each a trip to the thread pool, a
 * stream event and a copy. Its default, 16 KiB, cost twice the CPU of 64 KiB on 210 KB bodies
 * (a one-off script: 310-460 against 190-220 µs a body): what deflate bodies get, whose size
 * nothing declares.
 */
const INFLATE_OPTIONS = { chunkSize: 64 * 1024 };

/** A `google.rpc.Status` protobuf: the OTLP/HTTP error body. */
function statusProto(code: number, message: string): Buffer {
  const text = Buffer.from(message);
  const out = Buffer.allocUnsafe(2 + 1 + 5 + text.length);
  out[0] = 0x08;
  out[1] = code;
  out[2] = 0x12;
  const pos = writeVarint(out, 3, text.length);
  text.copy(out, pos);
  return out.subarray(0, pos + text.length);
}
