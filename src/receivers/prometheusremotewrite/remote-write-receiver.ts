import type { Logger } from 'pino';
import { RemoteWriteValidator } from '../../codec/prometheus/validate-write-request.js';
import type { ListenerProtection } from '../../model/auth.js';
import type { Consumer } from '../../model/consumer.js';
import { copyOf } from '../../model/copy-bytes.js';
import { giveBack } from '../../model/encoded-request.js';
import { InvalidArgumentError } from '../../model/errors.js';
import { BodyListener } from '../../net/http1/body-listener.js';
import type { Reply } from '../../net/http1/reply.js';
import type { RequestHead } from '../../net/http1/request-head.js';
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
  readonly listener: BodyListener;

  constructor(settings: ReceiverSettings, config: RemoteWriteReceiverConfig, next: Consumer) {
    this.id = settings.id;
    const limits = attributeLimits(config);
    this.#decoder = limitedDecoder(settings.decoder ?? inlineDecoder, limits);
    this.#validator = new RemoteWriteValidator(limits, this.#bodies.wasm);
    this.#config = config;
    this.#next = next;
    this.#logger = settings.logger.child({ receiver: settings.id });
    this.listener = new BodyListener(
      {
        ...config,
        endpointKey: `receivers.${this.id}.endpoint`,
        maxBodySize: config.max_request_body_size,
        authenticator: serverAuthenticator(settings, config.auth, `receivers.${this.id}.auth`),
        logger: this.#logger,
        onRefused: (reason) => this.stats.refuseRequest(reason),
      },
      {
        check: (head, peer) => this.#check(head, peer),
        tooLarge: (_head, message) => {
          this.stats.malformed++;
          return text(413, message);
        },
        handle: (head, body) => this.#handle(head, body),
      },
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

  /** Refuses what it can from the head alone: the path, the method, a full pipeline. */
  #check(head: RequestHead, peer: string | undefined): Reply | undefined {
    if (head.path !== '/api/v1/write') return text(404, 'this receiver takes POST /api/v1/write');
    if (head.method !== 'POST') return text(405, `method ${head.method} not allowed: use POST`);
    this.stats.requests++;
    const refusal = refusalBeforeReading(this.#next, 'prometheus-remote-write');
    if (refusal) {
      this.listener.refuse('queue_full', peer);
      return text(429, refusal.message, RETRY_AFTER);
    }
    return undefined;
  }

  async #handle(head: RequestHead, received: Buffer): Promise<Reply> {
    // Relayed, the request travels as it came (compressed, or not): the buffer is carried on
    // (no copy); anything else gives it back once handled.
    const encoding = (head.headers['content-encoding'] ?? 'snappy').toLowerCase();
    const compressed = encoding === 'snappy';
    const carry: Carry = compressed
      ? { bytes: received, compression: 'snappy' }
      : { bytes: received };
    try {
      return await this.#handleBody(received, encoding, carry);
    } finally {
      if (!carry.taken) giveBack(carry);
    }
  }

  /** Checks (uncompressed) and hands on a read body; the reply. */
  async #handleBody(received: Buffer, encoding: string, carry: Carry): Promise<Reply> {
    let body: Uint8Array;
    try {
      body = this.#bodies.uncompress(received, encoding, this.#config.max_request_body_size);
    } catch (err) {
      this.stats.malformed++;
      if (err instanceof BodyTooLargeError) return text(413, err.message);
      if (err instanceof InvalidArgumentError) return text(415, err.message);
      return this.#malformed(err as Error);
    }
    const compressed = carry.compression === 'snappy';
    let refused: Refusal | undefined;
    try {
      refused = await this.stats.accept(
        this.#next,
        body,
        // A copy: the decoder may run on another thread, and `body` is reused.
        () => this.#decoder.decode('prometheus-remote-write', compressed ? copyOf(body) : body),
        this.#validator,
        { carry },
      );
    } catch (err) {
      return this.#malformed(err as Error);
    }
    if (!refused) return ACCEPTED;
    return text(refused.reason === 'queue_full' ? 429 : 503, refused.error.message, RETRY_AFTER);
  }

  #malformed(err: Error): Reply {
    this.#logger.warn({ error: err.message }, 'refused a malformed remote write request');
    return text(400, `cannot decode the remote write request: ${err.message}`);
  }
}

const ACCEPTED: Reply = { status: 204 };
const RETRY_AFTER = { 'retry-after': '1' };

/** A plain-text reply: what Prometheus logs of a failed write. */
function text(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
    body: `${message}\n`,
  };
}
