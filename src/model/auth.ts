/** Reads one request header (HTTP) or metadata entry (gRPC) by its lower-case name. */
export type HeaderLookup = (name: string) => string | undefined;

/** The lookup of a request's headers as Node gives them (HTTP/1 and HTTP/2): the first of repeated ones. */
export function headerLookup(headers: Record<string, string | string[] | undefined>): HeaderLookup {
  return (name) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
}

/**
 * Checks the credentials of an incoming request (a receiver's, the scrape endpoint's, the
 * admin server's). It answers yes or no and nothing else: the caller must not tell a client
 * which part failed, and must not log the credentials.
 */
export interface ServerAuthenticator {
  authenticate(header: HeaderLookup): boolean | Promise<boolean>;
  /** The `WWW-Authenticate` value of a 401 (`Bearer`, `Basic realm="sluice"`). */
  readonly challenge?: string;
}

/** Adds credentials to outgoing requests (an exporter's). */
export interface ClientAuthenticator {
  /** The headers for the next request, read at each call: a token file may have changed. */
  headers(): Readonly<Record<string, string>>;
}

/**
 * An auth extension (`bearertokenauth`, `basicauth`): a server side, a client side, or both,
 * as in the Collector where one extension serves receivers and exporters alike.
 */
export interface AuthExtension {
  readonly serverAuthenticator?: ServerAuthenticator;
  readonly clientAuthenticator?: ClientAuthenticator;
}

export function isAuthExtension(value: object): value is AuthExtension {
  return 'serverAuthenticator' in value || 'clientAuthenticator' in value;
}

/** One listening socket and what protects it: the start-up check of exposed listeners. */
export interface ListenerProtection {
  /** What it serves, for the warning (`OTLP/HTTP`, `scrape endpoint`, `admin`). */
  readonly name: string;
  /** The bound address, `host:port`. */
  readonly address: string;
  readonly tls: boolean;
  readonly auth: boolean;
}
