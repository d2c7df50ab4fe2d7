/**
 * The OTLP exporter environment variables, as the official exporters read them: the
 * metrics-specific `OTEL_EXPORTER_OTLP_METRICS_*` first, then the generic `OTEL_EXPORTER_OTLP_*`.
 */
export interface OtlpEnvironment {
  /** For OTLP/HTTP: the metrics URL (the generic endpoint gets `/v1/metrics`). */
  url?: string;
  /** For OTLP/gRPC: the endpoint as given (gRPC has no signal path). */
  grpcEndpoint?: string;
  headers?: Record<string, string>;
  timeoutMillis?: number;
  compression?: string;
  protocol?: string;
  temporalityPreference?: string;
  /** `*_CERTIFICATE`: a PEM file of the CA(s) that signed the endpoint's certificate. */
  certificateFile?: string;
  /** `*_CLIENT_CERTIFICATE` and `*_CLIENT_KEY`: PEM files for mutual TLS. */
  clientCertificateFile?: string;
  clientKeyFile?: string;
}

export function readOtlpEnvironment(env: NodeJS.ProcessEnv = process.env): OtlpEnvironment {
  const get = (name: string) => {
    const value = env[`OTEL_EXPORTER_OTLP_METRICS_${name}`] ?? env[`OTEL_EXPORTER_OTLP_${name}`];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const out: OtlpEnvironment = {};
  const specific = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim();
  const generic = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // The signal-specific endpoint is used as is; the generic one gets the signal path appended.
  if (specific) out.url = specific;
  else if (generic) out.url = `${generic.replace(/\/+$/, '')}/v1/metrics`;
  if (specific || generic) out.grpcEndpoint = specific || generic;
  const headers = get('HEADERS');
  if (headers) out.headers = parseHeaders(headers);
  const timeout = get('TIMEOUT');
  if (timeout !== undefined && Number.isFinite(Number(timeout)))
    out.timeoutMillis = Number(timeout);
  const compression = get('COMPRESSION');
  if (compression) out.compression = compression.toLowerCase();
  const protocol = get('PROTOCOL');
  if (protocol) out.protocol = protocol.toLowerCase();
  out.certificateFile = get('CERTIFICATE');
  out.clientCertificateFile = get('CLIENT_CERTIFICATE');
  out.clientKeyFile = get('CLIENT_KEY');
  const temporality = env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE?.trim();
  if (temporality) out.temporalityPreference = temporality.toLowerCase();
  return out;
}

/** `key1=value1,key2=value2`, URL-encoded values, as the specification defines. */
export function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const key = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    try {
      headers[key] = decodeURIComponent(value);
    } catch {
      headers[key] = value;
    }
  }
  return headers;
}
