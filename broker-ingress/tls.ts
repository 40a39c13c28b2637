import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { BrokerError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * The ingress's serving certificate, read from two PEM files and read again when they change, so a
 * rotated certificate (cert-manager renewing a Secret, an operator replacing the files) is served
 * without a restart.
 *
 * Kubernetes updates a mounted Secret by swapping a `..data` symlink in the folder, and tools
 * replace files by rename, so we watch the folders, not the files: a watch on a file follows the
 * replaced inode and would miss both.
 */

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads and checks the pair (the key must match the certificate); CONFIG_INVALID says why not. */
export async function readTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readPem(files.certFile, '--tls-cert'), readPem(files.keyFile, '--tls-key')]);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new BrokerError('CONFIG_INVALID', `the TLS certificate ${files.certFile} and key ${files.keyFile} cannot be used together: ${(error as Error).message}`, {
      details: { certFile: files.certFile, keyFile: files.keyFile },
      cause: error,
    });
  }
  return { cert, key };
}

async function readPem(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new BrokerError('CONFIG_INVALID', `${flag} ${file} cannot be read (${code})`, { details: { file, errno: code }, cause: error });
  }
}

/** Quiet time after the last change before reading: a writer replaces the cert and the key one after the other. */
const SETTLE_MS = 150;

/**
 * Calls `apply` with the new pair each time the files change and still form a usable pair. A
 * half-written pair (new certificate, old key) is logged and skipped; the next change retries.
 * Returns a function that stops watching.
 */
export function watchTlsFiles(files: TlsFiles, apply: (material: TlsMaterial) => void, logger: Logger): () => void {
  const names = new Set([basename(files.certFile), basename(files.keyFile), '..data']);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const reload = (): void => {
    readTlsMaterial(files).then(
      (material) => {
        if (stopped) return;
        apply(material);
        logger.info({ certFile: files.certFile }, 'TLS certificate reloaded');
      },
      (error: unknown) => {
        if (!stopped) logger.warn({ certFile: files.certFile, keyFile: files.keyFile, err: error }, 'TLS files changed but cannot be loaded; still serving the previous certificate');
      },
    );
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(files.certFile), dirname(files.keyFile)])) {
    const watcher = watch(dir, (_event, name) => {
      if (name !== null && !names.has(name)) return;
      clearTimeout(timer);
      timer = setTimeout(reload, SETTLE_MS);
    });
    watcher.on('error', (error) => logger.warn({ dir, err: error }, 'cannot watch the TLS files; rotation needs a restart'));
    watchers.push(watcher);
  }
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
