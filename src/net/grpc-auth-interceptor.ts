import {
  type Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';
import type { HeaderLookup, ServerAuthenticator } from '../model/auth.js';

/**
 * A gRPC server interceptor that checks a call's metadata when it arrives, before grpc-js
 * reads (and inflates) its message: a call without valid credentials is answered
 * `UNAUTHENTICATED` and its message is never read. `onRefused` gets the peer's address.
 */
export function grpcAuthInterceptor(
  authenticator: ServerAuthenticator,
  onRefused: (peer: string | undefined) => void,
): ServerInterceptor {
  return (_method, call: ServerInterceptingCallInterface) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            const refuse = () => {
              onRefused(call.getPeer());
              call.sendStatus({ code: status.UNAUTHENTICATED, details: 'unauthenticated' });
            };
            const verdict = authenticator.authenticate(metadataLookup(metadata));
            if (verdict === true) pass(metadata);
            else if (verdict === false) refuse();
            else verdict.then((ok) => (ok ? pass(metadata) : refuse()), refuse);
          },
        }),
    });
}

function metadataLookup(metadata: Metadata): HeaderLookup {
  return (name) => {
    const value = metadata.get(name)[0];
    return typeof value === 'string' ? value : undefined;
  };
}
