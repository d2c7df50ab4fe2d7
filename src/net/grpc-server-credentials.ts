import { ServerCredentials } from '@grpc/grpc-js';
import type { ServerTls } from './server-tls.js';

/**
 * gRPC server credentials over a `ServerTls`: grpc-js takes the context options at bind
 * and swaps in each reloaded certificate (`updateSecureContextOptions` calls the server's
 * `setSecureContext`), which `ServerCredentials.createSsl` cannot do.
 */
class ReloadingServerCredentials extends ServerCredentials {
  constructor(tls: ServerTls) {
    super(tls.serverOptions, tls.contextOptions);
    tls.onReload((options) => this.updateSecureContextOptions(options));
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/** Plain text without `tls`, else TLS (mutual when the config names a client CA). */
export function grpcServerCredentials(tls: ServerTls | undefined): ServerCredentials {
  return tls ? new ReloadingServerCredentials(tls) : ServerCredentials.createInsecure();
}
