import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/**
 * The HTTP/2 receive windows of a gRPC receiver's connections: how much a sender may have in
 * flight on one call, and on one connection, before it waits for a WINDOW_UPDATE.
 *
 * HTTP/2 starts both at 64 KiB, and grpc-js's server keeps them there (it has no option for
 * it; grpc-node pull request 3058 adds one). An OTLP export is commonly 100 KiB to a few MiB,
 * so at 64 KiB a sender stops several times per message until the receiver's WINDOW_UPDATE
 * comes back — each a write and a wake-up on both sides. Measured on the collector benchmark
 * (OTLP/gRPC → batch → OTLP/HTTP, 1000-point requests of about 215 KB): 530-585k points/s at
 * 1.17-1.27 µs of CPU a point with 64 KiB, 760-850k at 0.9-1.03 µs with these. The Go
 * collector's gRPC server grows its windows to the bandwidth-delay product for the same reason.
 * They bound nothing the receiver keeps: grpc-js reads every call's data as it arrives, and a
 * message is still limited by `max_recv_msg_size_mib`.
 */
export const GRPC_STREAM_WINDOW_BYTES = 1024 * 1024;
export const GRPC_CONNECTION_WINDOW_BYTES = 4 * 1024 * 1024;

/** The grpc-js channel option that sets the stream window where grpc-js supports it. */
export const GRPC_FLOW_CONTROL_OPTION = {
  'grpc-node.flow_control_window': GRPC_STREAM_WINDOW_BYTES,
};

/**
 * Widens the receive windows of every connection `server` accepts from now on (call it right
 * after `bindAsync`). grpc-js does not expose its HTTP/2 servers, so this reads the field it
 * keeps them in; should a release rename it, the receiver keeps working with the 64 KiB
 * windows, and says so once at debug level.
 */
export function widenGrpcWindows(server: Server, logger: Logger): void {
  const http2Servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(http2Servers instanceof Map)) {
    logger.debug('grpc-js keeps its HTTP/2 servers elsewhere: OTLP/gRPC keeps 64 KiB windows');
    return;
  }
  for (const http2Server of http2Servers.keys() as Iterable<Http2Server>) {
    http2Server.on('session', (session: ServerHttp2Session) => widenSession(session, logger));
  }
}

function widenSession(session: ServerHttp2Session, logger: Logger): void {
  // A connection closed before it got here has nothing to widen.
  if (session.destroyed) return;
  try {
    session.settings({ initialWindowSize: GRPC_STREAM_WINDOW_BYTES });
    session.setLocalWindowSize(GRPC_CONNECTION_WINDOW_BYTES);
  } catch (err) {
    // A session closing meanwhile: the connection works, or ends, with the 64 KiB windows.
    logger.debug({ error: (err as Error).message }, 'could not widen an OTLP/gRPC connection');
  }
}
