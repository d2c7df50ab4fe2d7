import { z } from 'zod';
import { duration } from '../../model/duration.js';
import { listenEndpoint } from '../../model/endpoint.js';
import { httpListenerKeys } from '../../net/listener-config.js';

/** The Collector's `prometheus` exporter keys. */
export const prometheusConfig = z.strictObject({
  endpoint: listenEndpoint('127.0.0.1:9464'),
  namespace: z.string().optional(),
  const_labels: z.record(z.string(), z.string()).default({}),
  send_timestamps: z.boolean().default(false),
  metric_expiration: duration.default(300_000),
  resource_to_telemetry_conversion: z
    .strictObject({ enabled: z.boolean().default(false) })
    .prefault({}),
  enable_open_metrics: z.boolean().default(false),
  add_metric_suffixes: z.boolean().default(true),
  ...httpListenerKeys,
});

export type PrometheusConfig = z.infer<typeof prometheusConfig>;
