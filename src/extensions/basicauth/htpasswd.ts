import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { UnusableFileError } from '../../model/errors.js';
import { secretsEqual } from '../../net/secrets-equal.js';

/** One user's password hash from an htpasswd file. */
type Hash = { kind: 'bcrypt'; hash: string } | { kind: 'sha1'; digest: string };

/**
 * An htpasswd file's users: bcrypt (`htpasswd -B`, `$2a$`, `$2b$`, `$2y$`) and SHA-1
 * (`{SHA}`). Apache's MD5 (`$apr1$`), crypt(3) and plain text are refused when the file is
 * read — a weak or ambiguous entry should fail loudly, not become a login that never works.
 */
export class Htpasswd {
  readonly #users: Map<string, Hash>;

  constructor(users: Map<string, Hash>) {
    this.#users = users;
  }

  /** Parses htpasswd text; errors name the source and line, never the hash. */
  static parse(text: string, source: string): Htpasswd {
    const users = new Map<string, Hash>();
    for (const [index, raw] of text.split(/\r?\n/).entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const colon = line.indexOf(':');
      const where = `${source} line ${index + 1}`;
      if (colon <= 0) throw new UnusableFileError(`${where}: expected user:hash`);
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1);
      if (/^\$2[aby]\$\d\d\$/.test(hash)) users.set(user, { kind: 'bcrypt', hash });
      else if (hash.startsWith('{SHA}')) users.set(user, { kind: 'sha1', digest: hash.slice(5) });
      else {
        throw new UnusableFileError(
          `${where}: the hash of user "${user}" is not bcrypt or {SHA}; create it with htpasswd -B`,
        );
      }
    }
    return new Htpasswd(users);
  }

  /** Merges several sources (file and inline); a later source's user wins. */
  static merge(parts: Htpasswd[]): Htpasswd {
    return new Htpasswd(new Map(parts.flatMap((part) => [...part.#users])));
  }

  get size(): number {
    return this.#users.size;
  }

  /** Whether `password` is `user`'s; bcrypt runs asynchronously, in chunks that yield. */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.#users.get(user);
    if (!hash) {
      // As slow as a real check: the answer time does not say whether the user exists.
      await bcrypt.compare(password, unknownUserHash());
      return false;
    }
    if (hash.kind === 'bcrypt') return bcrypt.compare(password, hash.hash);
    const digest = createHash('sha1').update(password).digest('base64');
    return secretsEqual(digest, hash.digest);
  }
}

let unknownUser: string | undefined;

/** A bcrypt hash at the usual cost of 10 that no password matches (made on first use). */
function unknownUserHash(): string {
  unknownUser ??= bcrypt.hashSync(randomBytes(16).toString('base64'), 10);
  return unknownUser;
}
