import { defineProcessor } from '../processor.js';
import { CardinalityLimitProcessor } from './cardinality-limit-processor.js';
import { cardinalityLimitConfig } from './config.js';

export const cardinalityLimitProcessorFactory = defineProcessor({
  type: 'cardinality_limit',
  description:
    'Caps the series of each metric; further series merge into one otel.metric.overflow series',
  configSchema: cardinalityLimitConfig,
  create: (settings, config, next) => new CardinalityLimitProcessor(settings, config, next),
});
