import { compressSync } from 'snappy';
import { Agent, request } from 'undici';
import {
  batchToRemoteWrite,
  type RemoteWriteTranslation,
} from '../../codec/prometheus/batch-to-remote-write.js';
import { encodeWriteRequest } from '../../codec/prometheus/remote-write.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { errorForHttpStatus } from '../http-status.js';

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
  readonly #headers: Record<string, string>;
  readonly #agent: Agent;

  constructor(options: RemoteWriteSenderOptions) {
    this.destination = options.endpoint;
    this.#options = options;
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
    const { request: writeRequest, skipped } = batchToRemoteWrite(batch, this.#options);
    const rejectedPoints = Object.values(skipped).reduce((a, b) => a + b, 0);
    const result: SendResult = {
      rejectedPoints,
      message: rejectedPoints > 0 ? skippedMessage(skipped) : undefined,
    };
    if (writeRequest.timeseries.length === 0) return result;
    const body = compressSync(Buffer.from(encodeWriteRequest(writeRequest)));
    const response = await request(this.#options.endpoint, {
      method: 'POST',
      body,
      headers: this.#headers,
      signal,
      dispatcher: this.#agent,
    });
    const responseBody = new Uint8Array(await response.body.arrayBuffer());
    if (response.statusCode >= 200 && response.statusCode < 300) return result;
    const contentType = response.headers['content-type'];
    throw errorForHttpStatus(
      response.statusCode,
      responseBody,
      Array.isArray(contentType) ? contentType[0] : contentType,
      response.headers['retry-after'],
    );
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

const HINTS: Record<string, string> = {
  delta_temporality:
    'delta points have no Prometheus form: put the deltatocumulative processor before this exporter',
  exponential_histogram: 'exponential histograms have no remote write 1.0 form',
  no_recorded_value: 'points flagged "no recorded value"',
  empty_metric: 'metrics without data',
};

function skippedMessage(skipped: Record<string, number>): string {
  return Object.entries(skipped)
    .map(([reason, n]) => `${n} skipped (${reason}): ${HINTS[reason] ?? reason}`)
    .join('; ');
}
