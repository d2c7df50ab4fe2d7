import { createRequire } from 'node:module';

/**
 * The independent reference: protobufjs code generated from the official opentelemetry-proto
 * definitions, as shipped by @opentelemetry/otlp-transformer 0.57 (dev dependency only).
 */
const require = createRequire(import.meta.url);
const root = require('otlp-transformer-057/build/src/generated/root.js');

const v1 = root.opentelemetry.proto.collector.metrics.v1;
export const RefRequest = v1.ExportMetricsServiceRequest;
export const RefResponse = v1.ExportMetricsServiceResponse;

export function refEncode(object: unknown): Uint8Array {
  const message = RefRequest.fromObject(object);
  const err = RefRequest.verify(message);
  if (err) throw new Error(`reference rejects generated request: ${err}`);
  return RefRequest.encode(message).finish();
}

/** Decodes with the reference and renders a canonical, comparable form. */
export function refCanonical(bytes: Uint8Array): string {
  const message = RefRequest.decode(bytes);
  const object = RefRequest.toObject(message, {
    longs: String,
    enums: Number,
    bytes: String,
    defaults: true,
    arrays: true,
    objects: true,
    oneofs: true,
  });
  return canonicalJson(object);
}

/** JSON where -0, NaN and ±Infinity stay distinguishable. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'number') {
      if (Object.is(v, -0)) return '<-0>';
      if (!Number.isFinite(v)) return `<${v}>`;
    }
    return v;
  });
}

/** The path and values of the first difference between two canonical JSON texts, or undefined. */
export function firstDifference(actual: string, expected: string): string | undefined {
  const walk = (a: unknown, b: unknown, path: string): string | undefined => {
    if (
      typeof a !== typeof b ||
      Array.isArray(a) !== Array.isArray(b) ||
      (a === null) !== (b === null)
    ) {
      return `${path}: ${JSON.stringify(a)?.slice(0, 200)} != ${JSON.stringify(b)?.slice(0, 200)}`;
    }
    if (a !== null && typeof a === 'object') {
      const ao = a as Record<string, unknown>;
      const bo = b as Record<string, unknown>;
      const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
      for (const key of keys) {
        const diff = walk(ao[key], bo[key], `${path}.${key}`);
        if (diff) return diff;
      }
      return undefined;
    }
    return a === b ? undefined : `${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`;
  };
  return walk(JSON.parse(actual), JSON.parse(expected), '$');
}
