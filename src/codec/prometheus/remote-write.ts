import { DecodeError } from '../../model/errors.js';
import { readUtf8, utf8Length, writeUtf8 } from '../../model/utf8.js';
import { varint64Size, varintSize, writeVarint, writeVarint64 } from '../../model/wire.js';
import { WireReader } from '../../model/wire-reader.js';

/** Prometheus remote write 1.0 `WriteRequest` (prometheus/prompb), the parts sluice uses. */
export interface RemoteWriteSeries {
  labels: [string, string][];
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

/** Encodes a `WriteRequest` (for tests and the remote-write exporter). */
export function encodeWriteRequest(request: WriteRequest): Uint8Array {
  const parts: Uint8Array[] = [];
  const message = (tag: number, body: Uint8Array) => {
    const head = new Uint8Array(1 + varintSize(body.length));
    head[0] = tag;
    writeVarint(head, 1, body.length);
    return concat([head, body]);
  };
  const text = (tag: number, value: string) => {
    const n = utf8Length(value);
    const out = new Uint8Array(1 + varintSize(n) + n);
    out[0] = tag;
    writeUtf8(out, writeVarint(out, 1, n), value, n);
    return out;
  };
  for (const s of request.timeseries) {
    const body: Uint8Array[] = [];
    for (const [name, value] of s.labels)
      body.push(message(0x0a, concat([text(0x0a, name), text(0x12, value)])));
    for (const sample of s.samples) {
      const v = new Uint8Array(9);
      v[0] = 0x09;
      new DataView(v.buffer).setFloat64(1, sample.value, true);
      const lo = sample.timestampMs >>> 0;
      const hi = Math.floor(sample.timestampMs / 4294967296) >>> 0;
      const t = new Uint8Array(1 + varint64Size(lo, hi));
      t[0] = 0x10;
      writeVarint64(t, 1, lo, hi);
      body.push(message(0x12, concat([v, t])));
    }
    parts.push(message(0x0a, concat(body)));
  }
  for (const m of request.metadata) {
    const type = new Uint8Array([0x08, m.type]);
    parts.push(
      message(0x1a, concat([type, text(0x12, m.family), text(0x22, m.help), text(0x2a, m.unit)])),
    );
  }
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
