import { connect, createServer, type Socket } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { requestBytes } from '../../src/model/byte-pool.js';
import { type BodyHandler, BodyListener } from '../../src/net/http1/body-listener.js';
import type { Reply } from '../../src/net/http1/reply.js';
import { parseRequestHead } from '../../src/net/http1/request-head.js';
import { readingInto } from '../../src/net/reading-into.js';

// The receivers' HTTP/1.1 listener, driven with raw bytes: framing, pipelining, the replies
// it makes itself, and closing. `test/fuzz/http1-requests.test.ts` checks it against Node's
// own parser.

const listeners: BodyListener[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.close('force');
});

interface Options {
  maxBodySize?: number;
  check?: BodyHandler['check'];
  handle?: BodyHandler['handle'];
  idle_timeout?: number;
  read_timeout?: number;
  read_header_timeout?: number;
}

/** A listener whose handler echoes `<method> <path> <body length> <body>`. */
async function listener(
  options: Options = {},
): Promise<{ port: number; listener: BodyListener; refusals: string[] }> {
  const refusals: string[] = [];
  const echo: BodyHandler['handle'] = async (head, body) => {
    const text = `${head.method} ${head.path} ${body.length} ${body.toString('latin1')}`;
    requestBytes.give(body);
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: text };
  };
  const made = new BodyListener(
    {
      endpoint: '127.0.0.1:0',
      endpointKey: 'test.endpoint',
      maxBodySize: options.maxBodySize ?? 1024,
      read_header_timeout: options.read_header_timeout ?? 5_000,
      read_timeout: options.read_timeout ?? 5_000,
      idle_timeout: options.idle_timeout ?? 5_000,
      logger: pino({ level: 'silent' }),
      onRefused: (reason) => refusals.push(reason),
    },
    {
      check: options.check ?? (() => undefined),
      tooLarge: (_head, message) => ({ status: 413, body: message }),
      handle: options.handle ?? echo,
    },
  );
  await made.start();
  listeners.push(made);
  return { port: Number(made.address.split(':').pop()), listener: made, refusals };
}

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw connection that collects responses as they come. */
class Client {
  readonly socket: Socket;
  readonly responses: Response[] = [];
  closed = false;
  /** Replies still to come that carry no body whatever their length says (to HEAD). */
  bodiless = 0;
  #buffer = Buffer.alloc(0);

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
    });
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  async until(count: number): Promise<Response[]> {
    await expect
      .poll(() => this.responses.length, { timeout: 3_000 })
      .toBeGreaterThanOrEqual(count);
    return this.responses;
  }

  async untilClosed(): Promise<Response[]> {
    await expect.poll(() => this.closed, { timeout: 3_000 }).toBe(true);
    return this.responses;
  }

  #parse(): void {
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number((head[0] as string).split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length =
        status >= 200 && this.bodiless > 0 ? 0 : Number(headers['content-length'] ?? 0);
      if (status >= 200 && this.bodiless > 0) this.bodiless--;
      if (this.#buffer.length < end + 4 + length) return;
      const body = this.#buffer.subarray(end + 4, end + 4 + length).toString('latin1');
      this.#buffer = this.#buffer.subarray(end + 4 + length);
      this.responses.push({ status, headers, body });
    }
  }
}

const post = (body: string, extra = '') =>
  `POST /v1/metrics HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;

describe('the receivers HTTP/1.1 listener', () => {
  it('reads bodies by length and in chunks, and answers pipelined requests in order', async () => {
    let first = true;
    const { port } = await listener({
      handle: async (head, body) => {
        // The first request is slow: the second must still be answered after it.
        if (first) {
          first = false;
          await new Promise((r) => setTimeout(r, 100));
        }
        const text = `${head.path} ${body.toString('latin1')}`;
        requestBytes.give(body);
        return { status: 200, body: text };
      },
    });
    const client = new Client(port);
    client.send(
      `${post('one')}POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\ntwo\r\n2\r\n!!\r\n0\r\nx-sum: 1\r\n\r\n${post('three')}`,
    );
    const responses = await client.until(3);
    expect(responses.map((r) => r.body)).toEqual([
      '/v1/metrics one',
      '/two two!!',
      '/v1/metrics three',
    ]);
    expect(responses.every((r) => r.status === 200 && r.headers.date !== undefined)).toBe(true);
    expect(client.closed).toBe(false);
  });

  it('reads a request that arrives a byte at a time', async () => {
    const { port } = await listener();
    const client = new Client(port);
    const bytes = Buffer.from(post('hello', 'X-A: 1\r\n'));
    for (const byte of bytes) {
      client.send(Buffer.of(byte));
      await new Promise((r) => setImmediate(r));
    }
    expect((await client.until(1))[0]?.body).toBe('POST /v1/metrics 5 hello');
  });

  it('answers Expect: 100-continue before the body, and only for a request it will read', async () => {
    const { port } = await listener({
      check: (head) => (head.path === '/refused' ? { status: 404, body: 'no' } : undefined),
    });
    const client = new Client(port);
    client.send(
      'POST /v1/metrics HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n',
    );
    const [interim] = await client.until(1);
    expect(interim?.status).toBe(100);
    client.send('ok');
    expect((await client.until(2))[1]?.body).toBe('POST /v1/metrics 2 ok');
    // Refused: no 100, and the connection closes (the body it waits to send will not come).
    client.send(
      'POST /refused HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n',
    );
    const all = await client.untilClosed();
    expect(all.slice(2).map((r) => [r.status, r.headers.connection])).toEqual([[404, 'close']]);
  });

  it('reads and drops the body of a request refused from its head, and goes on', async () => {
    const { port } = await listener({
      check: (head) => (head.path === '/full' ? { status: 429, body: 'full' } : undefined),
    });
    const client = new Client(port);
    client.send(
      `POST /full HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789${post('after')}`,
    );
    client.send(
      'POST /full HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n',
    );
    client.send(post('last'));
    const responses = await client.until(4);
    expect(responses.map((r) => [r.status, r.body])).toEqual([
      [429, 'full'],
      [200, 'POST /v1/metrics 5 after'],
      [429, 'full'],
      [200, 'POST /v1/metrics 4 last'],
    ]);
    expect(client.closed).toBe(false);
    // A skipped body that turns out malformed closes the connection without a second reply.
    client.send('POST /full HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    expect((await client.untilClosed()).map((r) => r.status)).toEqual([429, 200, 429, 200, 429]);
  });

  it('refuses a body over the limit, declared or chunked, with the handler reply, and closes', async () => {
    const { port } = await listener({ maxBodySize: 8 });
    const declared = new Client(port);
    declared.send(post('0123456789'));
    const [tooLong] = await declared.untilClosed();
    expect([tooLong?.status, tooLong?.body, tooLong?.headers.connection]).toEqual([
      413,
      'body of 10 bytes exceeds max_request_body_size 8',
      'close',
    ]);
    const chunked = new Client(port);
    chunked.send(
      'POST /v1/metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n',
    );
    chunked.send('5\r\n56789\r\n0\r\n\r\n');
    const [grown] = await chunked.untilClosed();
    expect([grown?.status, grown?.body]).toEqual([
      413,
      'body exceeds max_request_body_size 8 bytes',
    ]);
  });

  it.each([
    [
      'Content-Length and Transfer-Encoding both',
      'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n',
      400,
    ],
    ['Content-Length twice', 'Content-Length: 3\r\nContent-Length: 3\r\n', 400],
    ['a Content-Length that is not a number', 'Content-Length: 3x\r\n', 400],
    ['a transfer coding other than chunked', 'Transfer-Encoding: gzip, chunked\r\n', 501],
    ['a folded header line', 'X-A: 1\r\n  2\r\n', 400],
    ['whitespace before a colon', 'X-A : 1\r\n', 400],
    ['a bare LF', 'X-A: 1\nX-B: 2\r\n', 400],
    ['a control character in a value', 'X-A: 1\u00012\r\n', 400],
    ['Expect other than 100-continue', 'Expect: 200-ok\r\n', 417],
    ['a head over 16 KiB', `X-A: ${'a'.repeat(17_000)}\r\n`, 431],
  ])('refuses %s and closes', async (_what, fields, status) => {
    const { port, refusals } = await listener();
    const client = new Client(port);
    client.send(`POST /v1/metrics HTTP/1.1\r\nHost: x\r\n${fields}\r\nabc`);
    const [reply] = await client.untilClosed();
    expect(reply?.status).toBe(status);
    expect(reply?.body).toMatch(/\S/);
    expect(refusals).toEqual(['malformed_http']);
  });

  it.each([
    ['no Host', 'POST / HTTP/1.1\r\n\r\n', 400],
    ['HTTP/2.0', 'POST / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['an unknown method', 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n', 501],
    ['CONNECT', 'CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n', 501],
    ['an absolute target', 'POST http://x/ HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    [
      'a malformed chunk',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      400,
    ],
    [
      'Content-Length in a trailer',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nContent-Length: 5\r\n\r\n',
      400,
    ],
  ])('refuses %s', async (_what, request, status) => {
    const { port } = await listener();
    const client = new Client(port);
    client.send(request);
    const [reply] = await client.untilClosed();
    expect(reply?.status).toBe(status);
  });

  it('keeps HTTP/1.0 connections only when asked, and closes on Connection: close', async () => {
    const { port } = await listener();
    const old = new Client(port);
    old.send('POST /a HTTP/1.0\r\nContent-Length: 1\r\n\r\nx');
    expect((await old.untilClosed())[0]?.body).toBe('POST /a 1 x');
    const kept = new Client(port);
    kept.send('POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx');
    await kept.until(1);
    expect(kept.closed).toBe(false);
    const closing = new Client(port);
    closing.send(post('x', 'Connection: close\r\n'));
    const [reply] = await closing.untilClosed();
    expect(reply?.headers.connection).toBe('close');
  });

  it('answers HEAD with the length of a body it does not send', async () => {
    const { port } = await listener({
      check: (head) => (head.method === 'POST' ? undefined : { status: 405, body: 'use POST' }),
    });
    const client = new Client(port);
    client.bodiless = 1;
    client.send(`HEAD /v1/metrics HTTP/1.1\r\nHost: x\r\n\r\n${post('x')}`);
    // Had the 405's body been sent, it would have been read as the start of the next reply.
    const [refused, next] = await client.until(2);
    expect([refused?.status, refused?.headers['content-length'], refused?.body]).toEqual([
      405,
      '8',
      '',
    ]);
    expect([next?.status, next?.body]).toEqual([200, 'POST /v1/metrics 1 x']);
  });

  it('answers 500 and closes when its handler fails', async () => {
    const { port } = await listener({
      handle: async () => {
        throw new Error('a bug');
      },
    });
    const client = new Client(port);
    client.send(post('x'));
    const [reply] = await client.untilClosed();
    expect([reply?.status, reply?.headers.connection]).toEqual([500, 'close']);
  });

  it('closes after a reply the handler marks close', async () => {
    const { port } = await listener({
      handle: async (_head, body) => {
        requestBytes.give(body);
        return { status: 413, body: 'inflated too large', close: true };
      },
    });
    const client = new Client(port);
    client.send(post('x'));
    const [reply] = await client.untilClosed();
    expect([reply?.status, reply?.headers.connection]).toEqual([413, 'close']);
  });

  it('answers a client that half-closes after its request', async () => {
    const { port } = await listener({
      handle: async (_head, body) => {
        await new Promise((r) => setTimeout(r, 50));
        requestBytes.give(body);
        return { status: 200, body: 'late' };
      },
    });
    const client = new Client(port);
    client.socket.end(post('bye'));
    expect((await client.untilClosed())[0]?.body).toBe('late');
  });

  it('closes idle connections after idle_timeout, and 408s a body that stops coming', async () => {
    const { port, refusals } = await listener({
      idle_timeout: 200,
      read_header_timeout: 100,
      read_timeout: 300,
    });
    const idle = new Client(port);
    idle.send(post('x'));
    await idle.until(1);
    await idle.untilClosed();
    const stalled = new Client(port);
    stalled.send('POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234');
    const [reply] = await stalled.untilClosed();
    expect(reply?.status).toBe(408);
    // The idle close is no refusal; the late body is.
    expect(refusals).toEqual(['timeout']);
  });

  it('closes gracefully: the request under way is answered, then the connection closes', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const { port, listener: made } = await listener({
      handle: async (_head, body) => {
        await held;
        requestBytes.give(body);
        return { status: 200, body: 'done' } satisfies Reply;
      },
    });
    const busy = new Client(port);
    const idle = new Client(port);
    busy.send(post('x'));
    idle.send(post('y'));
    await expect.poll(() => made.listening).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    let closed = false;
    const closing = made.close('graceful').then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    release();
    await closing;
    const [reply] = await busy.untilClosed();
    expect([reply?.status, reply?.body, reply?.headers.connection]).toEqual([200, 'done', 'close']);
    await idle.untilClosed();
  });
});

describe('readingInto', () => {
  it("reads an accepted connection into the caller's buffer, and its server still closes", async () => {
    const buffer = Buffer.alloc(64);
    const reads: string[] = [];
    let moved: Socket | undefined;
    const server = createServer({ pauseOnConnect: true }, (accepted) => {
      // On this Node the handle moves: the listener's reads make no buffer of their own.
      moved = readingInto(accepted, buffer, (length, into) => {
        expect(into).toBe(buffer);
        reads.push(into.toString('latin1', 0, length));
      });
      moved?.end('bye');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    client.write('hello');
    const answer = await new Promise<string>((resolve) =>
      client.once('data', (d) => resolve(String(d))),
    );
    expect(answer).toBe('bye');
    await expect.poll(() => reads.join('')).toBe('hello');
    expect(moved).toBeDefined();
    client.destroy();
    moved?.destroy();
    // The accepted socket was counted out of the server: close does not wait for it.
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('parseRequestHead', () => {
  it('joins repeated fields, trims their whitespace, and finds the path', () => {
    const bytes = Buffer.from(
      'POST /v1/metrics?a=1 HTTP/1.1\r\nHost: x\r\nX-A:  1 \r\nx-a: 2\r\nContent-Length: 0\r\n\r\n',
    );
    const head = parseRequestHead(bytes, 0, bytes.length);
    expect([head.path, head.target, head.headers['x-a'], head.keepAlive]).toEqual([
      '/v1/metrics',
      '/v1/metrics?a=1',
      '1, 2',
      true,
    ]);
  });
});
