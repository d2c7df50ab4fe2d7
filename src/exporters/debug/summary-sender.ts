import type { Logger } from 'pino';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';

/** The `debug` exporter at `verbosity: basic`: one log line per batch with its sizes. */
export class SummarySender implements Sender {
  readonly destination = 'debug';
  readonly #logger: Logger;
  readonly #exporter: string;

  constructor(logger: Logger, exporter: string) {
    this.#logger = logger;
    this.#exporter = exporter;
  }

  async send(batch: MetricBatch): Promise<SendResult> {
    this.#logger.info(
      {
        exporter: this.#exporter,
        resources: batch.resources.length,
        metrics: batch.metrics.length,
        points: batch.pointCount,
      },
      'metrics received',
    );
    return { rejectedPoints: 0 };
  }
}
