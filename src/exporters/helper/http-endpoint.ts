import { Agent, request } from 'undici';
import type { ClientAuthenticator } from '../../model/auth.js';
import type { ClientTransport } from '../../net/client-tls.js';
import { successBody } from './http-status.js';

/**
 * One HTTP endpoint an exporter posts to: a keep-alive connection pool (undici) and the
 * headers every request carries. `post` resolves with a 2xx answer's body, or throws the
 * error class the status calls for (see `errorForHttpStatus`).
 */
export class HttpEndpoint {
  readonly #url: string | URL;
  readonly #headers: Record<string, string>;
  readonly #agent: Agent;
  readonly #auth: ClientAuthenticator | undefined;

  constructor(
    url: string | URL,
    headers: Record<string, string>,
    connections: number,
    transport: ClientTransport = {},
  ) {
    this.#url = url;
    this.#headers = { ...headers, 'user-agent': 'sluice' };
    this.#auth = transport.auth;
    this.#agent = new Agent({
      connections,
      keepAliveTimeout: 30_000,
      ...(transport.tls ? { connect: transport.tls } : {}),
    });
  }

  async post(
    body: Uint8Array | string,
    signal: AbortSignal,
  ): Promise<{ body: Uint8Array; contentType: string | undefined }> {
    const response = await request(this.#url, {
      method: 'POST',
      body,
      // An authenticator's headers are asked for each request: a token file may change.
      headers: this.#auth ? { ...this.#headers, ...this.#auth.headers() } : this.#headers,
      signal,
      dispatcher: this.#agent,
    });
    return successBody(response);
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
