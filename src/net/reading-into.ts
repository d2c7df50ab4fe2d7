import { Socket } from 'node:net';

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
