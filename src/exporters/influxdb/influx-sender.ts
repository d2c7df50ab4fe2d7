import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { Agent, request } from 'undici';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { successBody } from '../http-status.js';
import { skippedResult } from '../skipped-points.js';
import { LineProtocolWriter } from './line-protocol.js';

const gzip = promisify(gzipCallback);

export interface InfluxSenderOptions {
  /** The write URL with its query (v1 `/write?db=…&precision=ns` or v2 `/api/v2/write?…`). */
  writeUrl: URL;
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  connections: number;
}

/**
 * Line protocol over HTTP to InfluxDB (v1 `/write` or v2 `/api/v2/write`), gzip by default.
 * 204 is success; 4xx (a field type conflict, a missing database) is permanent, 429 and
 * 5xx-unavailable are retried.
 */
export class InfluxSender implements Sender {
  readonly destination: string;
  readonly #options: InfluxSenderOptions;
  readonly #agent: Agent;
  readonly #lines = new LineProtocolWriter();

  constructor(options: InfluxSenderOptions) {
    this.#options = options;
    const shown = new URL(options.writeUrl);
    if (shown.searchParams.has('p')) shown.searchParams.set('p', '***');
    this.destination = shown.toString();
    this.#agent = new Agent({ connections: options.connections, keepAliveTimeout: 30_000 });
  }

  async send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    const { text, lines, skipped } = this.#lines.write(batch);
    const result = skippedResult(skipped);
    if (lines === 0) return result;
    const gzipped = this.#options.compression === 'gzip';
    const response = await request(this.#options.writeUrl, {
      method: 'POST',
      body: gzipped ? await gzip(text) : text,
      headers: {
        ...this.#options.headers,
        'content-type': 'text/plain; charset=utf-8',
        ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
        'user-agent': 'sluice',
      },
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
