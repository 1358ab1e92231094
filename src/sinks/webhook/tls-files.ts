import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { WalhookError } from '../../core/errors.js';
import type { WebhookTls } from './target.js';

/** What a trigger's TLS files hold, as undici's connector takes it. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Files read and checked so far, by `tlsKey`: each setting is read once per process. */
const loaded = new Map<string, TlsMaterial>();

/** The identity of a TLS setting: targets naming the same files share their material and agent. */
export function tlsKey(tls: WebhookTls | null): string {
  if (tls === null) return '';
  return JSON.stringify([tls.caFile ?? null, tls.certFile ?? null, tls.keyFile ?? null]);
}

/** A setting's files, read on first use; throws the one-line WALHOOK_ERR_TLS_FILE naming trigger and key. */
export function readTls(trigger: string, tls: WebhookTls): TlsMaterial {
  const key = tlsKey(tls);
  let material = loaded.get(key);
  if (material === undefined) {
    material = readAndCheck(trigger, tls);
    loaded.set(key, material);
  }
  return material;
}

function readAndCheck(trigger: string, tls: WebhookTls): TlsMaterial {
  const fail = (key: string, path: string, problem: string) =>
    new WalhookError('WALHOOK_ERR_TLS_FILE', `trigger ${trigger}: tls.${key} ${path}: ${problem}`);
  const read = (key: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      // Node's message repeats the path ("ENOENT: no such file or directory, open '/x'"); it is named already.
      const reason = (err as Error).message.replace(/, \w+ '.*'$/, '');
      throw fail(key, path, `cannot read file: ${reason}; fix the path or the file's permissions`);
    }
  };
  const material: TlsMaterial = {};
  if (tls.caFile !== undefined) {
    material.ca = read('ca_file', tls.caFile);
    const problem = certificatesProblem(material.ca);
    if (problem !== null)
      throw fail('ca_file', tls.caFile, `${problem}; give the CA certificate(s) in PEM form`);
  }
  if (tls.certFile !== undefined && tls.keyFile !== undefined) {
    material.cert = read('cert_file', tls.certFile);
    material.key = read('key_file', tls.keyFile);
    const problem = certificatesProblem(material.cert);
    if (problem !== null)
      throw fail('cert_file', tls.certFile, `${problem}; give the client certificate in PEM form`);
    try {
      createPrivateKey(material.key);
    } catch (err) {
      throw fail(
        'key_file',
        tls.keyFile,
        `not a usable private key (${(err as Error).message}); give an unencrypted PEM key`,
      );
    }
    try {
      createSecureContext({ cert: material.cert, key: material.key });
    } catch (err) {
      throw fail(
        'key_file',
        tls.keyFile,
        `does not go with tls.cert_file ${tls.certFile} (${(err as Error).message}); give the key of that certificate`,
      );
    }
  }
  return material;
}

/** Why a PEM text is not a list of certificates, or null when it is one. */
function certificatesProblem(pem: string): string | null {
  const blocks = pem.match(PEM_CERTIFICATE);
  if (blocks === null) return 'no PEM certificate (-----BEGIN CERTIFICATE-----) in the file';
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return `certificate ${index + 1} of the file cannot be parsed (${(err as Error).message})`;
    }
  }
  return null;
}
