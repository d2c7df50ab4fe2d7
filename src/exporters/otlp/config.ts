import { z } from 'zod';
import { isMetadataName, METADATA_NAME_RULE } from '../../net/grpc-wire.js';
import { authReferenceSchema, clientTlsSchema } from '../../net/tls-config.js';
import { checkCompressionParams, compressionParamsSchema } from '../helper/compression.js';
import { exporterHelperKeys } from '../helper/config.js';

/** `otlp`: OTLP/gRPC with the Collector's keys (`endpoint: host:port`, `tls.insecure`). */
export const otlpConfig = z
  .strictObject({
    endpoint: z.string().min(1, 'expected host:port, e.g. 127.0.0.1:4317'),
    tls: clientTlsSchema.prefault({}),
    auth: authReferenceSchema.optional(),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers)) {
          if (!isMetadataName(name))
            ctx.addIssue({ code: 'custom', path: [name], message: METADATA_NAME_RULE });
        }
      }),
    compression: z.enum(['gzip', 'none']).default('gzip'),
    compression_params: compressionParamsSchema,
    ...exporterHelperKeys,
  })
  .superRefine(checkCompressionParams);

export type OtlpConfig = z.infer<typeof otlpConfig>;
