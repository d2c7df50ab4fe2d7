import { defineProcessor } from '../processor.js';
import { filterConfig } from './config.js';
import { FilterProcessor } from './filter-processor.js';

export const filterProcessorFactory = defineProcessor({
  type: 'filter',
  description: 'Keeps or drops points by metric name, resource and point attributes',
  configSchema: filterConfig,
  create: (settings, config, next) => new FilterProcessor(settings, config, next),
});
