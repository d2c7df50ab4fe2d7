import { createServer as createNetServer, type Server, Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import type { ServerTls } from './server-tls.js';

/** Reads `bytes[start, end)`; `owned` says they are the reader's to keep (else reused after). */
export type ConnectionReader = (bytes: Buffer, start: number, end: number, owned: boolean) => void;

/**
 * The server of a listener that parses its connections' bytes itself (`BodyListener`,
 * `GrpcUnaryListener`): plain connections read into `readBuffer` (`readingInto`), TLS ones
 * (with `tls`, and `tlsOptions` such as ALPN) their TLS socket's pieces. `open` is given each
 * connection's socket and returns its reader, or undefined to close it (a listener closing).
 * A reader that throws (a bug: readers answer bad input themselves) has its connection
 * destroyed and the error given to `failed`, never to the process.
 */
export function readingServer(
  tls: ServerTls | undefined,
  tlsOptions: TlsOptions,
  readBuffer: Buffer,
  open: (socket: Socket) => ConnectionReader | undefined,
  failed: (error: Error, socket: Socket) => void,
): Server {
  const serve = (accepted: Socket, plain: boolean) => {
    let reader: ConnectionReader | undefined;
    const read = (bytes: Buffer, start: number, end: number, owned: boolean) => {
      try {
        reader?.(bytes, start, end, owned);
      } catch (err) {
        reader = undefined;
        socket.destroy();
        failed(err as Error, socket);
      }
    };
    const moved = plain
      ? readingInto(accepted, readBuffer, (length, buffer) => read(buffer, 0, length, false))
      : undefined;
    const socket = moved ?? accepted;
    reader = open(socket);
    if (!reader) {
      socket.destroy();
      return;
    }
    if (moved) return;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => read(chunk, 0, chunk.length, true));
    socket.resume();
  };
  if (!tls)
    return createNetServer({ pauseOnConnect: true, noDelay: true }, (socket) =>
      serve(socket, true),
    );
  const server = createTlsServer(
    { ...tls.contextOptions, ...tls.serverOptions, ...tlsOptions, noDelay: true },
    (socket) => serve(socket, false),
  );
  // A failed handshake's socket is left open once anyone listens for the failure.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  return server;
}

/**
 * The accepted connection `accepted` as a socket that reads into `buffer` (Node's `onread`),
 * calling `onRead` with each read's length: no buffer is made per read. Node offers
 * `onread` only to sockets it makes from a handle, so the accepted socket's handle is moved
 * to one (as Node's own `child_process` does with handles it is sent); the accepted socket,
 * left without it, is destroyed, which counts it out of its server. Undefined when this
 * Node's socket has no handle to move: the caller then reads `data` events.
 */
export function readingInto(
  accepted: Socket,
  buffer: Buffer,
  onRead: (length: number, buffer: Buffer) => void,
): Socket | undefined {
  const holder = accepted as unknown as { _handle?: { useUserBuffer?: unknown } | null };
  const handle = holder._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function') return undefined;
  holder._handle = null;
  accepted.destroy();
  const socket = new Socket({
    handle,
    allowHalfOpen: true,
    onread: { buffer, callback: onRead },
  } as ConstructorParameters<typeof Socket>[0]);
  socket.setNoDelay(true);
  return socket;
}
