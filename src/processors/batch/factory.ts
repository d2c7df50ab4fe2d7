import { defineProcessor } from '../processor.js';
import { BatchProcessor } from './batch-processor.js';
import { batchConfig } from './config.js';

export const batchProcessorFactory = defineProcessor({
  type: 'batch',
  description:
    'Merges small batches into batches of send_batch_size points, or what arrived within timeout',
  configSchema: batchConfig,
  create: (settings, config, next) => new BatchProcessor(settings, config, next),
});
