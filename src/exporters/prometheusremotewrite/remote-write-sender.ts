import { compressSync } from 'snappy';
import {
  type RemoteWriteTranslation,
  RemoteWriteTranslator,
} from '../../codec/prometheus/batch-to-remote-write.js';
import { encodeWriteRequest } from '../../codec/prometheus/remote-write.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { ClientTransport } from '../../net/client-tls.js';
import { HttpEndpoint } from '../helper/http-endpoint.js';
import { skippedResult } from '../helper/skipped-points.js';

export interface RemoteWriteSenderOptions extends RemoteWriteTranslation {
  /** TLS options and credentials for the connections (see `clientTransport`). */
  transport?: ClientTransport;
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
  readonly #translator: RemoteWriteTranslator;
  readonly #endpoint: HttpEndpoint;
  /**
   * Received remote write sent on as it came (the collector's relay), when the translation
   * would not change it: no `namespace` prefix and no `external_labels` to add.
   */
  readonly sendRemoteWrite?: Sender['sendRemoteWrite'];

  constructor(options: RemoteWriteSenderOptions) {
    this.destination = options.endpoint;
    if (!options.namespace && Object.keys(options.externalLabels).length === 0) {
      this.sendRemoteWrite = async (request, signal, compression) => {
        const body =
          compression === 'snappy'
            ? request
            : compressSync(Buffer.from(request.buffer, request.byteOffset, request.byteLength));
        await this.#endpoint.post(body, signal);
        return { rejectedPoints: 0 };
      };
    }
    this.#translator = new RemoteWriteTranslator(options);
    this.#endpoint = new HttpEndpoint(
      options.endpoint,
      {
        ...options.headers,
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
        'x-prometheus-remote-write-version': '0.1.0',
      },
      options.connections,
      options.transport,
    );
  }

  async send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    const { request: writeRequest, skipped } = this.#translator.translate(batch);
    const result = skippedResult(skipped);
    if (writeRequest.timeseries.length === 0) return result;
    await this.#endpoint.post(compressSync(Buffer.from(encodeWriteRequest(writeRequest))), signal);
    return result;
  }

  close(): Promise<void> {
    return this.#endpoint.close();
  }
}
