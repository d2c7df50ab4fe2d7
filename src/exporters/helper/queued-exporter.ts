import type { Logger } from 'pino';
import { DeliveryEngine } from '../../delivery/delivery-engine.js';
import type { Sender } from '../../delivery/sender.js';
import type { Component, ComponentSettings, Consumer } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { deliveryOptions, type ExporterHelperConfig } from './config.js';

/** An exporter the collector runs: a consumer and a component. */
export interface Exporter extends Consumer, Component {
  readonly id: string;
  /** The delivery engine behind it, when it has one (for stats and admin endpoints). */
  readonly engine?: DeliveryEngine;
}

/**
 * The exporter helper: an exporter writes only its `Sender`; this wraps it as
 * queue → batching → retry → breaker → dead letters, configured by the shared blocks.
 */
export class QueuedExporter implements Exporter {
  readonly id: string;
  readonly engine: DeliveryEngine;

  constructor(
    settings: ComponentSettings,
    config: ExporterHelperConfig,
    sender: Sender,
    logger: Logger = settings.logger,
  ) {
    this.id = settings.id;
    this.engine = new DeliveryEngine({
      ...deliveryOptions(config),
      sender,
      logger: logger.child({ exporter: settings.id }),
    });
  }

  async start(): Promise<void> {
    this.engine.start();
  }

  consume(batch: MetricBatch): Promise<void> {
    return this.engine.consume(batch);
  }

  shutdown(options: { deadlineMs: number }): Promise<void> {
    return this.engine.shutdown(options);
  }
}
