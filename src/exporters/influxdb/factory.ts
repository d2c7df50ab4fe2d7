import { z } from 'zod';
import type { ComponentSettings } from '../../model/consumer.js';
import { type ExporterHelperConfig, exporterHelperKeys } from '../helper/config.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { InfluxSender } from './influx-sender.js';

/**
 * `influxdb`: the Collector's keys. v2 (`org`, `bucket`, `token`) writes to
 * `/api/v2/write`; with `v1_compatibility.enabled` it writes to v1's `/write` with `db`
 * (and `username`/`password` when set).
 */
export const influxdbExporterConfig = z
  .strictObject({
    endpoint: z.url({
      protocol: /^https?$/,
      error: 'expected an http:// or https:// URL, e.g. http://127.0.0.1:8086',
    }),
    org: z.string().optional(),
    bucket: z.string().optional(),
    token: z.string().optional(),
    v1_compatibility: z
      .strictObject({
        enabled: z.boolean().default(false),
        db: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .prefault({}),
    headers: z.record(z.string(), z.string()).default({}),
    compression: z.enum(['gzip', 'none']).default('gzip'),
    ...exporterHelperKeys,
  })
  .refine((c) => (c.v1_compatibility.enabled ? c.v1_compatibility.db : c.bucket && c.org), {
    message:
      'set org and bucket (InfluxDB 2), or v1_compatibility: { enabled: true, db } (InfluxDB 1)',
    path: ['bucket'],
  });

export type InfluxdbExporterConfig = z.infer<typeof influxdbExporterConfig>;

export function influxWriteUrl(config: InfluxdbExporterConfig): URL {
  const base = config.endpoint.replace(/\/+$/, '');
  const v1 = config.v1_compatibility;
  const url = new URL(v1.enabled ? `${base}/write` : `${base}/api/v2/write`);
  url.searchParams.set('precision', 'ns');
  if (v1.enabled) {
    url.searchParams.set('db', v1.db!);
    if (v1.username) url.searchParams.set('u', v1.username);
    if (v1.password) url.searchParams.set('p', v1.password);
  } else {
    url.searchParams.set('org', config.org!);
    url.searchParams.set('bucket', config.bucket!);
  }
  return url;
}

export const influxdbExporterFactory = {
  type: 'influxdb',
  configSchema: influxdbExporterConfig,
  create(settings: ComponentSettings, config: InfluxdbExporterConfig) {
    const sender = new InfluxSender({
      writeUrl: influxWriteUrl(config),
      headers: {
        ...config.headers,
        ...(config.token && !config.v1_compatibility.enabled
          ? { authorization: `Token ${config.token}` }
          : {}),
      },
      compression: config.compression,
      connections: config.sending_queue.num_consumers,
    });
    return new QueuedExporter(settings, config as ExporterHelperConfig, sender);
  },
};
