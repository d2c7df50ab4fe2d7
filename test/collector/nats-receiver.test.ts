import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startCollector } from '../helpers/collectors.js';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('nats receiver without a server', () => {
  it('starts anyway (connecting in the background), reports not ready, shuts down cleanly', async () => {
    const port = await closedPort();
    const collector = await startCollector(`
receivers:
  nats:
    url: nats://127.0.0.1:${port}
exporters:
  debug: {}
service:
  pipelines:
    metrics: { receivers: [nats], exporters: [debug] }
`);
    await new Promise((r) => setTimeout(r, 300));
    expect(collector.ready).toBe(false);
    await collector.shutdown(2_000);
  });
});
