import { defineProcessor } from '../processor.js';
import { AttributesProcessor } from './attributes-processor.js';
import { attributesConfig } from './config.js';

export const attributesProcessorFactory = defineProcessor({
  type: 'attributes',
  description: 'Inserts, updates, upserts, deletes or hashes point attributes',
  configSchema: attributesConfig,
  defaultConfig: { actions: [{ key: 'environment', action: 'upsert', value: 'production' }] },
  create: (settings, config, next) => new AttributesProcessor(settings, config, next, 'point'),
});
