import { encodeMetricsRequestJson } from '../../codec/json/encode-request-json.js';
import { decodeMetricsRequestJsonResponse } from '../../codec/json/response-json.js';
import { decodeMetricsRequest } from '../../codec/protobuf/decode-request.js';
import { MetricsRequestEncoder } from '../../codec/protobuf/encode-request.js';
import { decodeMetricsResponse } from '../../codec/protobuf/response.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import { InvalidArgumentError } from '../../model/errors.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { ClientTransport } from '../../net/client-tls.js';
import { type BodyCompression, checkedLevel, compressBody } from '../helper/compression.js';
import { HttpEndpoint } from '../helper/http-endpoint.js';

/** Request buffers kept for reuse: one per concurrent request is all a sender needs. */
const MAX_SPARE_ENCODERS = 16;

export type HttpEncoding = 'protobuf' | 'json';
export type HttpCompression = BodyCompression;

export interface OtlpHttpSenderOptions {
  /** TLS options and credentials for the connections (see `clientTransport`). */
  transport?: ClientTransport;
  /** Full URL of the metrics endpoint, e.g. `http://127.0.0.1:4318/v1/metrics`. */
  url: string;
  headers?: Record<string, string>;
  encoding?: HttpEncoding;
  compression?: HttpCompression;
  /** The compression's level (`COMPRESSION_LEVELS`); its default when undefined. */
  compressionLevel?: number;
  /** Keep-alive connections to the endpoint (defaults to the number of consumers). */
  connections?: number;
}

/**
 * OTLP/HTTP (protobuf or JSON; gzip or zstd) over undici with keep-alive. Encoding happens
 * per request, bounded by the batch limits, and gzip runs on libuv's thread pool.
 */
export class OtlpHttpSender implements Sender {
  readonly destination: string;
  readonly #encoding: HttpEncoding;
  readonly #compression: HttpCompression;
  readonly #compressionLevel: number | undefined;
  readonly #endpoint: HttpEndpoint;
  readonly #encoders: MetricsRequestEncoder[] = [];

  constructor(options: OtlpHttpSenderOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new InvalidArgumentError(
        'url',
        options.url,
        'a URL, e.g. http://127.0.0.1:4318/v1/metrics',
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError('url', options.url, 'an http:// or https:// URL');
    }
    this.destination = url.toString();
    this.#encoding = options.encoding ?? 'protobuf';
    this.#compression = options.compression ?? 'none';
    if (!['none', 'gzip', 'zstd'].includes(this.#compression)) {
      throw new InvalidArgumentError('compression', this.#compression, 'none, gzip or zstd');
    }
    this.#compressionLevel = checkedLevel(this.#compression, options.compressionLevel);
    this.#endpoint = new HttpEndpoint(
      url,
      {
        ...options.headers,
        'content-type': this.#encoding === 'json' ? 'application/json' : 'application/x-protobuf',
        ...(this.#compression !== 'none' ? { 'content-encoding': this.#compression } : {}),
      },
      options.connections ?? 8,
      options.transport,
    );
  }

  async send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    // Protobuf bodies are written into a buffer kept from an earlier request: a fresh
    // multi-MB buffer per request is external memory that makes V8 collect the whole
    // application heap far more often (measured: most of the exporter's CPU time).
    const encoder =
      this.#encoding === 'json' ? undefined : (this.#encoders.pop() ?? new MetricsRequestEncoder());
    const body = encoder ? encoder.encode(batch) : Buffer.from(encodeMetricsRequestJson(batch));
    const result = await this.#post(body, signal);
    // Only a complete exchange proves the body was written out: after an error or an abort
    // the socket may still hold it, so that buffer is left to the GC.
    if (encoder && this.#encoders.length < MAX_SPARE_ENCODERS) this.#encoders.push(encoder);
    return result;
  }

  /** Protobuf with gzip: a relay's request gzipped by its client goes on as it came. */
  get sendsGzip(): boolean {
    return this.#encoding === 'protobuf' && this.#compression === 'gzip';
  }

  /**
   * An OTLP protobuf request as it is (re-encoded as JSON when that is the encoding); its
   * `gzipped` form, when given and this sends gzip, instead of compressing it again.
   */
  sendEncoded(request: Uint8Array, signal: AbortSignal, gzipped?: Uint8Array): Promise<SendResult> {
    if (this.#encoding === 'json') return this.send(decodeMetricsRequest(request), signal);
    const asItCame = this.sendsGzip ? gzipped : undefined;
    return this.#post(asItCame ?? request, signal, asItCame !== undefined);
  }

  /** Posts `body`, compressing it first unless it is `compressed` already. */
  async #post(body: Uint8Array, signal: AbortSignal, compressed = false): Promise<SendResult> {
    if (!compressed) body = await compressBody(body, this.#compression, this.#compressionLevel);
    const answer = await this.#endpoint.post(body, signal);
    return partialSuccess(answer.body, answer.contentType);
  }

  close(): Promise<void> {
    return this.#endpoint.close();
  }
}

/** An OTLP success answer: empty, or a `partial_success` (protobuf or JSON). */
function partialSuccess(body: Uint8Array, contentType: string | undefined): SendResult {
  if (body.length === 0) return { rejectedPoints: 0 };
  const partial = contentType?.includes('json')
    ? decodeMetricsRequestJsonResponse(body)
    : decodeMetricsResponse(body);
  return { rejectedPoints: partial.rejectedDataPoints, message: partial.errorMessage || undefined };
}
