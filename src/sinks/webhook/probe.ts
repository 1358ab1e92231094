import { connect as connectTcp, isIP } from 'node:net';
import { connect as connectTls, TLSSocket } from 'node:tls';
import type { ProbeResult } from '../plugin.js';
import type { WebhookTarget } from './target.js';
import { readTls, type TlsMaterial } from './tls-files.js';

const PROBE_TIMEOUT_MS = 3_000;
/** Under TLS 1.3 a refused client certificate shows only after the handshake: wait this long for the alert. */
const ALERT_WAIT_MS = 300;

/**
 * Whether a webhook receiver takes connections: TCP, and for https the TLS handshake with the
 * trigger's files and the verification deliveries use. No HTTP request is sent, so the receiver has
 * nothing to act on.
 */
export async function probeWebhook(
  target: Pick<WebhookTarget, 'trigger' | 'url' | 'tls'>,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProbeResult> {
  const url = new URL(target.url);
  const https = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || (https ? 443 : 80));
  const where = `webhook ${url.hostname}:${port}`;
  let material: TlsMaterial = {};
  try {
    if (https && target.tls !== null) material = readTls(target.trigger, target.tls);
  } catch (err) {
    // What is wrong with the files is reported by the TLS files check, which names them.
    const code = (err as { code?: string }).code ?? 'unreadable';
    return { level: 'warn', message: `${where} not probed: its TLS files cannot be used (${code})` };
  }
  return new Promise((resolve) => {
    const socket = https
      ? connectTls({ host, port, ...material, ...(isIP(host) === 0 ? { servername: host } : {}) })
      : connectTcp({ host, port });
    const done = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => done({ level: 'warn', message: `${where} did not answer within ${timeoutMs} ms`, fix: DOWN }),
      timeoutMs,
    );
    const ok = { level: 'ok', message: `${where} reachable${https ? ', TLS handshake ok' : ''}` } as const;
    socket.on('error', (err: NodeJS.ErrnoException) => done(failure(where, err)));
    socket.once(https ? 'secureConnect' : 'connect', () => {
      if (!(socket instanceof TLSSocket) || socket.getProtocol() !== 'TLSv1.3') return done(ok);
      // The server's session ticket means it accepted us; its alert comes through 'error' instead.
      socket.once('session', () => done(ok));
      setTimeout(() => done(ok), ALERT_WAIT_MS).unref();
    });
  });
}

const DOWN =
  "start the receiver or correct the trigger's webhook URL; until it answers, deliveries are retried and then dead-lettered";

function failure(where: string, err: NodeJS.ErrnoException): ProbeResult {
  const code = err.code ?? '';
  // Node's TLS messages start with OpenSSL's error-queue prefix; the code says the same in words.
  const text = err.message.replace(/^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:/, '');
  const message = code === '' || text.includes(code) ? text : `${text} (${code})`;
  if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE/.test(code)) {
    return {
      level: 'warn',
      message: `${where} refused the TLS handshake: ${message}`,
      fix: 'set tls.cert_file and tls.key_file to a client certificate the receiver accepts',
    };
  }
  if (/CERT|UNABLE_TO|SELF_SIGNED|HOSTNAME|ALTNAME/.test(code)) {
    return {
      level: 'warn',
      message: `${where}: the receiver's certificate does not verify: ${message}`,
      fix: "set tls.ca_file to the CA that signed the receiver's certificate, or use the host name it names",
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { level: 'warn', message: `${where}: host not found (${code})`, fix: DOWN };
  }
  return { level: 'warn', message: `${where} not reachable: ${message}`, fix: DOWN };
}
