import { requestBytes } from '../model/byte-pool.js';
import type { Consumer } from '../model/consumer.js';
import type { EncodedFormat, EncodedRequest } from '../model/encoded-request.js';
import type { MetricBatch } from '../model/metric-batch.js';
import type { PointObserver } from '../model/point-observer.js';

/** Counters of one receiver: what came in, what the pipeline accepted, what was refused and why. */
export class ReceiverStats {
  requests = 0;
  /** Points decoded from requests. */
  received = 0;
  /** Points the pipeline accepted. */
  accepted = 0;
  /** Points refused (the sender was told to retry or that the data is bad), by reason. */
  readonly refused: Record<string, number> = {};
  /** Requests that could not be decoded. */
  malformed = 0;
  /** Requests the pipeline took as they were, without decoding (`consumeOtlpProtobuf`). */
  scanned = 0;
  /** Requests the pipeline carried as bytes to its exporters (`Consumer.encoded`). */
  relayed = 0;
  /**
   * Requests and connections turned away before their data was read, by reason
   * (`unauthenticated`, `tls_handshake`).
   */
  readonly refusedRequests: Record<string, number> = {};
  /**
   * Times a consumer the server held messages for got none and the receiver acted, by action
   * (`pull_again`, `leader_stepdown`): the NATS receiver's stall watch.
   */
  readonly stalls: Record<string, number> = {};
  /** Sees what the pipeline takes (the collector's cardinality tracker), when set. */
  observer: PointObserver | undefined;

  countStall(action: 'pull_again' | 'leader_stepdown'): void {
    this.stalls[action] = (this.stalls[action] ?? 0) + 1;
  }

  refuseRequest(reason: string): void {
    this.refusedRequests[reason] = (this.refusedRequests[reason] ?? 0) + 1;
  }

  refuse(reason: string, points: number): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + points;
  }

  /**
   * Offers an OTLP protobuf body to the pipeline's fast path (`consumeOtlpProtobuf`); true
   * when the pipeline took all of it, false when it must be decoded and `forward`ed.
   */
  offerOtlpProtobuf(next: Consumer, body: Uint8Array): boolean {
    const points = next.consumeOtlpProtobuf?.(body) ?? -1;
    if (points < 0) return false;
    this.observer?.observeRequest('otlp', body, points);
    this.scanned++;
    this.received += points;
    this.accepted += points;
    return true;
  }

  /**
   * Hands a decoded batch to the pipeline and counts what happened: undefined when it was
   * accepted, else why not (`queue_full`, `memory_limit`, ...) and the pipeline's error,
   * for the receiver to tell its client (429/503, RESOURCE_EXHAUSTED, a NATS nak).
   */
  async forward(next: Consumer, batch: MetricBatch): Promise<Refusal | undefined> {
    // Read before the pipeline owns it.
    this.observer?.observeBatch(batch);
    return this.#hand(batch.pointCount, () => next.consume(batch));
  }

  /**
   * Hands a request body to a pipeline that carries requests of its format as bytes
   * (`Consumer.encoded`) when `validator` takes it, and counts what happened as `forward`
   * does; `undefined` when the body must be decoded and `forward`ed instead. What is carried
   * is a copy of `body` in the process's request buffers (the caller may reuse `body` once
   * this returns), or `options.carry`: bytes the caller gives away — the body's own buffer,
   * or the request as it came on the wire (compressed) — if they were carried, which
   * `carry.taken` then says.
   */
  relay(
    next: Consumer,
    body: Uint8Array,
    validator: RequestValidator | undefined,
    options: { carry?: Carry } = {},
  ): Promise<Refusal | undefined> | undefined {
    const path = next.encoded;
    if (!path || !validator || !path.formats.includes(validator.format)) return undefined;
    const request = validator.validate(body, path.ordersBySeries);
    if (!request) return undefined;
    this.observer?.observeRequest(validator.format, body, request.points);
    this.relayed++;
    // A copy in the request buffers unless the caller gives bytes to carry.
    const carry = options.carry;
    if (carry) carry.taken = true;
    request.bytes = carry?.bytes ?? requestBytes.copy(body);
    request.compression = carry?.compression;
    request.gzipped = carry?.gzipped;
    return this.#hand(request.points, () => path.consume(request));
  }

  /**
   * Hands a request body on the way its pipeline takes it: carried as bytes when the
   * pipeline relays and `validator` takes it (see `relay`), else decoded by `decode` and
   * forwarded. Resolves as `forward` does — what the pipeline refused is a `Refusal` — and
   * rejects only with what `decode` threw: bad data, for the caller to answer (counted in
   * `malformed` here).
   */
  async accept(
    next: Consumer,
    body: Uint8Array,
    decode: () => MetricBatch | Promise<MetricBatch>,
    validator?: RequestValidator,
    options?: { carry?: Carry },
  ): Promise<Refusal | undefined> {
    const relayed = this.relay(next, body, validator, options);
    if (relayed) return relayed;
    let batch: MetricBatch;
    try {
      batch = await decode();
    } catch (err) {
      this.malformed++;
      throw err;
    }
    return this.forward(next, batch);
  }

  async #hand(points: number, consume: () => Promise<void>): Promise<Refusal | undefined> {
    this.received += points;
    try {
      await consume();
      this.accepted += points;
      return undefined;
    } catch (err) {
      const reason = refusalReason(err);
      this.refuse(reason, points);
      return { reason, error: err as Error };
    }
  }
}

/**
 * The refusal a request in `format` would get from `next` whatever it holds (see
 * `EncodedPath.refusing`), when it would be carried as bytes: a receiver answers it before
 * it decompresses, checks or decodes the request. `undefined` when it must be read.
 */
export function refusalBeforeReading(next: Consumer, format: EncodedFormat): Error | undefined {
  const path = next.encoded;
  return path?.formats.includes(format) ? path.refusing?.() : undefined;
}

/** Bytes a receiver gives a relayed request to carry instead of a copy of its body. */
export interface Carry {
  bytes: Uint8Array;
  compression?: 'snappy';
  /** The body as its client gzipped it, to carry too (see `EncodedRequest.gzipped`). */
  gzipped?: Uint8Array;
  /** Set when the request carries them: the receiver no longer owns them. */
  taken?: boolean;
}

/** Why the pipeline did not accept data: a `refused` reason and the pipeline's error. */
export interface Refusal {
  reason: string;
  error: Error;
}

const REFUSAL_REASONS: Record<string, string> = {
  SLUICE_ERR_QUEUE_FULL: 'queue_full',
  SLUICE_ERR_MEMORY_LIMIT: 'memory_limit',
  SLUICE_ERR_SHUT_DOWN: 'shutdown',
  SLUICE_ERR_STORAGE: 'storage_error',
};

/** Why the pipeline refused a batch, as a `refused` reason: from the error's code. */
function refusalReason(err: unknown): string {
  return REFUSAL_REASONS[(err as { code?: string }).code ?? ''] ?? 'pipeline_error';
}

/**
 * Checks request bodies of one format as its decoder would, for the relay: the body as a
 * request to carry, or `undefined` when it must be decoded (see `OtlpRequestValidator`).
 */
export interface RequestValidator {
  readonly format: EncodedFormat;
  /** `seriesKeys`: gather `EncodedRequest.seriesKeys` (else it is left `undefined`). */
  validate(body: Uint8Array, seriesKeys?: boolean): EncodedRequest | undefined;
}
