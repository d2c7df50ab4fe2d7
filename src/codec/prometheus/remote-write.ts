import { DecodeError } from '../../model/errors.js';
import { readUtf8, utf8Length, writeUtf8 } from '../../model/utf8.js';
import { varint64Size, varintSize, writeVarint, writeVarint64 } from '../../model/wire.js';
import { WireReader } from '../../model/wire-reader.js';

/** Prometheus remote write 1.0 `WriteRequest` (prometheus/prompb), the parts sluice uses. */
export interface RemoteWriteSeries {
  labels: [string, string][];
  /**
   * `labels` already encoded (`encodeLabels`), for a producer that sends the same series
   * again and again: the encoder copies these bytes instead of encoding every label.
   */
  labelBytes?: Uint8Array;
  samples: { value: number; timestampMs: number }[];
}

export interface RemoteWriteMetadata {
  /** 0 unknown, 1 counter, 2 gauge, 3 histogram, 4 gauge histogram, 5 summary, 6 info, 7 stateset. */
  type: number;
  family: string;
  help: string;
  unit: string;
}

export interface WriteRequest {
  timeseries: RemoteWriteSeries[];
  metadata: RemoteWriteMetadata[];
}

/** Decodes a (decompressed) `WriteRequest`; malformed bytes throw `DecodeError`. */
export function decodeWriteRequest(bytes: Uint8Array): WriteRequest {
  const reader = new WireReader(bytes);
  const end = bytes.length;
  const out: WriteRequest = { timeseries: [], metadata: [] };
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    if (tag === 0x0a) out.timeseries.push(series(reader, reader.delimited(end), bytes));
    else if (tag === 0x1a) out.metadata.push(metadata(reader, reader.delimited(end), bytes));
    else reader.skip(tag & 7, end);
  }
  return out;
}

function series(reader: WireReader, end: number, bytes: Uint8Array): RemoteWriteSeries {
  const out: RemoteWriteSeries = { labels: [], samples: [] };
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    if (tag === 0x0a) {
      const stop = reader.delimited(end);
      let name = '';
      let value = '';
      while (reader.pos < stop) {
        const t = reader.varint32(stop);
        if (t === 0x0a || t === 0x12) {
          const s = reader.delimited(stop);
          const text = readUtf8(bytes, reader.pos, s);
          reader.pos = s;
          if (t === 0x0a) name = text;
          else value = text;
        } else reader.skip(t & 7, stop);
      }
      out.labels.push([name, value]);
    } else if (tag === 0x12) {
      const stop = reader.delimited(end);
      let value = 0;
      let timestampMs = 0;
      while (reader.pos < stop) {
        const t = reader.varint32(stop);
        if (t === 0x09) value = reader.double(stop);
        else if (t === 0x10) {
          reader.varint64(stop);
          timestampMs = (reader.hi | 0) * 4294967296 + reader.lo;
        } else reader.skip(t & 7, stop);
      }
      out.samples.push({ value, timestampMs });
    } else reader.skip(tag & 7, end);
  }
  return out;
}

function metadata(reader: WireReader, end: number, bytes: Uint8Array): RemoteWriteMetadata {
  const out: RemoteWriteMetadata = { type: 0, family: '', help: '', unit: '' };
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    if (tag === 0x08) out.type = reader.varint32(end);
    else if (tag === 0x12 || tag === 0x22 || tag === 0x2a) {
      const stop = reader.delimited(end);
      const text = readUtf8(bytes, reader.pos, stop);
      reader.pos = stop;
      if (tag === 0x12) out.family = text;
      else if (tag === 0x22) out.help = text;
      else out.unit = text;
    } else reader.skip(tag & 7, end);
  }
  if (out.type > 7)
    throw new DecodeError(reader.pos, 'a MetricMetadata type from 0 to 7', `got ${out.type}`);
  return out;
}

/**
 * Encodes a `WriteRequest` in two passes (sizes, then bytes into one buffer), without an
 * intermediate array per label or sample: the remote-write exporter's hot path.
 */
export function encodeWriteRequest(request: WriteRequest): Uint8Array {
  const seriesSizes = new Array<number>(request.timeseries.length);
  let total = 0;
  for (let t = 0; t < request.timeseries.length; t++) {
    const size = seriesSize(request.timeseries[t]);
    seriesSizes[t] = size;
    total += 1 + varintSize(size) + size;
  }
  const metadataSizes = request.metadata.map(metadataSize);
  for (const size of metadataSizes) total += 1 + varintSize(size) + size;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (let t = 0; t < request.timeseries.length; t++) {
    const s = request.timeseries[t];
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, seriesSizes[t]);
    if (s.labelBytes) {
      out.set(s.labelBytes, pos);
      pos += s.labelBytes.length;
    } else pos = writeLabels(out, pos, s.labels);
    for (const sample of s.samples) {
      const lo = sample.timestampMs >>> 0;
      const hi = Math.floor(sample.timestampMs / 4294967296) >>> 0;
      out[pos++] = 0x12;
      pos = writeVarint(out, pos, 10 + varint64Size(lo, hi));
      out[pos++] = 0x09;
      view.setFloat64(pos, sample.value, true);
      pos += 8;
      out[pos++] = 0x10;
      pos = writeVarint64(out, pos, lo, hi);
    }
  }
  for (let k = 0; k < request.metadata.length; k++) {
    const m = request.metadata[k];
    out[pos++] = 0x1a;
    pos = writeVarint(out, pos, metadataSizes[k]);
    out[pos++] = 0x08;
    out[pos++] = m.type;
    pos = writeText(out, pos, 0x12, m.family, utf8Length(m.family));
    pos = writeText(out, pos, 0x22, m.help, utf8Length(m.help));
    pos = writeText(out, pos, 0x2a, m.unit, utf8Length(m.unit));
  }
  return out;
}

/** A series' labels as the `labels` fields of a `TimeSeries` message (see `labelBytes`). */
export function encodeLabels(labels: [string, string][]): Uint8Array {
  const out = new Uint8Array(labelsSize(labels));
  writeLabels(out, 0, labels);
  return out;
}

function writeLabels(out: Uint8Array, start: number, labels: [string, string][]): number {
  let pos = start;
  for (const [name, value] of labels) {
    const nameLength = utf8Length(name);
    const valueLength = utf8Length(value);
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, labelSize(nameLength, valueLength));
    pos = writeText(out, pos, 0x0a, name, nameLength);
    pos = writeText(out, pos, 0x12, value, valueLength);
  }
  return pos;
}

function labelsSize(labels: [string, string][]): number {
  let size = 0;
  for (const [name, value] of labels) {
    const body = labelSize(utf8Length(name), utf8Length(value));
    size += 1 + varintSize(body) + body;
  }
  return size;
}

function seriesSize(s: RemoteWriteSeries): number {
  let size = s.labelBytes ? s.labelBytes.length : labelsSize(s.labels);
  for (const sample of s.samples) {
    const lo = sample.timestampMs >>> 0;
    const hi = Math.floor(sample.timestampMs / 4294967296) >>> 0;
    const body = 10 + varint64Size(lo, hi);
    size += 1 + varintSize(body) + body;
  }
  return size;
}

function labelSize(nameLength: number, valueLength: number): number {
  return 2 + varintSize(nameLength) + nameLength + varintSize(valueLength) + valueLength;
}

function metadataSize(m: RemoteWriteMetadata): number {
  const text = (value: string) => {
    const n = utf8Length(value);
    return 1 + varintSize(n) + n;
  };
  return 2 + text(m.family) + text(m.help) + text(m.unit);
}

function writeText(
  out: Uint8Array,
  pos: number,
  tag: number,
  value: string,
  length: number,
): number {
  out[pos++] = tag;
  const at = writeVarint(out, pos, length);
  writeUtf8(out, at, value, length);
  return at + length;
}
