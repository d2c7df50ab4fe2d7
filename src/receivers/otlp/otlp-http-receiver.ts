import { createGunzip, createInflate } from 'node:zlib';
import type { Logger } from 'pino';
import { encodeMetricsResponseJson } from '../../codec/json/response-json.js';
import { encodeMetricsResponse } from '../../codec/protobuf/response.js';
import type { OtlpRequestValidator } from '../../codec/protobuf/validate-request.js';
import type { ServerAuthenticator } from '../../model/auth.js';
import { readWhole, requestBytes } from '../../model/byte-pool.js';
import type { Component, Consumer } from '../../model/consumer.js';
import { giveBack } from '../../model/encoded-request.js';
import { InvalidArgumentError, SluiceError } from '../../model/errors.js';
import { writeVarint } from '../../model/wire.js';
import { gzipPieceSize } from '../../net/gzip-piece-size.js';
import { BodyListener } from '../../net/http1/body-listener.js';
import type { Reply } from '../../net/http1/reply.js';
import type { RequestHead } from '../../net/http1/request-head.js';
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
  readonly listener: BodyListener;

  constructor(options: OtlpHttpReceiverOptions, next: Consumer, logger: Logger) {
    this.#options = options;
    this.#next = next;
    this.#logger = logger;
    this.listener = new BodyListener(
      {
        ...HTTP_LISTENER_DEFAULTS,
        ...options,
        endpointKey: `${options.configKey ?? 'protocols.http'}.endpoint`,
        maxBodySize: options.maxRequestBodySize,
        logger,
        onRefused: (reason) => this.stats.refuseRequest(reason),
      },
      {
        check: (head, peer) => this.#check(head, peer),
        tooLarge: (head, message) => {
          this.stats.malformed++;
          return failure(isJson(head), 413, message);
        },
        handle: (head, body) => this.#handle(head, body),
      },
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

  /** Refuses what it can from the head alone: the path, the method, the type, a full pipeline. */
  #check(head: RequestHead, peer: string | undefined): Reply | undefined {
    const json = isJson(head);
    if (head.path !== this.#options.metricsPath)
      return failure(json, 404, `not found: this receiver takes POST ${this.#options.metricsPath}`);
    if (head.method !== 'POST')
      return failure(json, 405, `method ${head.method} not allowed: use POST`);
    const type = head.headers['content-type'] ?? '';
    if (!type.includes('application/x-protobuf') && !type.includes('application/json')) {
      return failure(
        json,
        415,
        `unsupported content-type "${type}": use application/x-protobuf or application/json`,
      );
    }
    this.stats.requests++;
    const refusal = refusalBeforeReading(this.#next, 'otlp');
    if (refusal) {
      this.listener.refuse('queue_full', peer);
      return failure(json, 429, refusal.message, {
        'retry-after': String(this.#options.retryAfterSeconds),
      });
    }
    return undefined;
  }

  async #handle(head: RequestHead, received: Buffer): Promise<Reply> {
    const json = isJson(head);
    // A relay whose exporters all send gzip keeps a gzip body as it came, to send it on
    // when the request goes out alone.
    const keepGzip = !json && this.#options.validator !== undefined && this.#next.encoded?.gzip;
    let body: Buffer;
    let wire: Buffer | undefined;
    try {
      ({ body, wire } = await this.#decompress(head, received, keepGzip === true));
    } catch (err) {
      this.stats.malformed++;
      if (err instanceof BodyTooLargeError)
        return { ...failure(json, 413, err.message), close: true };
      return failure(json, 400, `could not read the body: ${(err as Error).message}`);
    }
    // The body (and the body as it came, if kept) is in the process's request buffers: a
    // relayed request carries it on (no copy), anything else gives it back once handled.
    const carry: Carry = { bytes: body, gzipped: wire };
    try {
      return await this.#accept(body, json, carry);
    } finally {
      if (!carry.taken) giveBack(carry);
    }
  }

  /** Hands a read body to the pipeline (fast path or decoded); the reply. */
  async #accept(body: Buffer, json: boolean, carry: Carry): Promise<Reply> {
    if (!json && this.stats.offerOtlpProtobuf(this.#next, body)) return ACCEPTED_PROTOBUF;
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
      return failure(json, 400, message);
    }
    if (refused) {
      const status = refused.reason === 'queue_full' ? 429 : 503;
      return failure(json, status, refused.error.message, {
        'retry-after': String(this.#options.retryAfterSeconds),
      });
    }
    return json ? ACCEPTED_JSON : ACCEPTED_PROTOBUF;
  }

  /**
   * The body decompressed, in a buffer of the process's request buffers (`requestBytes`);
   * with `keepGzip`, a gzip body as it came too (`wire`: `received` itself). `received` is
   * given back when neither is it.
   */
  async #decompress(
    head: RequestHead,
    received: Buffer,
    keepGzip: boolean,
  ): Promise<{ body: Buffer; wire?: Buffer }> {
    const encoding = (head.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'identity') return { body: received };
    const limit = this.#options.maxRequestBodySize;
    const tooLarge = () =>
      new BodyTooLargeError(
        `body exceeds max_request_body_size ${limit} bytes after decompression`,
      );
    let source: AsyncIterable<Buffer> | Iterable<Buffer>;
    if (encoding === 'gzip') {
      // Whole, its trailer sizes the pieces it is inflated in.
      const gunzip = createGunzip({ chunkSize: gzipPieceSize(received) });
      gunzip.end(received);
      source = gunzip;
    } else if (encoding === 'deflate') {
      const inflate = createInflate(INFLATE_OPTIONS);
      inflate.end(received);
      source = inflate;
    } else if (encoding === 'zstd') source = decompressZstdBounded([received], limit, tooLarge);
    else {
      requestBytes.give(received);
      throw new InvalidArgumentError('content-encoding', encoding, 'gzip, deflate, zstd or none');
    }
    const keep = keepGzip && encoding === 'gzip';
    let body: Buffer;
    try {
      // A compressed body's size says little about its own.
      body = await readWhole(source, 0, limit, tooLarge);
    } catch (err) {
      requestBytes.give(received);
      throw err;
    }
    if (!keep) requestBytes.give(received);
    return { body, wire: keep ? received : undefined };
  }
}

const ACCEPTED_PROTOBUF: Reply = {
  status: 200,
  headers: { 'content-type': 'application/x-protobuf' },
  body: encodeMetricsResponse(),
};
const ACCEPTED_JSON: Reply = {
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: encodeMetricsResponseJson(),
};

function isJson(head: RequestHead): boolean {
  return (head.headers['content-type'] ?? '').includes('json');
}

/** An OTLP/HTTP error reply: a `google.rpc.Status`, in the request's content type. */
function failure(
  json: boolean,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): Reply {
  return {
    status,
    headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf', ...headers },
    body: json
      ? JSON.stringify({ code: status === 400 ? 3 : 14, message })
      : statusProto(status === 400 ? 3 : 14, message),
  };
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
