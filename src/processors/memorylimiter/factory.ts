import { defineProcessor } from '../processor.js';
import { memoryLimiterConfig } from './config.js';
import { MemoryLimiterProcessor } from './memory-limiter-processor.js';

export const memoryLimiterProcessorFactory = defineProcessor({
  type: 'memory_limiter',
  description:
    'Refuses data (receivers answer retry later) while resident memory is over its soft limit',
  configSchema: memoryLimiterConfig,
  defaultConfig: { limit_mib: 1024 },
  create: (settings, config, next) => new MemoryLimiterProcessor(settings, config, next),
});
