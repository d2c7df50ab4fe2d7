import { connect } from 'node:http2';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerAuthenticator } from '../../src/model/auth.js';
import {
  type GrpcAnswer,
  GrpcStatus,
  GrpcUnaryListener,
  type GrpcUnaryListenerOptions,
} from '../../src/net/grpc-unary-listener.js';
import { HpackDecoder } from '../../src/net/http2/hpack.js';
import type { RefusalReason } from '../../src/net/refusal-log.js';
import {
  clientStart,
  HpackWriter,
  h2Frame,
  PREFACE,
  RawH2,
  rstStream,
  settings,
  windowUpdate,
} from '../helpers/h2-wire.js';
import { grpcFrame } from '../helpers/raw-grpc.js';

// sluice's HTTP/2 server side (H2Connection) under GrpcUnaryListener, spoken to frame by frame:
// what RFC 9113 asks of a server, and the bounds that keep a hostile client from costing more
// than it pays.

const METHOD = '/test.Service/Call';
const HEADERS = 0x1;
const DATA = 0x0;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

let listener: GrpcUnaryListener | undefined;
const clients: RawH2[] = [];
let refusals: RefusalReason[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await listener?.close(500);
  listener = undefined;
  refusals = [];
});

async function serve(
  handler: (message: Buffer) => Promise<GrpcAnswer> = async (message) => ({
    code: GrpcStatus.OK,
    response: Buffer.from(message),
  }),
  options: Partial<GrpcUnaryListenerOptions> = {},
): Promise<GrpcUnaryListener> {
  listener = new GrpcUnaryListener(
    {
      endpoint: '127.0.0.1:0',
      endpointKey: 'test.endpoint',
      method: METHOD,
      maxReceiveBytes: 1024 * 1024,
      logger: pino({ level: 'silent' }),
      onRefused: (reason) => refusals.push(reason),
      ...options,
    },
    handler,
  );
  await listener.start();
  return listener;
}

async function client(): Promise<RawH2> {
  const raw = await RawH2.connect((listener as GrpcUnaryListener).address);
  clients.push(raw);
  return raw;
}

const writer = () => new HpackWriter();
const plain = () => ({ how: 'without' as const, huffman: false });

function callHead(hpack: HpackWriter, extra: [string, string][] = []): Buffer {
  return hpack.block(
    [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', METHOD],
      [':authority', 'localhost'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ...extra,
    ],
    () => ({ how: 'incremental', huffman: true }),
  );
}

/** The status a stream was answered with: its grpc-status, or `:status` when not gRPC. */
function answerOf(raw: RawH2, stream: number): Record<string, string> {
  const decoder = new HpackDecoder();
  const fields: string[] = [];
  for (const frame of raw.frames) {
    if (frame.type !== HEADERS) continue;
    const out: string[] = [];
    decoder.decode(frame.payload, 0, frame.payload.length, out, 1 << 20);
    if (frame.stream === stream) fields.push(...out);
  }
  const answer: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) answer[fields[i]] = fields[i + 1];
  return answer;
}

function dataOf(raw: RawH2, stream: number): Buffer {
  return Buffer.concat(
    raw.frames.filter((f) => f.type === DATA && f.stream === stream).map((f) => f.payload),
  );
}

describe('H2Connection', () => {
  it('reads what node:http2 sends: Huffman-coded metadata, indexed from its table, call after call', async () => {
    const seen: Record<string, string>[] = [];
    const names = Array.from({ length: 30 }, (_, i) => `x-meta-${i}`);
    const authenticator: ServerAuthenticator = {
      authenticate: (lookup) => {
        seen.push(Object.fromEntries(names.map((name) => [name, lookup(name) ?? ''])));
        return true;
      },
    };
    await serve(undefined, { authenticator });
    const session = connect(`http://${(listener as GrpcUnaryListener).address}`);
    try {
      const sent: Record<string, string>[] = [];
      for (let call = 0; call < 5; call++) {
        const metadata: Record<string, string> = {};
        for (const name of names)
          metadata[name] =
            `${name}=${call % 2 ? 'same value each time' : Math.random().toString(36)}~!*()[]{}`;
        sent.push(metadata);
        const status = await new Promise<string>((resolve) => {
          const stream = session.request({
            ':method': 'POST',
            ':path': METHOD,
            'content-type': 'application/grpc',
            ...metadata,
          });
          let grpcStatus = 'none';
          stream.on('trailers', (t) => {
            grpcStatus = String(t['grpc-status']);
          });
          stream.on('close', () => resolve(grpcStatus));
          stream.resume();
          stream.end(grpcFrame(Buffer.from(`call ${call}`), false));
        });
        expect(status).toBe('0');
      }
      expect(seen).toEqual(sent);
    } finally {
      session.destroy();
    }
  });

  it('reads padded HEADERS and DATA, a priority, CONTINUATION frames and trailers', async () => {
    await serve();
    const raw = await client();
    const hpack = writer();
    const head = callHead(hpack);
    const padded = (payload: Buffer, pad: number) =>
      Buffer.concat([Buffer.from([pad]), payload, Buffer.alloc(pad)]);
    const message = grpcFrame(Buffer.from('padded, continued, trailed'), false);
    const priority = Buffer.from([0, 0, 0, 0, 16]);
    raw.send(
      clientStart(),
      h2Frame(
        HEADERS,
        PADDED | PRIORITY,
        1,
        padded(Buffer.concat([priority, head.subarray(0, 3)]), 7),
      ),
      h2Frame(CONTINUATION, 0, 1, head.subarray(3, 10)),
      h2Frame(CONTINUATION, END_HEADERS, 1, head.subarray(10)),
      h2Frame(DATA, PADDED, 1, padded(message.subarray(0, 4), 3)),
      h2Frame(DATA, 0, 1, message.subarray(4)),
      h2Frame(0x2, 0, 1, Buffer.from([0, 0, 0, 3, 1])), // PRIORITY
      h2Frame(0xfa, 0, 0, Buffer.from('an unknown frame type is ignored')),
      h2Frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack.block([['x-trailer', 'yes']], plain)),
    );
    await raw.until(() => answerOf(raw, 1)['grpc-status'] !== undefined, 'the answer');
    expect(answerOf(raw, 1)).toMatchObject({ ':status': '200', 'grpc-status': '0' });
    expect(dataOf(raw, 1).equals(message)).toBe(true);
    expect(raw.find(SETTINGS)).toBeDefined();
    // SETTINGS acknowledged.
    expect(raw.frames.some((f) => f.type === SETTINGS && f.flags === 1)).toBe(true);
  });

  it('answers PING with its payload, and holds an answer until the client opens its window', async () => {
    await serve();
    const raw = await client();
    const hpack = writer();
    const message = grpcFrame(Buffer.alloc(100, 7), false);
    // The client's streams start with a window of 0: nothing may be sent on them yet.
    raw.send(
      clientStart([[0x4, 0]]),
      h2Frame(PING, 0, 0, Buffer.from('pingpong')),
      h2Frame(HEADERS, END_HEADERS, 1, callHead(hpack)),
      h2Frame(DATA, END_STREAM, 1, message),
    );
    await raw.until(() => answerOf(raw, 1)[':status'] === '200', 'the head');
    const ping = raw.frames.find((f) => f.type === PING);
    expect(ping?.flags).toBe(1);
    expect(ping?.payload.toString()).toBe('pingpong');
    await new Promise((r) => setTimeout(r, 50));
    expect(dataOf(raw, 1).length).toBe(0);
    raw.send(windowUpdate(1, 60));
    await raw.until(() => dataOf(raw, 1).length === 60, '60 bytes');
    expect(answerOf(raw, 1)['grpc-status']).toBeUndefined();
    raw.send(windowUpdate(1, 1000));
    await raw.until(() => answerOf(raw, 1)['grpc-status'] === '0', 'the trailers');
    expect(dataOf(raw, 1).equals(message)).toBe(true);
  });

  it('resets a malformed request (counted, with the reason) and serves the next', async () => {
    await serve();
    const raw = await client();
    const hpack = writer();
    const bad: [string, string][][] = [
      [['X-Upper', 'a']],
      [['connection', 'keep-alive']],
      [['te', 'gzip']],
      [['x-space', ' leading']],
      [['x-control', 'a\u0017b']],
      [['content-length', '5']], // and 18 bytes of DATA follow
    ];
    raw.send(clientStart());
    let id = 1;
    for (const fields of bad) {
      raw.send(
        h2Frame(HEADERS, END_HEADERS, id, callHead(hpack, fields)),
        h2Frame(DATA, END_STREAM, id, grpcFrame(Buffer.from('thirteen byte'), false)),
      );
      id += 2;
    }
    // An :authority outside its grammar, then no :path at all.
    raw.send(
      h2Frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        id,
        hpack.block(
          [
            [':method', 'POST'],
            [':scheme', 'http'],
            [':path', METHOD],
            [':authority', 'local{host}'],
          ],
          plain,
        ),
      ),
    );
    id += 2;
    raw.send(
      h2Frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        id,
        hpack.block(
          [
            [':method', 'POST'],
            [':scheme', 'http'],
          ],
          plain,
        ),
      ),
    );
    id += 2;
    raw.send(
      h2Frame(HEADERS, END_HEADERS, id, callHead(hpack)),
      h2Frame(DATA, END_STREAM, id, grpcFrame(Buffer.from('fine'), false)),
    );
    await raw.until(() => answerOf(raw, id)['grpc-status'] === '0', 'the good call');
    for (let s = 1; s < id; s += 2) expect(raw.errorCode(s), `stream ${s}`).toBe(0x1);
    expect(refusals.filter((r) => r === 'malformed_http').length).toBe(8);
    expect(raw.find(GOAWAY)).toBeUndefined();
  });

  it('ends the connection with GOAWAY for a connection error, saying which', async () => {
    await serve();
    const cases: [string, Buffer[], number][] = [
      ['first frame not SETTINGS', [PREFACE, h2Frame(PING, 0, 0, Buffer.alloc(8))], 0x1],
      ['a frame over 16 KiB', [clientStart(), h2Frame(0xfa, 0, 0, Buffer.alloc(16385))], 0x6],
      ['DATA on an idle stream', [clientStart(), h2Frame(DATA, 0, 5, Buffer.alloc(4))], 0x1],
      [
        'HEADERS on an even stream',
        [clientStart(), h2Frame(HEADERS, END_HEADERS, 2, Buffer.from([0x82]))],
        0x1,
      ],
      [
        'a block that is not HPACK',
        [clientStart(), h2Frame(HEADERS, END_HEADERS, 1, Buffer.from([0x80]))],
        0x9,
      ],
      [
        'a CONTINUATION alone',
        [clientStart(), h2Frame(CONTINUATION, END_HEADERS, 1, Buffer.from([0x82]))],
        0x1,
      ],
      ['a PUSH_PROMISE', [clientStart(), h2Frame(0x5, END_HEADERS, 1, Buffer.alloc(4))], 0x1],
      ['a WINDOW_UPDATE of 0', [clientStart(), windowUpdate(0, 0)], 0x1],
      [
        'a stream depending on itself',
        [clientStart(), h2Frame(0x2, 0, 1, Buffer.from([0, 0, 0, 1, 0]))],
        0x1,
      ],
      [
        'a PING acknowledgement unasked',
        [clientStart(), h2Frame(PING, 0x1, 0, Buffer.alloc(8))],
        0x1,
      ],
      ['a window past 2^31-1', [clientStart(), windowUpdate(0, 0x7fffffff)], 0x3],
      ['SETTINGS_MAX_FRAME_SIZE too small', [clientStart(), settings([[0x5, 100]])], 0x1],
      [
        'DATA after trailers refused for their fields (the client had ended the stream)',
        [
          clientStart(),
          h2Frame(HEADERS, END_HEADERS, 1, callHead(writer())),
          // Trailers with the name "X": refused, the stream reset.
          h2Frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            Buffer.from([0x00, 0x01, 0x58, 0x01, 0x79]),
          ),
          h2Frame(DATA, 0, 1, Buffer.alloc(4)),
        ],
        0x5,
      ],
      [
        'DATA after END_STREAM',
        [
          clientStart(),
          // :method POST, :scheme http, :path /, :authority x
          h2Frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            Buffer.from([0x83, 0x86, 0x84, 0x41, 0x01, 0x78]),
          ),
          h2Frame(DATA, 0, 1, Buffer.alloc(4)),
        ],
        0x5,
      ],
      [
        'a header block cut by another frame',
        [
          clientStart(),
          h2Frame(HEADERS, 0, 1, Buffer.from([0x82])),
          h2Frame(PING, 0, 0, Buffer.alloc(8)),
        ],
        0x1,
      ],
    ];
    for (const [what, bytes, code] of cases) {
      const raw = await client();
      raw.send(...bytes);
      await raw.until(() => raw.find(GOAWAY) !== undefined, `GOAWAY for ${what}`);
      expect(raw.errorCode(0), what).toBe(code);
      await raw.until(() => raw.closed, `the close after ${what}`);
    }
    // The refused trailers count once more.
    expect(refusals.filter((r) => r === 'malformed_http').length).toBe(cases.length + 1);
  });

  it('closes a connection that sends no preface in time, and counts it', async () => {
    await serve(undefined, { prefaceTimeoutMs: 200 });
    const silent = await client();
    const started = Date.now();
    await silent.until(() => silent.closed, 'the close', 3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(refusals).toEqual(['timeout']);
    // Half a preface is no preface either.
    const slow = await client();
    slow.send(PREFACE.subarray(0, 10));
    await slow.until(() => slow.closed, 'the close', 3000);
    expect(refusals).toEqual(['timeout', 'timeout']);
  });

  it('answers an HTTP/1.1 request on the gRPC port with 505 and why', async () => {
    await serve();
    const raw = await client();
    raw.send(Buffer.from('POST /v1/metrics HTTP/1.1\r\nhost: x\r\n\r\n'));
    await raw.until(() => raw.closed, 'the close');
    expect(raw.text).toMatch(/^HTTP\/1.1 505 /);
    expect(raw.text).toContain('gRPC over HTTP/2');
    expect(refusals).toEqual(['malformed_http']);
  });

  it('bounds a header block spread over CONTINUATION frames (the CONTINUATION flood)', async () => {
    await serve();
    const raw = await client();
    raw.send(clientStart(), h2Frame(HEADERS, 0, 1, Buffer.from([0x82])));
    let sent = 0;
    while (!raw.closed && sent < 2_000) {
      raw.send(h2Frame(CONTINUATION, 0, 1, Buffer.alloc(16_000, 0x82)));
      sent++;
      if (sent % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await raw.until(() => raw.find(GOAWAY) !== undefined, 'GOAWAY');
    expect(raw.errorCode(0)).toBe(0xb); // ENHANCE_YOUR_CALM
    expect(sent).toBeLessThan(100);
  });

  it('refuses streams past 100 at once, counting reset ones whose work goes on (rapid reset)', async () => {
    const lookups: (() => void)[] = [];
    const authenticator: ServerAuthenticator = {
      authenticate: () =>
        new Promise<boolean>((resolve) => {
          lookups.push(() => resolve(true));
        }),
    };
    await serve(undefined, { authenticator });
    const raw = await client();
    const hpack = writer();
    raw.send(clientStart());
    // 100 calls whose lookups hang, each reset by the client at once.
    for (let id = 1; id <= 199; id += 2)
      raw.send(h2Frame(HEADERS, END_HEADERS, id, callHead(hpack)), rstStream(id, 0x8));
    raw.send(h2Frame(HEADERS, END_HEADERS, 201, callHead(hpack)));
    await raw.until(() => raw.errorCode(201) !== undefined, 'the refusal of stream 201');
    expect(raw.errorCode(201)).toBe(0x7); // REFUSED_STREAM
    expect(lookups.length).toBe(100);
    // Once the lookups are done, streams are taken again.
    for (const done of lookups) done();
    await new Promise((r) => setTimeout(r, 20));
    raw.send(
      h2Frame(HEADERS, END_HEADERS, 203, callHead(hpack)),
      h2Frame(DATA, END_STREAM, 203, grpcFrame(Buffer.from('after'), false)),
    );
    await new Promise((r) => setTimeout(r, 20));
    lookups[100]?.();
    await raw.until(() => answerOf(raw, 203)['grpc-status'] === '0', 'stream 203 answered');
  });

  it('answers a head past the list size 431, and stays in step for the next call', async () => {
    await serve();
    const raw = await client();
    const hpack = writer();
    // 34 KB of fields, 27 KB coded: a HEADERS and a CONTINUATION.
    const head = callHead(hpack, [
      ['x-big', 'b'.repeat(17_000)],
      ['x-big2', 'c'.repeat(17_000)],
    ]);
    raw.send(
      clientStart(),
      h2Frame(HEADERS, END_STREAM, 1, head.subarray(0, 16_000)),
      h2Frame(CONTINUATION, END_HEADERS, 1, head.subarray(16_000)),
    );
    await raw.until(() => answerOf(raw, 1)[':status'] !== undefined, 'the 431');
    expect(answerOf(raw, 1)[':status']).toBe('431');
    raw.send(
      h2Frame(HEADERS, END_HEADERS, 3, callHead(hpack)),
      h2Frame(DATA, END_STREAM, 3, grpcFrame(Buffer.from('next'), false)),
    );
    await raw.until(() => answerOf(raw, 3)['grpc-status'] === '0', 'the next call');
  });

  it('closes a connection whose own code throws (a bug), logs it, and keeps serving', async () => {
    const logged: string[] = [];
    let calls = 0;
    const authenticator: ServerAuthenticator = {
      authenticate: () => {
        calls++;
        if (calls === 1) throw new Error('an authenticator bug');
        return true;
      },
    };
    await serve(undefined, {
      authenticator,
      logger: pino({ level: 'error' }, { write: (line: string) => logged.push(line) }),
    });
    const first = await client();
    const hpack = writer();
    first.send(
      clientStart(),
      h2Frame(HEADERS, END_HEADERS, 1, callHead(hpack)),
      h2Frame(DATA, END_STREAM, 1, grpcFrame(Buffer.from('x'), false)),
    );
    await first.until(() => first.closed, 'the close');
    expect(logged.join('')).toContain('an authenticator bug');
    const second = await client();
    const again = writer();
    second.send(
      clientStart(),
      h2Frame(HEADERS, END_HEADERS, 1, callHead(again)),
      h2Frame(DATA, END_STREAM, 1, grpcFrame(Buffer.from('y'), false)),
    );
    await second.until(() => answerOf(second, 1)['grpc-status'] === '0', 'the next call');
  });

  it('closes a connection that floods PINGs and reads none of the answers', async () => {
    await serve();
    const raw = await client();
    raw.socket.pause();
    raw.send(clientStart());
    const pings = Buffer.concat(
      Array.from({ length: 10_000 }, () => h2Frame(PING, 0, 0, Buffer.alloc(8))),
    );
    for (let i = 0; i < 200 && !raw.closed; i++) {
      raw.socket.write(pings);
      await new Promise((r) => setImmediate(r));
    }
    await raw.until(() => raw.closed, 'the close', 10_000);
  });
});
