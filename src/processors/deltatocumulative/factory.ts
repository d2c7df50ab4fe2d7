import { defineProcessor } from '../processor.js';
import { deltaToCumulativeConfig } from './config.js';
import { DeltaToCumulativeProcessor } from './delta-to-cumulative-processor.js';

export const deltaToCumulativeProcessorFactory = defineProcessor({
  type: 'deltatocumulative',
  description: 'Turns delta sums and histograms into running cumulative totals',
  configSchema: deltaToCumulativeConfig,
  create: (settings, config, next) => new DeltaToCumulativeProcessor(settings, config, next),
});
