import { defineProcessor } from '../processor.js';
import { cumulativeToDeltaConfig } from './config.js';
import { CumulativeToDeltaProcessor } from './cumulative-to-delta-processor.js';

export const cumulativeToDeltaProcessorFactory = defineProcessor({
  type: 'cumulativetodelta',
  description: 'Turns cumulative monotonic sums and histograms into deltas',
  configSchema: cumulativeToDeltaConfig,
  create: (settings, config, next) => new CumulativeToDeltaProcessor(settings, config, next),
});
