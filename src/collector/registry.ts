import { debugExporterFactory } from '../exporters/debug/factory.js';
import { fileExporterFactory } from '../exporters/file/factory.js';
import type { ExporterFactory } from '../exporters/helper/exporter.js';
import { influxdbExporterFactory } from '../exporters/influxdb/factory.js';
import { natsExporterFactory } from '../exporters/nats/factory.js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { otlphttpExporterFactory } from '../exporters/otlphttp/factory.js';
import { postgresqlExporterFactory } from '../exporters/postgresql/factory.js';
import { prometheusExporterFactory } from '../exporters/prometheus/factory.js';
import { remoteWriteExporterFactory } from '../exporters/prometheusremotewrite/factory.js';
import { basicAuthExtensionFactory } from '../extensions/basicauth/factory.js';
import { bearerTokenAuthExtensionFactory } from '../extensions/bearertokenauth/factory.js';
import type { ExtensionFactory } from '../extensions/extension.js';
import { fileStorageExtensionFactory } from '../extensions/filestorage/factory.js';
import type { ComponentFactory } from '../model/component-factory.js';
import { aggregateProcessorFactory } from '../processors/aggregate/factory.js';
import { attributesProcessorFactory } from '../processors/attributes/factory.js';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { cardinalityLimitProcessorFactory } from '../processors/cardinalitylimit/factory.js';
import { cumulativeToDeltaProcessorFactory } from '../processors/cumulativetodelta/factory.js';
import { deltaToCumulativeProcessorFactory } from '../processors/deltatocumulative/factory.js';
import { filterProcessorFactory } from '../processors/filter/factory.js';
import { intervalProcessorFactory } from '../processors/interval/factory.js';
import { memoryLimiterProcessorFactory } from '../processors/memorylimiter/factory.js';
import type { ProcessorFactory } from '../processors/processor.js';
import { resourceProcessorFactory } from '../processors/resource/factory.js';
import { natsReceiverFactory } from '../receivers/nats/factory.js';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { remoteWriteReceiverFactory } from '../receivers/prometheusremotewrite/factory.js';
import type { ReceiverFactory } from '../receivers/receiver.js';

/** Factories by their `type`, the key a config names them by. */
function byType<F extends ComponentFactory<unknown>>(...factories: F[]): Record<string, F> {
  return Object.fromEntries(factories.map((factory) => [factory.type, factory]));
}

/** Adding a component: one folder (config.ts, the implementation, factory.ts), one entry here. */
export const receivers: Record<string, ReceiverFactory> = byType(
  otlpReceiverFactory,
  remoteWriteReceiverFactory,
  natsReceiverFactory,
);

export const processors: Record<string, ProcessorFactory> = byType(
  aggregateProcessorFactory,
  batchProcessorFactory,
  filterProcessorFactory,
  attributesProcessorFactory,
  resourceProcessorFactory,
  cumulativeToDeltaProcessorFactory,
  deltaToCumulativeProcessorFactory,
  memoryLimiterProcessorFactory,
  intervalProcessorFactory,
  cardinalityLimitProcessorFactory,
);

export const exporters: Record<string, ExporterFactory> = byType(
  otlphttpExporterFactory,
  otlpExporterFactory,
  debugExporterFactory,
  fileExporterFactory,
  prometheusExporterFactory,
  remoteWriteExporterFactory,
  postgresqlExporterFactory,
  influxdbExporterFactory,
  natsExporterFactory,
);

/** Extensions (the Collector's `extensions:` section, enabled by `service.extensions`). */
export const extensions: Record<string, ExtensionFactory> = byType(
  fileStorageExtensionFactory,
  bearerTokenAuthExtensionFactory,
  basicAuthExtensionFactory,
);
