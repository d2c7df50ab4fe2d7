import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { ClientTransport } from '../../net/client-tls.js';
import { checkedLevel, compressBody } from '../helper/compression.js';
import { HttpEndpoint } from '../helper/http-endpoint.js';
import { skippedResult } from '../helper/skipped-points.js';
import { LineProtocolWriter } from './line-protocol.js';

export interface InfluxSenderOptions {
  /** TLS options and credentials for the connections (see `clientTransport`). */
  transport?: ClientTransport;
  /** The write URL with its query (v1 `/write?db=…&precision=ns` or v2 `/api/v2/write?…`). */
  writeUrl: URL;
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  /** The gzip level (`COMPRESSION_LEVELS`); its default when undefined. */
  compressionLevel?: number;
  connections: number;
}

/**
 * Line protocol over HTTP to InfluxDB (v1 `/write` or v2 `/api/v2/write`), gzip by default.
 * 204 is success; 4xx (a field type conflict, a missing database) is permanent, 429 and
 * 5xx-unavailable are retried.
 */
export class InfluxSender implements Sender {
  readonly destination: string;
  readonly #endpoint: HttpEndpoint;
  readonly #gzip: boolean;
  readonly #gzipLevel: number | undefined;
  readonly #lines = new LineProtocolWriter();

  constructor(options: InfluxSenderOptions) {
    const shown = new URL(options.writeUrl);
    if (shown.searchParams.has('p')) shown.searchParams.set('p', '***');
    this.destination = shown.toString();
    this.#gzip = options.compression === 'gzip';
    this.#gzipLevel = checkedLevel(options.compression, options.compressionLevel);
    this.#endpoint = new HttpEndpoint(
      options.writeUrl,
      {
        ...options.headers,
        'content-type': 'text/plain; charset=utf-8',
        ...(this.#gzip ? { 'content-encoding': 'gzip' } : {}),
      },
      options.connections,
      options.transport,
    );
  }

  async send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    const { text, lines, skipped } = this.#lines.write(batch);
    const result = skippedResult(skipped);
    if (lines === 0) return result;
    const body = this.#gzip ? await compressBody(Buffer.from(text), 'gzip', this.#gzipLevel) : text;
    await this.#endpoint.post(body, signal);
    return result;
  }

  close(): Promise<void> {
    return this.#endpoint.close();
  }
}
