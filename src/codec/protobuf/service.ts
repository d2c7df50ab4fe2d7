/** The gRPC method the OTLP metrics service answers (`MetricsService.Export`). */
export const METRICS_EXPORT_METHOD =
  '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
