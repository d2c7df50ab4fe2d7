import { STATUS_CODES } from 'node:http';

/** A whole reply: what a `BodyListener`'s handler answers a request with. */
export interface Reply {
  status: number;
  /** Field names in lower case; values must not hold CR or LF. */
  headers?: Readonly<Record<string, string>>;
  body?: Uint8Array | string;
  /** Close the connection once the reply is out. */
  close?: boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * `reply` as bytes to write: status line, `date`, its fields, `content-length` (and
 * `connection: close` when `close`), and the body unless `withoutBody` (a reply to HEAD), in
 * one buffer (one write, one packet for the usual small reply).
 */
export function replyBytes(reply: Reply, close: boolean, withoutBody = false): Buffer {
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : (reply.body ?? EMPTY);
  let head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Unknown'}\r\ndate: ${httpDate()}\r\n`;
  const headers = reply.headers;
  if (headers) for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  head += `content-length: ${body.length}\r\n${close ? 'connection: close\r\n' : ''}\r\n`;
  if (withoutBody) return Buffer.from(head, 'latin1');
  const out = Buffer.allocUnsafe(head.length + body.length);
  const written = out.write(head, 0, 'latin1');
  out.set(body, written);
  return out;
}

let dateSecond = -1;
let dateText = '';

/** The `date` field's value, made once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}
