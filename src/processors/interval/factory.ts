import { defineProcessor } from '../processor.js';
import { intervalConfig } from './config.js';
import { IntervalProcessor } from './interval-processor.js';

export const intervalProcessorFactory = defineProcessor({
  type: 'interval',
  description:
    'Keeps the latest point of each cumulative or gauge series and emits them every interval',
  configSchema: intervalConfig,
  create: (settings, config, next) => new IntervalProcessor(settings, config, next),
});
