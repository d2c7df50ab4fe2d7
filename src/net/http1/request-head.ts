import { SluiceError } from '../../model/errors.js';

/**
 * The head of an HTTP/1.x request (RFC 9112), parsed strictly: what a listener that takes
 * whole bodies needs to frame the body and route the request. Anything a lenient parser
 * would have to guess at is refused instead, since two parsers guessing differently on the
 * way in (a proxy and this) is how requests are smuggled: both Content-Length and
 * Transfer-Encoding, a repeated Content-Length, a transfer coding other than `chunked`, a
 * folded line, a bare CR or LF, whitespace before a colon.
 */
export interface RequestHead {
  readonly method: string;
  /** The request target as sent (`/v1/metrics?x=1`). */
  readonly target: string;
  /** The target's path: before any `?`. */
  readonly path: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: number;
  /**
   * Field values by lower-case name; a repeated field's values joined by `, ` (RFC 9110
   * §5.3), except the fields below that must not repeat.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The body's length when the request declares one; 0 when it has no body. */
  readonly contentLength: number;
  /** The body comes in chunks (`Transfer-Encoding: chunked`); `contentLength` is then 0. */
  readonly chunked: boolean;
  /** The connection stays open after this request's reply. */
  readonly keepAlive: boolean;
  /** The client waits for `100 Continue` before it sends the body. */
  readonly expectContinue: boolean;
}

/** A request this listener refuses to read on: the status to answer with, and why. */
export class HeadError extends SluiceError {
  readonly status: number;
  constructor(status: number, message: string) {
    // No stack: a refusal a client can cause by the thousand.
    super('SLUICE_ERR_BAD_REQUEST', message, { stack: false });
    this.status = status;
  }
}

/** Node's own limit on a head (`--max-http-header-size`), and one on the number of fields. */
export const MAX_HEAD_BYTES = 16 * 1024;
export const MAX_HEADER_FIELDS = 200;

/**
 * Fields a request may carry once. A second Host or Content-Length is a framing attack;
 * a second Authorization or Content-Type would be read differently by different parsers
 * (Node's keeps the first).
 */
const SINGLE = new Set([
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'authorization',
  'transfer-encoding',
  'expect',
]);

/**
 * The methods of RFC 9110 and PATCH, without CONNECT (a tunnel, never a body to take):
 * anything else is 501, as Node's parser refuses methods it does not know.
 */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH']);

/** `tchar` of RFC 9110 §5.6.2: what a method and a field name are made of. */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/**
 * Where the head starting at `start` ends (just past its empty line), or -1 when `bytes`
 * holds none yet. Leading empty lines are part of the head (RFC 9112 §2.2 lets a server
 * skip them), so a client's stray CRLF after a body does not make a request of its own.
 */
export function headEnd(bytes: Uint8Array, start: number, end: number, searched = 0): number {
  let from = start;
  while (from + 1 < end && bytes[from] === CR && bytes[from + 1] === LF) from += 2;
  // Bytes already searched (a head arriving in pieces) are not searched again.
  from = Math.max(from, start + searched - 3);
  for (let i = from + 3; i < end; i++) {
    if (bytes[i] === LF && bytes[i - 1] === CR && bytes[i - 2] === LF && bytes[i - 3] === CR)
      return i + 1;
  }
  return -1;
}

/** Parses the head in `bytes[start, end)` (`end` just past its empty line, as `headEnd` gives). */
export function parseRequestHead(bytes: Uint8Array, start: number, end: number): RequestHead {
  let at = start;
  while (at + 1 < end && bytes[at] === CR && bytes[at + 1] === LF) at += 2;
  // Request line: method SP target SP HTTP/1.x CRLF.
  const methodStart = at;
  while (at < end && TOKEN[bytes[at] as number]) at++;
  if (at === methodStart || bytes[at] !== SP) throw badRequest('a malformed request line');
  const method = latin1(bytes, methodStart, at);
  if (!METHODS.has(method)) throw new HeadError(501, `method ${method} not implemented`);
  const targetStart = ++at;
  while (at < end && (bytes[at] as number) > SP && (bytes[at] as number) < 0x7f) at++;
  // Origin form only (`/path?query`): what a client sends a server that is not a proxy.
  if (at === targetStart || bytes[at] !== SP || bytes[targetStart] !== 0x2f)
    throw badRequest('a malformed request target');
  const target = latin1(bytes, targetStart, at);
  at++;
  if (
    end - at < 10 ||
    bytes[at] !== 0x48 || // H
    bytes[at + 1] !== 0x54 || // T
    bytes[at + 2] !== 0x54 || // T
    bytes[at + 3] !== 0x50 || // P
    bytes[at + 4] !== 0x2f || // /
    !isDigit(bytes[at + 5]) ||
    bytes[at + 6] !== 0x2e || // .
    !isDigit(bytes[at + 7]) ||
    bytes[at + 8] !== CR ||
    bytes[at + 9] !== LF
  )
    throw badRequest('a malformed HTTP version');
  if (bytes[at + 5] !== 0x31 || (bytes[at + 7] !== 0x30 && bytes[at + 7] !== 0x31))
    throw new HeadError(505, 'HTTP version not supported: use HTTP/1.1');
  const minorVersion = (bytes[at + 7] as number) - 0x30;
  at += 10;

  const headers: Record<string, string> = Object.create(null);
  let fields = 0;
  // Field lines: name ":" OWS value OWS CRLF, up to the empty line.
  while (!(bytes[at] === CR && bytes[at + 1] === LF)) {
    if (at >= end) throw badRequest('a head without its empty line');
    if (++fields > MAX_HEADER_FIELDS)
      throw new HeadError(431, `more than ${MAX_HEADER_FIELDS} header fields`);
    const nameStart = at;
    while (at < end && TOKEN[bytes[at] as number]) at++;
    if (at === nameStart || bytes[at] !== COLON) {
      const c = bytes[at];
      throw badRequest(
        at === nameStart && (c === SP || c === HTAB)
          ? 'a folded header line (obsolete line folding is not accepted)'
          : 'a malformed header field name',
      );
    }
    const name = latin1(bytes, nameStart, at).toLowerCase();
    at++;
    while (bytes[at] === SP || bytes[at] === HTAB) at++;
    const valueStart = at;
    let valueEnd = at;
    for (;;) {
      if (at >= end) throw badRequest('a head without its empty line');
      const c = bytes[at] as number;
      if (c === CR) break;
      // Field content: visible characters, obs-text, and SP / HTAB inside.
      if ((c < SP && c !== HTAB) || c === 0x7f)
        throw badRequest(`a control character in header ${name}`);
      at++;
      if (c !== SP && c !== HTAB) valueEnd = at;
    }
    if (at + 1 >= end || bytes[at + 1] !== LF) throw badRequest(`a bare CR in header ${name}`);
    at += 2;
    const value = latin1(bytes, valueStart, valueEnd);
    const earlier = headers[name];
    if (earlier === undefined) headers[name] = value;
    else if (SINGLE.has(name)) throw badRequest(`header ${name} more than once`);
    else headers[name] = `${earlier}, ${value}`;
  }
  return frame(method, target, minorVersion, headers);
}

/** How the body is framed and whether the connection is kept, from the parsed fields. */
function frame(
  method: string,
  target: string,
  minorVersion: number,
  headers: Record<string, string>,
): RequestHead {
  if (minorVersion === 1 && headers.host === undefined) throw badRequest('no Host header');
  const transferEncoding = headers['transfer-encoding'];
  const declaredLength = headers['content-length'];
  let chunked = false;
  let contentLength = 0;
  if (transferEncoding !== undefined) {
    if (declaredLength !== undefined) throw badRequest('both Content-Length and Transfer-Encoding');
    if (minorVersion === 0) throw badRequest('Transfer-Encoding in an HTTP/1.0 request');
    if (transferEncoding.toLowerCase() !== 'chunked')
      throw new HeadError(
        501,
        `Transfer-Encoding "${transferEncoding}" not implemented: send chunked, or a Content-Length`,
      );
    chunked = true;
  } else if (declaredLength !== undefined) {
    if (!/^\d{1,15}$/.test(declaredLength)) throw badRequest('a malformed Content-Length');
    contentLength = Number(declaredLength);
  }
  const connection = headers.connection?.toLowerCase();
  const keepAlive =
    minorVersion === 1
      ? !hasToken(connection, 'close')
      : hasToken(connection, 'keep-alive') && !hasToken(connection, 'close');
  const expect = headers.expect;
  let expectContinue = false;
  if (expect !== undefined) {
    if (expect.toLowerCase() !== '100-continue')
      throw new HeadError(417, `Expect "${expect}" not supported`);
    expectContinue = minorVersion === 1;
  }
  const query = target.indexOf('?');
  return {
    method,
    target,
    path: query < 0 ? target : target.slice(0, query),
    minorVersion,
    headers,
    contentLength,
    chunked,
    keepAlive,
    expectContinue,
  };
}

function hasToken(list: string | undefined, token: string): boolean {
  if (list === undefined) return false;
  for (const part of list.split(',')) if (part.trim() === token) return true;
  return false;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.prototype.latin1Slice.call(bytes, start, end) as string;
}

/** A 400 saying what in the request was wrong. */
export function badRequest(what: string): HeadError {
  return new HeadError(400, `bad request: ${what}`);
}
