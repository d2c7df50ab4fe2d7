import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { decodeMetricsRequest } from '../../codec/protobuf/decode-request.js';
import { MetricsRequestScanner } from '../../codec/protobuf/scan-request.js';
import type { ListenerProtection } from '../../model/auth.js';
import type { ComponentSettings } from '../../model/consumer.js';
import { type EncodedPath, type EncodedRequest, giveBack } from '../../model/encoded-request.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { HttpListener } from '../../net/http-listener.js';
import { serverAuthenticator } from '../../net/resolve-auth.js';
import type { Exporter } from '../helper/exporter.js';
import type { PrometheusConfig } from './config.js';
import { ScrapeState } from './scrape-state.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * A Prometheus scrape endpoint: `consume` updates the latest values (cheap, synchronous),
 * `GET /metrics` renders them, as OpenMetrics when the scraper asks for it (and
 * `enable_open_metrics` is on), text format 0.0.4 otherwise.
 *
 * It takes OTLP requests as bytes too (`encoded`, the relay: the receiver checked them):
 * once every series of a request is known, its points are read from the bytes straight
 * into the scrape state (`MetricsRequestScanner`); a request with a new series, or anything
 * the scan does not take, is decoded into a batch first.
 */
export class PrometheusExporter implements Exporter {
  readonly id: string;
  readonly state: ScrapeState;
  readonly #config: PrometheusConfig;
  readonly listener: HttpListener;
  /** Scrapes turned away (no valid credentials, failed TLS handshake), by reason. */
  readonly refusedRequests: Record<string, number> = {};
  readonly #scanner: MetricsRequestScanner;
  #scannedRequests = 0;
  readonly encoded: EncodedPath = {
    formats: ['otlp'],
    // Updates are applied in the order they come, one at a time: no keys needed.
    ordersBySeries: false,
    consume: async (request: EncodedRequest) => this.#consumeEncoded(request),
  };

  constructor(settings: ComponentSettings, config: PrometheusConfig) {
    this.id = settings.id;
    this.#config = config;
    this.listener = new HttpListener(
      {
        ...config,
        endpointKey: `exporters.${this.id}.endpoint`,
        authenticator: serverAuthenticator(settings, config.auth, `exporters.${this.id}.auth`),
        logger: settings.logger.child({ exporter: this.id }),
        onRefused: (reason) => {
          this.refusedRequests[reason] = (this.refusedRequests[reason] ?? 0) + 1;
        },
      },
      (req, res) => void this.#scrape(req, res),
    );
    this.state = new ScrapeState({
      namespace: config.namespace,
      constLabels: config.const_labels,
      addSuffixes: config.add_metric_suffixes,
      resourceToLabels: config.resource_to_telemetry_conversion.enabled,
      sendTimestamps: config.send_timestamps,
      expirationMs: config.metric_expiration,
    });
    this.#scanner = new MetricsRequestScanner(this.state);
  }

  /** Points with no Prometheus form (delta, exponential...), by reason. */
  get dropped(): Readonly<Record<string, number>> {
    return this.state.skipped;
  }

  get addresses(): string[] {
    return [`scrape ${this.listener.url('/metrics')}`];
  }

  get address(): string {
    return this.listener.address;
  }

  get listeners(): ListenerProtection[] {
    return [this.listener.protection('Prometheus scrape endpoint')];
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  /**
   * Streams the exposition: rendered in pieces, each written before the next is made (the
   * body never exists whole), gzip-compressed when the scraper accepts it as Prometheus
   * does, and the event loop free between pieces to serve the receivers.
   */
  async #scrape(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('scrape /metrics\n');
      return;
    }
    const openMetrics =
      this.#config.enable_open_metrics &&
      (req.headers.accept ?? '').includes('application/openmetrics-text');
    const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    res.writeHead(200, {
      'content-type': openMetrics ? OPENMETRICS : TEXT,
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    const state = this.state;
    async function* pieces() {
      for (const chunk of state.renderChunks(openMetrics)) {
        yield chunk;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    // A scraper that goes away mid-body ends the pipeline; there is nobody left to tell.
    const body = Readable.from(pieces());
    await (gzip ? pipeline(body, createGzip({ level: 1 }), res) : pipeline(body, res)).catch(
      () => {},
    );
  }

  async consume(batch: MetricBatch): Promise<void> {
    this.state.update(batch);
  }

  #consumeEncoded(request: EncodedRequest): void {
    try {
      // A request with no points taken (none in it, or not scannable) goes through a batch:
      // it may still update `target_info` or count skipped points.
      if (this.#scanner.scan(request.bytes) > 0) this.#scannedRequests++;
      else this.state.update(decodeMetricsRequest(request.bytes));
    } finally {
      // The last consumer of these bytes, and the scrape state keeps copies of what it reads:
      // back to the request buffers for the next body. Left to the garbage collector, each
      // body took fresh memory the kernel faulted in page by page (a third of the CPU of
      // `otlp → batch → prometheus` in a profile).
      giveBack(request);
    }
  }

  /** Requests whose points were read from their bytes, without a batch. */
  get scannedRequests(): number {
    return this.#scannedRequests;
  }

  shutdown(): Promise<void> {
    return this.listener.close('force');
  }
}
