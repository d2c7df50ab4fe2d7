import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { Agent, request } from 'undici';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { errorForHttpStatus } from '../http-status.js';
import { toLineProtocol } from './line-protocol.js';

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

  constructor(options: InfluxSenderOptions) {
    this.#options = options;
    const shown = new URL(options.writeUrl);
    if (shown.searchParams.has('p')) shown.searchParams.set('p', '***');
    this.destination = shown.toString();
    this.#agent = new Agent({ connections: options.connections, keepAliveTimeout: 30_000 });
  }

  async send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    const { text, lines, skipped } = toLineProtocol(batch);
    const rejectedPoints = Object.values(skipped).reduce((a, b) => a + b, 0);
    const result: SendResult = {
      rejectedPoints,
      message:
        rejectedPoints > 0
          ? Object.entries(skipped)
              .map(([reason, n]) => `${n} points skipped (${reason})`)
              .join('; ')
          : undefined,
    };
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
    const body = new Uint8Array(await response.body.arrayBuffer());
    if (response.statusCode >= 200 && response.statusCode < 300) return result;
    const contentType = response.headers['content-type'];
    throw errorForHttpStatus(
      response.statusCode,
      body,
      Array.isArray(contentType) ? contentType[0] : contentType,
      response.headers['retry-after'],
    );
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
