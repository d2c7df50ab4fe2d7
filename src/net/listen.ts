import type { Server } from 'node:net';

/** Starts `server` listening on `host:port`; rejects with the bind error (a port in use). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
