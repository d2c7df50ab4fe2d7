import type { z } from 'zod';
import { debugExporterFactory } from '../exporters/debug/factory.js';
import { fileExporterFactory } from '../exporters/file/factory.js';
import type { Exporter } from '../exporters/helper/queued-exporter.js';
import { influxdbExporterFactory } from '../exporters/influxdb/factory.js';
import { natsExporterFactory } from '../exporters/nats/factory.js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { otlphttpExporterFactory } from '../exporters/otlphttp/factory.js';
import { postgresqlExporterFactory } from '../exporters/postgresql/factory.js';
import { prometheusExporterFactory } from '../exporters/prometheus/factory.js';
import { remoteWriteExporterFactory } from '../exporters/prometheusremotewrite/factory.js';
import type { Component, ComponentSettings, Consumer } from '../model/consumer.js';
import { aggregateProcessorFactory } from '../processors/aggregate/factory.js';
import {
  attributesProcessorFactory,
  resourceProcessorFactory,
} from '../processors/attributes/factory.js';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { cardinalityLimitProcessorFactory } from '../processors/cardinalitylimit/factory.js';
import { cumulativeToDeltaProcessorFactory } from '../processors/cumulativetodelta/factory.js';
import { deltaToCumulativeProcessorFactory } from '../processors/deltatocumulative/factory.js';
import { filterProcessorFactory } from '../processors/filter/factory.js';
import { intervalProcessorFactory } from '../processors/interval/factory.js';
import { memoryLimiterProcessorFactory } from '../processors/memorylimiter/factory.js';
import { natsReceiverFactory } from '../receivers/nats/factory.js';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { remoteWriteReceiverFactory } from '../receivers/prometheusremotewrite/factory.js';
import type { ReceiverSettings } from '../receivers/request-decoder.js';

export interface ReceiverFactory {
  type: string;
  configSchema: z.ZodType;
  create(settings: ReceiverSettings, config: never, next: Consumer): Component;
}
export interface ProcessorFactory {
  type: string;
  configSchema: z.ZodType;
  create(settings: ComponentSettings, config: never, next: Consumer): Component & Consumer;
}
export interface ExporterFactory {
  type: string;
  configSchema: z.ZodType;
  create(settings: ComponentSettings, config: never): Exporter;
}

/** Adding a component: one folder, one line here. */
export const receivers: Record<string, ReceiverFactory> = {
  otlp: otlpReceiverFactory as ReceiverFactory,
  prometheusremotewrite: remoteWriteReceiverFactory as ReceiverFactory,
  nats: natsReceiverFactory as ReceiverFactory,
};

export const processors: Record<string, ProcessorFactory> = {
  aggregate: aggregateProcessorFactory as ProcessorFactory,
  batch: batchProcessorFactory as ProcessorFactory,
  filter: filterProcessorFactory as ProcessorFactory,
  attributes: attributesProcessorFactory as ProcessorFactory,
  resource: resourceProcessorFactory as ProcessorFactory,
  cumulativetodelta: cumulativeToDeltaProcessorFactory as ProcessorFactory,
  deltatocumulative: deltaToCumulativeProcessorFactory as ProcessorFactory,
  memory_limiter: memoryLimiterProcessorFactory as ProcessorFactory,
  interval: intervalProcessorFactory as ProcessorFactory,
  cardinality_limit: cardinalityLimitProcessorFactory as ProcessorFactory,
};

export const exporters: Record<string, ExporterFactory> = {
  otlphttp: otlphttpExporterFactory as ExporterFactory,
  otlp: otlpExporterFactory as ExporterFactory,
  debug: debugExporterFactory as ExporterFactory,
  file: fileExporterFactory as ExporterFactory,
  prometheus: prometheusExporterFactory as ExporterFactory,
  prometheusremotewrite: remoteWriteExporterFactory as ExporterFactory,
  postgresql: postgresqlExporterFactory as ExporterFactory,
  influxdb: influxdbExporterFactory as ExporterFactory,
  nats: natsExporterFactory as ExporterFactory,
};
