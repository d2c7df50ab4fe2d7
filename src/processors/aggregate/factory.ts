import { defineProcessor } from '../processor.js';
import { AggregateProcessor } from './aggregate-processor.js';
import { aggregateConfig } from './config.js';

export const aggregateProcessorFactory = defineProcessor({
  type: 'aggregate',
  description: 'Re-aggregates series over the attributes its rules keep, emitted every interval',
  configSchema: aggregateConfig,
  defaultConfig: { rules: [{ metrics: ['*'], group_by: [] }] },
  create: (settings, config, next) => new AggregateProcessor(settings, config, next),
});
