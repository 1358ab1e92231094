import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { isWalhookError } from '../../src/core/errors.js';
import { readTls } from '../../src/sinks/webhook/tls-files.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';

let pki: TestPki;

before(() => {
  pki = makeTestPki();
});

/** The one-line message of the WALHOOK_ERR_TLS_FILE that reading the files of trigger `orders` throws. */
function problem(tls: { ca_file?: string; cert_file?: string; key_file?: string }): string {
  try {
    readTls('orders', { caFile: tls.ca_file, certFile: tls.cert_file, keyFile: tls.key_file });
  } catch (err) {
    assert.ok(isWalhookError(err, 'WALHOOK_ERR_TLS_FILE'), String(err));
    assert.equal(err.exitCode, 2);
    assert.doesNotMatch(err.message, /\n/);
    return err.message;
  }
  assert.fail('expected WALHOOK_ERR_TLS_FILE');
}

test('good files are read once per setting', () => {
  const files = { caFile: pki.ca.certFile, certFile: pki.client.certFile, keyFile: pki.client.keyFile };
  const material = readTls('orders', files);
  assert.deepEqual(material, { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key });
  assert.equal(readTls('other', files), material, 'the same files are the same material');
});

test('a missing file names the trigger, the key and the path', () => {
  const missing = join(pki.dir, 'nope.pem');
  assert.equal(
    problem({ ca_file: missing }),
    `trigger orders: tls.ca_file ${missing}: cannot read file: ENOENT: no such file or directory; fix the path or the file's permissions`,
  );
});

test('a file that is no PEM certificate, a broken certificate, a key that is no key', () => {
  const text = join(pki.dir, 'text.pem');
  writeFileSync(text, 'not a certificate\n');
  assert.match(
    problem({ ca_file: text }),
    /^trigger orders: tls\.ca_file .*text\.pem: no PEM certificate .*; give the CA certificate\(s\) in PEM form$/,
  );
  const broken = join(pki.dir, 'broken.pem');
  writeFileSync(broken, `${pki.ca.cert}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
  assert.match(
    problem({ ca_file: broken }),
    /tls\.ca_file .*broken\.pem: certificate 2 of the file cannot be parsed/,
  );
  assert.match(
    problem({ cert_file: pki.client.certFile, key_file: pki.client.certFile }),
    /^trigger orders: tls\.key_file .*client\.crt: not a usable private key .*; give an unencrypted PEM key$/,
  );
});

test('a key that belongs to another certificate', () => {
  assert.match(
    problem({ cert_file: pki.client.certFile, key_file: pki.stranger.keyFile }),
    /^trigger orders: tls\.key_file .*stranger\.key: does not go with tls\.cert_file .*client\.crt \(.*\); give the key of that certificate$/,
  );
});
