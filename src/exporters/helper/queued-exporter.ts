import type { Logger } from 'pino';
import { DeliveryEngine } from '../../delivery/delivery-engine.js';
import type { Sender } from '../../delivery/sender.js';
import type { ComponentSettings } from '../../model/consumer.js';
import type { EncodedPath } from '../../model/encoded-request.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { storageOf } from '../../model/storage.js';
import { deliveryOptions, type ExporterHelperConfig } from './config.js';
import type { Exporter } from './exporter.js';

/**
 * The exporter helper: an exporter writes only its `Sender`; this wraps it as
 * queue → batching → retry → breaker → dead letters, configured by the shared blocks.
 */
export class QueuedExporter implements Exporter {
  readonly id: string;
  readonly engine: DeliveryEngine;
  /** Requests as bytes, in the formats its engine sends as they are (`DeliveryEngine.formats`). */
  readonly encoded?: EncodedPath;

  constructor(
    settings: ComponentSettings,
    config: ExporterHelperConfig,
    sender: Sender,
    logger: Logger = settings.logger,
  ) {
    this.id = settings.id;
    const storage = config.sending_queue.storage;
    this.engine = new DeliveryEngine({
      ...deliveryOptions(config),
      sender,
      logger: logger.child({ exporter: settings.id }),
      storage: storage
        ? storageOf(settings, storage).settingsFor('exporter', settings.id)
        : undefined,
    });
    const formats = this.engine.formats;
    if (formats.length > 0)
      this.encoded = {
        formats,
        // Without ordering, receivers need not find each request's series keys.
        ordersBySeries: config.sending_queue.ordering === 'per_series',
        gzip: this.engine.gzip,
        consume: (request) => this.engine.consume(request),
        refusing: () => this.engine.refusing(),
      };
  }

  get dropped(): Readonly<Record<string, number>> {
    return this.engine.stats.dropped;
  }

  async start(): Promise<void> {
    await this.engine.open();
    this.engine.start();
  }

  consume(batch: MetricBatch): Promise<void> {
    return this.engine.consume(batch);
  }

  settled(): Promise<void> {
    return this.engine.settled();
  }

  shutdown(options: { deadlineMs: number }): Promise<void> {
    return this.engine.shutdown(options);
  }
}
