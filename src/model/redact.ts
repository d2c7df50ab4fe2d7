/** Config keys whose values are secrets wherever they appear. */
const SECRET_KEYS = 'token|password|bearer_token|inline|secret|client_secret|api_key|private_key';
const SECRET_KEY = new RegExp(`^(${SECRET_KEYS})$`, 'i');
/** Header names whose values carry credentials. */
const SECRET_HEADER = /auth|token|key|secret|cookie|password/i;
/** `scheme://user:password@host`: the password part of a URL's user info. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/:@\s]*:)[^@/\s]*@/gi;
/** `?p=...`, `&password=...`, `?token=...`: credentials in a URL's query. */
const QUERY_SECRET = /([?&](?:p|password|token|access_token|api_key)=)[^&#\s]*/gi;

export const REDACTED = '<redacted>';

/**
 * A copy of a config value (or part of one) safe to print: secret keys, credential headers
 * and passwords inside URLs replaced by `<redacted>`. `sluice validate` and the config
 * loader's messages show values through this, so a typo next to a token never prints it.
 */
export function redactSecrets(value: unknown, path: readonly string[] = []): unknown {
  const key = path.at(-1) ?? '';
  const secret = SECRET_KEY.test(key) || (path.at(-2) === 'headers' && SECRET_HEADER.test(key));
  if (secret && (value === null || typeof value !== 'object')) return REDACTED;
  if (typeof value === 'string')
    return value.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(QUERY_SECRET, `$1${REDACTED}`);
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, path));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value))
      out[name] = redactSecrets(item, [...path, name]);
    return out;
  }
  return value;
}

/** `token: value`, `password: "value"`, `authorization: value` as YAML writes them on a line. */
const SECRET_ON_LINE = new RegExp(
  `(\\b(?:${SECRET_KEYS}|authorization|x-api-key)["']?\\s*:\\s*)("[^"]*"|'[^']*'|[^\\s,}\\]#]+)`,
  'gi',
);

/**
 * Every secret of a config as the text it has in the file (numbers too), to take out of
 * anything that quotes the file: the values `redactSecrets` would hide.
 */
export function secretTexts(value: unknown, path: readonly string[] = []): string[] {
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([key, item]) => secretTexts(item, [...path, key]));
  if (value === null || value === undefined) return [];
  return redactSecrets(value, path) === REDACTED ? [String(value)] : [];
}

/**
 * A line of a config file safe to print beside an error: `secrets` (from `secretTexts`) and
 * whatever follows a secret key are replaced by `<redacted>`, and so are passwords in URLs.
 */
export function redactSourceLine(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join(REDACTED);
  out = out.replace(SECRET_ON_LINE, `$1${REDACTED}`);
  return String(redactSecrets(out));
}
