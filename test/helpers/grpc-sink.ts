import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { METRICS_EXPORT_METHOD } from '../../src/codec/protobuf/service.js';
import { encodeMetricsResponse } from '../../src/index.js';
import { countPoints } from './otlp-sink.js';
import { RefRequest } from './reference.js';
import { varint } from './varint.js';

export interface GrpcReply {
  code?: number;
  details?: string;
  /** `grpc-status-details-bin` trailer bytes (a google.rpc.Status). */
  statusDetails?: Uint8Array;
  rejected?: number;
}

/** A real OTLP/gRPC server on 127.0.0.1 that decodes requests and answers as `reply` says. */
export class GrpcSink {
  readonly ids: string[] = [];
  requests = 0;
  metadata: Metadata[] = [];
  reply: (index: number) => GrpcReply = () => ({});
  #server = new Server();
  port = 0;

  /** Listens on `port` (0: any free one); resolves with its URL. */
  async start(port = 0): Promise<string> {
    const identity = (value: Buffer) => value;
    this.#server.addService(
      {
        Export: {
          path: METRICS_EXPORT_METHOD,
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      },
      {
        Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
          const index = this.requests++;
          this.metadata.push(call.metadata);
          const reply = this.reply(index);
          if (reply.code !== undefined && reply.code !== status.OK) {
            const trailer = new Metadata();
            if (reply.statusDetails)
              trailer.set('grpc-status-details-bin', Buffer.from(reply.statusDetails));
            const error: Partial<ServiceError> = {
              code: reply.code,
              details: reply.details ?? '',
              metadata: trailer,
            };
            callback(error as ServiceError);
            return;
          }
          // Decoded with the reference definitions, not sluice's own decoder.
          const request = RefRequest.toObject(RefRequest.decode(call.request), { longs: String });
          this.ids.push(...countPoints(request).ids);
          callback(
            null,
            Buffer.from(
              encodeMetricsResponse({
                rejectedDataPoints: reply.rejected ?? 0,
                errorMessage: reply.rejected ? 'some refused' : '',
              }),
            ),
          );
        },
      },
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync(
        `127.0.0.1:${port}`,
        ServerCredentials.createInsecure(),
        (err, port) => (err ? reject(err) : resolve(port)),
      ),
    );
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve()));
    this.#server.forceShutdown();
  }
}

/** A google.rpc.Status { code, message, details: [Any(RetryInfo{retry_delay})] }. */
export function retryInfoStatus(code: number, seconds: number, nanos = 0): Uint8Array {
  const duration = [0x08, seconds, ...(nanos ? [0x10, ...varint(nanos)] : [])];
  const retryInfo = [0x0a, duration.length, ...duration];
  const typeUrl = Buffer.from('type.googleapis.com/google.rpc.RetryInfo');
  const any = [0x0a, typeUrl.length, ...typeUrl, 0x12, retryInfo.length, ...retryInfo];
  return Uint8Array.from([0x08, code, 0x1a, any.length, ...any]);
}
