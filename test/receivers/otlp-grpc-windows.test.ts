import { mkdtempSync, rmSync } from 'node:fs';
import { type ClientHttp2Session, connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMetricsRequest, type MetricBatch } from '../../src/index.js';
import {
  GRPC_CONNECTION_WINDOW_BYTES,
  GRPC_STREAM_WINDOW_BYTES,
} from '../../src/net/grpc-unary-listener.js';
import { serverTlsSchema } from '../../src/net/tls-config.js';
import { OtlpGrpcReceiver } from '../../src/receivers/otlp/otlp-grpc-receiver.js';
import { counterBatch } from '../helpers/batches.js';
import { makePki } from '../helpers/certificates.js';
import { grpcFrame, rawExportCall } from '../helpers/raw-grpc.js';

// The OTLP/gRPC receiver's HTTP/2 receive windows: at HTTP/2's 64 KiB a sender of a 200 KB
// export waits for the receiver's WINDOW_UPDATE several times a message. What a client sees
// of the server's windows is read from its own session, before it sends anything.

const dir = mkdtempSync(join(tmpdir(), 'sluice-grpc-windows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function withReceiver(
  tls: boolean,
  run: (session: ClientHttp2Session, received: MetricBatch[]) => Promise<void>,
): Promise<void> {
  const pki = tls ? makePki(dir) : undefined;
  const received: MetricBatch[] = [];
  const receiver = new OtlpGrpcReceiver(
    {
      endpoint: '127.0.0.1:0',
      maxReceiveBytes: 8 * 1024 * 1024,
      retryAfterSeconds: 1,
      tls: pki
        ? serverTlsSchema.parse({ cert_file: pki.server.certFile, key_file: pki.server.keyFile })
        : undefined,
    },
    { consume: async (batch) => void received.push(batch) },
    pino({ level: 'silent' }),
  );
  await receiver.start();
  const session = pki
    ? connect(`https://${receiver.address}`, { ca: pki.ca, servername: 'localhost' })
    : connect(`http://${receiver.address}`);
  session.on('error', () => {});
  try {
    await run(session, received);
  } finally {
    session.close();
    await receiver.shutdown({ deadlineMs: 1_000 });
  }
}

/** The server's windows as the client sees them, once they are the widened ones (at most two seconds). */
async function windowsSeen(
  session: ClientHttp2Session,
): Promise<{ stream: number; connection: number }> {
  const seen = () => ({
    stream: session.remoteSettings?.initialWindowSize ?? 0,
    connection: session.state?.remoteWindowSize ?? 0,
  });
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline) {
    const now = seen();
    if (now.stream === GRPC_STREAM_WINDOW_BYTES && now.connection === GRPC_CONNECTION_WINDOW_BYTES)
      return now;
    await new Promise((r) => setTimeout(r, 10));
  }
  return seen();
}

describe('OTLP/gRPC receiver flow control', () => {
  for (const tls of [false, true]) {
    it(`lets a sender have a MiB in flight per call and more per connection${tls ? ' (TLS)' : ''}`, async () => {
      await withReceiver(tls, async (session, received) => {
        expect(await windowsSeen(session)).toEqual({
          stream: GRPC_STREAM_WINDOW_BYTES,
          connection: GRPC_CONNECTION_WINDOW_BYTES,
        });
        // A message many times HTTP/2's first window still arrives whole.
        const { batch } = counterBatch(30_000);
        const message = encodeMetricsRequest(batch);
        expect(message.length).toBeGreaterThan(16 * 65_535);
        expect(await rawExportCall(session, grpcFrame(message, false))).toBe('0');
        expect(received.reduce((n, b) => n + b.pointCount, 0)).toBe(batch.pointCount);
      });
    });
  }
});
