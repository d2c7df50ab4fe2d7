import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ComponentSettings } from '../../model/consumer.js';
import { parseListenEndpoint } from '../../model/endpoint.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { Exporter } from '../helper/exporter.js';
import type { PrometheusConfig } from './config.js';
import { ScrapeState } from './scrape-state.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * A Prometheus scrape endpoint: `consume` updates the latest values (cheap, synchronous),
 * `GET /metrics` renders them, as OpenMetrics when the scraper asks for it (and
 * `enable_open_metrics` is on), text format 0.0.4 otherwise.
 */
export class PrometheusExporter implements Exporter {
  readonly id: string;
  readonly state: ScrapeState;
  readonly #config: PrometheusConfig;
  #server: Server | undefined;

  constructor(settings: ComponentSettings, config: PrometheusConfig) {
    this.id = settings.id;
    this.#config = config;
    this.state = new ScrapeState({
      namespace: config.namespace,
      constLabels: config.const_labels,
      addSuffixes: config.add_metric_suffixes,
      resourceToLabels: config.resource_to_telemetry_conversion.enabled,
      sendTimestamps: config.send_timestamps,
      expirationMs: config.metric_expiration,
    });
  }

  /** Points with no Prometheus form (delta, exponential...), by reason. */
  get dropped(): Readonly<Record<string, number>> {
    return this.state.skipped;
  }

  get addresses(): string[] {
    return [`scrape http://${this.address}/metrics`];
  }

  get address(): string {
    const bound = this.#server?.address() as AddressInfo | null;
    return bound ? `${bound.address}:${bound.port}` : this.#config.endpoint;
  }

  async start(): Promise<void> {
    const { host, port } = parseListenEndpoint(
      this.#config.endpoint,
      `exporters.${this.id}.endpoint`,
    );
    this.#server = createServer((req, res) => {
      if (req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('scrape /metrics\n');
        return;
      }
      const openMetrics =
        this.#config.enable_open_metrics &&
        (req.headers.accept ?? '').includes('application/openmetrics-text');
      res.writeHead(200, { 'content-type': openMetrics ? OPENMETRICS : TEXT });
      res.end(this.state.render(openMetrics));
    });
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject);
      this.#server!.listen(port, host, () => resolve());
    });
  }

  async consume(batch: MetricBatch): Promise<void> {
    this.state.update(batch);
  }

  async shutdown(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server)
      await new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections());
  }
}
