import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RemoteWriteValidator } from '../../codec/prometheus/validate-write-request.js';
import type { ListenerProtection } from '../../model/auth.js';
import { readWhole, requestBytes } from '../../model/byte-pool.js';
import type { Consumer } from '../../model/consumer.js';
import { InvalidArgumentError } from '../../model/errors.js';
import { HttpListener } from '../../net/http-listener.js';
import { serverAuthenticator } from '../../net/resolve-auth.js';
import { attributeLimits, limitedDecoder } from '../attribute-limits-config.js';
import { BodyTooLargeError } from '../body-too-large.js';
import type { Receiver, ReceiverSettings } from '../receiver.js';
import {
  type Carry,
  ReceiverStats,
  type Refusal,
  refusalBeforeReading,
} from '../receiver-stats.js';
import { inlineDecoder, type RequestDecoder } from '../request-decoder.js';
import type { RemoteWriteReceiverConfig } from './config.js';
import { RemoteWriteBodies } from './remote-write-body.js';

/**
 * Prometheus remote write 1.0 on `POST /api/v1/write` (snappy block-compressed protobuf
 * `WriteRequest`), mapped to OTel metrics. 204 when accepted; 400 for bad data; 413 when the
 * body or its declared uncompressed size is over the limit; 429 / 503 with Retry-After
 * under backpressure, which Prometheus and vmagent retry.
 */
export class RemoteWriteReceiver implements Receiver {
  readonly id: string;
  readonly stats = new ReceiverStats();
  readonly statsByTransport = { http: this.stats };
  readonly #config: RemoteWriteReceiverConfig;
  readonly #next: Consumer;
  readonly #logger: Logger;
  readonly #decoder: RequestDecoder;
  readonly #validator: RemoteWriteValidator;
  readonly #bodies = new RemoteWriteBodies();
  readonly listener: HttpListener;

  constructor(settings: ReceiverSettings, config: RemoteWriteReceiverConfig, next: Consumer) {
    this.id = settings.id;
    const limits = attributeLimits(config);
    this.#decoder = limitedDecoder(settings.decoder ?? inlineDecoder, limits);
    this.#validator = new RemoteWriteValidator(limits, this.#bodies.wasm);
    this.#config = config;
    this.#next = next;
    this.#logger = settings.logger.child({ receiver: settings.id });
    this.listener = new HttpListener(
      {
        ...config,
        endpointKey: `receivers.${this.id}.endpoint`,
        authenticator: serverAuthenticator(settings, config.auth, `receivers.${this.id}.auth`),
        logger: this.#logger,
        onRefused: (reason) => this.stats.refuseRequest(reason),
      },
      (req, res) => void this.#handle(req, res),
    );
  }

  get listening(): boolean {
    return this.listener.listening;
  }

  get address(): string {
    return this.listener.address;
  }

  get listeners(): ListenerProtection[] {
    return [this.listener.protection('Prometheus remote write')];
  }

  get addresses(): string[] {
    return [`Prometheus remote write ${this.listener.url('/api/v1/write')}`];
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  shutdown(): Promise<void> {
    return this.listener.close('graceful');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, message = '', headers: Record<string, string> = {}) => {
      res
        .writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
        .end(message ? `${message}\n` : '');
    };
    if (req.url?.split('?')[0] !== '/api/v1/write')
      return reply(404, 'this receiver takes POST /api/v1/write');
    if (req.method !== 'POST') return reply(405, `method ${req.method} not allowed: use POST`);
    this.stats.requests++;
    const refusal = refusalBeforeReading(this.#next, 'prometheus-remote-write');
    if (refusal) {
      this.listener.refuse('queue_full', req);
      return reply(429, refusal.message, { 'retry-after': '1' });
    }
    const limit = this.#config.max_request_body_size;
    let received: Buffer;
    try {
      // Read into one of the request buffers as it comes (see `GrowingBytes`).
      received = await readWhole(
        req,
        Number(req.headers['content-length']),
        limit,
        () => new BodyTooLargeError(`body exceeds max_request_body_size ${limit} bytes`),
      );
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      this.stats.malformed++;
      res.once('finish', () => req.socket?.destroy());
      return reply(413, err.message, { connection: 'close' });
    }
    // Relayed, the request travels as it came (compressed, or not): the buffer is carried on
    // (no copy); anything else gives it back once handled.
    const encoding = (req.headers['content-encoding'] ?? 'snappy').toLowerCase();
    const compressed = encoding === 'snappy';
    const carry: Carry = compressed
      ? { bytes: received, compression: 'snappy' }
      : { bytes: received };
    try {
      return await this.#handleBody(received, encoding, carry, reply);
    } finally {
      if (!carry.taken) requestBytes.give(received);
    }
  }

  /** Checks (uncompressed) and hands on a read body, and answers. */
  async #handleBody(
    received: Buffer,
    encoding: string,
    carry: Carry,
    reply: (status: number, message?: string, headers?: Record<string, string>) => void,
  ): Promise<void> {
    let body: Uint8Array;
    try {
      body = this.#bodies.uncompress(received, encoding, this.#config.max_request_body_size);
    } catch (err) {
      this.stats.malformed++;
      if (err instanceof BodyTooLargeError) return reply(413, err.message);
      if (err instanceof InvalidArgumentError) return reply(415, err.message);
      return this.#malformed(err as Error, reply);
    }
    const compressed = carry.compression === 'snappy';
    let refused: Refusal | undefined;
    try {
      refused = await this.stats.accept(
        this.#next,
        body,
        // A copy: the decoder may run on another thread, and `body` is reused.
        () => this.#decoder.decode('prometheus-remote-write', compressed ? body.slice() : body),
        this.#validator,
        { carry },
      );
    } catch (err) {
      return this.#malformed(err as Error, reply);
    }
    if (!refused) return reply(204);
    reply(refused.reason === 'queue_full' ? 429 : 503, refused.error.message, {
      'retry-after': '1',
    });
  }

  #malformed(err: Error, reply: (status: number, message: string) => void): void {
    this.#logger.warn({ error: err.message }, 'refused a malformed remote write request');
    reply(400, `cannot decode the remote write request: ${err.message}`);
  }
}
