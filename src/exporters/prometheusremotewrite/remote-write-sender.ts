import { compressSync } from 'snappy';
import { Agent, request } from 'undici';
import {
  type RemoteWriteTranslation,
  RemoteWriteTranslator,
} from '../../codec/prometheus/batch-to-remote-write.js';
import { encodeWriteRequest } from '../../codec/prometheus/remote-write.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { successBody } from '../http-status.js';
import { skippedResult } from '../skipped-points.js';

export interface RemoteWriteSenderOptions extends RemoteWriteTranslation {
  /** The receiver's URL, e.g. `http://127.0.0.1:9090/api/v1/write`. */
  endpoint: string;
  headers: Record<string, string>;
  connections: number;
}

/**
 * Prometheus remote write 1.0: a snappy-compressed protobuf `WriteRequest` per batch over
 * undici with keep-alive. The server's 4xx answers (an out-of-order or duplicate sample,
 * a bad label) are permanent, so the batch goes to dead letters instead of being retried
 * forever; 429 and 5xx are retried. Points with no remote-write form are reported as
 * rejected with the reason, so the engine counts and logs them.
 */
export class RemoteWriteSender implements Sender {
  readonly destination: string;
  readonly #options: RemoteWriteSenderOptions;
  readonly #translator: RemoteWriteTranslator;
  readonly #headers: Record<string, string>;
  readonly #agent: Agent;

  constructor(options: RemoteWriteSenderOptions) {
    this.destination = options.endpoint;
    this.#options = options;
    this.#translator = new RemoteWriteTranslator(options);
    this.#headers = {
      ...options.headers,
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'sluice',
    };
    this.#agent = new Agent({ connections: options.connections, keepAliveTimeout: 30_000 });
  }

  async send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    const { request: writeRequest, skipped } = this.#translator.translate(batch);
    const result = skippedResult(skipped);
    if (writeRequest.timeseries.length === 0) return result;
    const body = compressSync(Buffer.from(encodeWriteRequest(writeRequest)));
    const response = await request(this.#options.endpoint, {
      method: 'POST',
      body,
      headers: this.#headers,
      signal,
      dispatcher: this.#agent,
    });
    await successBody(response);
    return result;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
