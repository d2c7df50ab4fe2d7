import { ErrorCode, Http2Error } from './frames.js';
import type { FieldList } from './hpack.js';

/** A request's head as its header block gave it, checked (RFC 9113 §8.2, §8.3). */
export interface RequestFields {
  method: string;
  path: string;
  scheme: string;
  authority: string | undefined;
  /** Regular fields by name; a name sent twice has its values joined with `, `. */
  headers: Record<string, string>;
  /** `content-length`, or -1 when not sent. */
  contentLength: number;
}

/** A lowercase token character (RFC 9110 tchar without the uppercase letters). */
const NAME_CHAR = (() => {
  const table = new Uint8Array(128);
  for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") table[c.charCodeAt(0)] = 1;
  return table;
})();

/** Fields of HTTP/1.1's connection management, which HTTP/2 forbids (RFC 9113 §8.2.2). */
const CONNECTION_FIELDS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The request in `fields`, or a stream error (PROTOCOL_ERROR) naming what makes it malformed:
 * a name that is not a lowercase token, a value with a control character (but HTAB) or whitespace at either
 * end, a pseudo-field unknown, repeated, or after a regular field, a missing `:method`,
 * `:scheme` or `:path`, neither `:authority` nor `host`, a connection-specific field, `te` other than `trailers`, or a
 * `content-length` that is not one number.
 */
export function requestFields(fields: FieldList, stream: number): RequestFields {
  const request: Partial<RequestFields> & { headers: Record<string, string> } = {
    headers: {},
    contentLength: -1,
  };
  let regularSeen = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    checkValue(name, value, stream);
    if (name.startsWith(':')) {
      if (regularSeen) throw malformed(`the pseudo-field ${name} after a regular field`, stream);
      const key = PSEUDO[name];
      if (key === undefined) throw malformed(`the pseudo-field ${name}`, stream);
      if (request[key] !== undefined) throw malformed(`${name} twice`, stream);
      request[key] = value;
      continue;
    }
    regularSeen = true;
    checkName(name, stream);
    if (CONNECTION_FIELDS.has(name)) throw malformed(`the connection field ${name}`, stream);
    if (name === 'te' && value !== 'trailers')
      throw malformed(`te: ${value} (only "trailers" is allowed)`, stream);
    if (name === 'content-length') {
      if (!/^[0-9]{1,15}$/.test(value) || (request.contentLength ?? -1) >= 0)
        throw malformed(`content-length: ${value}`, stream);
      request.contentLength = Number(value);
    }
    const before = request.headers[name];
    request.headers[name] =
      before === undefined ? value : `${before}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  const { method, scheme, path, authority } = request;
  if (method === undefined) throw malformed('no :method', stream);
  // The pseudo-fields' grammars, as nghttp2 checks them: a value no parser may read two ways.
  if (!METHOD.test(method)) throw malformed(`the :method ${JSON.stringify(method)}`, stream);
  if (scheme !== undefined && !SCHEME.test(scheme))
    throw malformed(`the :scheme ${JSON.stringify(scheme)}`, stream);
  if (authority !== undefined && !AUTHORITY.test(authority))
    throw malformed(`the :authority ${JSON.stringify(authority)}`, stream);
  if (path !== undefined && !(PATH.test(path) || (path === '*' && method === 'OPTIONS')))
    throw malformed(`the :path ${JSON.stringify(path)}`, stream);
  if (method === 'CONNECT') {
    if (scheme !== undefined || path !== undefined || request.authority === undefined)
      throw malformed('a CONNECT without :authority alone', stream);
  } else if (scheme === undefined || path === undefined || path === '') {
    throw malformed(scheme === undefined ? 'no :scheme' : 'no :path', stream);
  } else if (request.authority === undefined && request.headers.host === undefined) {
    // As nghttp2 (node:http2) reads RFC 9113 §8.3.1: a request names its authority.
    throw malformed('neither :authority nor host', stream);
  }
  return request as RequestFields;
}

/** Trailers: regular fields only, checked as a request's are. */
export function checkTrailers(fields: FieldList, stream: number): void {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (name.startsWith(':')) throw malformed(`the pseudo-field ${name} in trailers`, stream);
    checkName(name, stream);
    checkValue(name, fields[i + 1], stream);
    if (CONNECTION_FIELDS.has(name)) throw malformed(`the connection field ${name}`, stream);
  }
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+\-.]*$/;
/** RFC 3986's authority: unreserved, sub-delims, `:`, `@`, `[`, `]` and percent escapes. */
const AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;
/** An origin-form path: from `/`, visible ASCII only. */
const PATH = /^\/[!-~]*$/;

const PSEUDO: Record<string, 'method' | 'scheme' | 'path' | 'authority'> = {
  ':method': 'method',
  ':scheme': 'scheme',
  ':path': 'path',
  ':authority': 'authority',
};

function checkName(name: string, stream: number): void {
  if (name.length === 0) throw malformed('an empty field name', stream);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] === 0)
      throw malformed(`the field name ${JSON.stringify(name)} (not a lowercase token)`, stream);
  }
}

function checkValue(name: string, value: string, stream: number): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // RFC 9113 forbids NUL, CR and LF; nghttp2 drops a field with any control character but
    // HTAB, and a field one side drops and the other reads is a field read two ways.
    if ((c < 0x20 && c !== 0x09) || c === 0x7f)
      throw malformed(`a control character in the value of ${name}`, stream);
  }
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09)
    throw malformed(`whitespace at an end of the value of ${name}`, stream);
}

/** A stream error (PROTOCOL_ERROR) for a request RFC 9113 calls malformed. */
export function malformed(what: string, stream: number): Http2Error {
  return new Http2Error(ErrorCode.PROTOCOL_ERROR, `a malformed request: ${what}`, stream);
}
