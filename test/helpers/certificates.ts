import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A test CA and certificates it signed, made with `openssl` in `dir` (valid for a day). */
export interface TestPki {
  dir: string;
  caFile: string;
  ca: Buffer;
  server: Issued;
  client: Issued;
}

export interface Issued {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A CA named `name` in `dir` (files `<name>.pem`, `<name>.key`). */
export function makeCa(dir: string, name = 'ca'): { file: string; pem: Buffer } {
  openssl(dir, [
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '1',
    '-subj',
    `/CN=sluice test ${name}`,
  ]);
  return { file: join(dir, `${name}.pem`), pem: readFileSync(join(dir, `${name}.pem`)) };
}

/**
 * A certificate for `127.0.0.1`/`localhost` (server) or a client, signed by CA `ca` in
 * `dir`; `name` names the files, so several can be issued (a rotated certificate).
 */
export function issue(dir: string, name: string, role: 'server' | 'client', ca = 'ca'): Issued {
  openssl(dir, [
    'req',
    ...KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    role === 'server'
      ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
      : 'extendedKeyUsage=clientAuth\n',
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '1',
    '-extfile',
    ext,
  ]);
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

/** A CA with one server and one client certificate. */
export function makePki(dir: string): TestPki {
  const ca = makeCa(dir);
  return {
    dir,
    caFile: ca.file,
    ca: ca.pem,
    server: issue(dir, 'server', 'server'),
    client: issue(dir, 'client', 'client'),
  };
}
