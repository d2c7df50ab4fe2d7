import pino from 'pino';
import { type CollectorConfig, nestedBlocks } from '../collector/config/load-config.js';
import { clientTlsOptions } from '../net/client-tls.js';
import { ServerTls } from '../net/server-tls.js';
import type { ClientTlsConfig, ServerTlsConfig } from '../net/tls-config.js';

/**
 * What `sluice validate` checks beyond the config's shape: every certificate, key and CA a
 * `tls` block names can be read and makes a usable certificate (a key that fits), and every
 * auth extension's token or htpasswd file reads. Returns the problems, each with its key
 * path and the file named — never a file's content.
 */
export async function checkTlsAndAuthFiles(config: CollectorConfig): Promise<string[]> {
  const problems: string[] = [];
  for (const { key, value } of nestedBlocks(config, 'tls')) {
    const tls = value as Record<string, unknown>;
    try {
      if ('key_file' in tls && 'reload_interval' in tls) {
        // A listener's: the pair must make a working certificate.
        new ServerTls({ ...(tls as ServerTlsConfig), reload_interval: 0 }, () => {}).close();
      } else if (tls.enabled !== false) {
        clientTlsOptions(tls as ClientTlsConfig, key);
      }
    } catch (err) {
      problems.push(`${key}: ${(err as Error).message}`);
    }
  }
  const silent = pino({ enabled: false });
  for (const [id, entry] of config.extensions) {
    if (entry.type !== 'bearertokenauth' && entry.type !== 'basicauth') continue;
    const extension = entry.create({ id, logger: silent });
    try {
      await extension.start();
    } catch (err) {
      problems.push(`extensions.${id}: ${(err as Error).message}`);
    } finally {
      await extension.shutdown({ deadlineMs: 0 });
    }
  }
  return problems;
}
