/**
 * OTLP/JSON scalar forms (the protobuf JSON mapping as the OTLP specification narrows it):
 * 64-bit integers as decimal strings, doubles as numbers or "NaN" / "Infinity" / "-Infinity",
 * bytes as base64 except trace and span ids, which are hex.
 */
export function formatDouble(value: number): string {
  if (Number.isFinite(value)) return Object.is(value, -0) ? '-0' : String(value);
  return Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"';
}

export function formatString(text: string): string {
  return JSON.stringify(text);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
