import { AttributesProcessor } from '../attributes/attributes-processor.js';
import { defineProcessor } from '../processor.js';
import { resourceConfig } from './config.js';

export const resourceProcessorFactory = defineProcessor({
  type: 'resource',
  description: 'Inserts, updates, upserts, deletes or hashes resource attributes',
  configSchema: resourceConfig,
  defaultConfig: {
    actions: [{ key: 'deployment.environment', action: 'upsert', value: 'production' }],
  },
  create: (settings, config, next) => new AttributesProcessor(settings, config, next, 'resource'),
});
