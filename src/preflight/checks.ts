import { isWalhookError } from '../core/errors.js';
import type { ProbeResult } from '../sinks/plugin.js';
import { sinkPlugin, sinkTarget } from '../sinks/registry.js';
import { readTls } from '../sinks/webhook/tls-files.js';
import { qualifiedName } from '../source/tables.js';
import type { Check, Finding } from './runner.js';

/** Below either, an admin token is guessable enough to warn about (`openssl rand -hex 32` gives 64 and ~16). */
const ADMIN_TOKEN_MIN_LENGTH = 32;
const ADMIN_TOKEN_MIN_DISTINCT = 10;

export const configSummary: Check = {
  name: 'config',
  reach: 'local',
  scope: 'pipeline',
  run({ path, config }) {
    const tables = new Set(config.triggers.map((t) => qualifiedName(t.table)));
    const where = path === '' ? '' : `${path}: `;
    return [
      { level: 'ok', message: `${where}${config.triggers.length} trigger(s) on ${tables.size} table(s)` },
    ];
  },
};

/**
 * Every webhook trigger's TLS files can be read and hold what their key says, so a wrong path stops
 * start-up with one line instead of failing every delivery of the trigger into the dead-letter store.
 */
export const tlsFiles: Check = {
  name: 'tls files',
  reach: 'local',
  scope: 'pipeline',
  run({ config }) {
    const findings: Finding[] = [];
    for (const [i, trigger] of config.triggers.entries()) {
      const { sink } = trigger;
      if (sink.type !== 'webhook' || sink.tls === undefined) continue;
      const { ca_file, cert_file, key_file } = sink.tls;
      try {
        readTls(trigger.name, { caFile: ca_file, certFile: cert_file, keyFile: key_file });
      } catch (err) {
        if (!isWalhookError(err)) throw err;
        findings.push({ level: 'error', message: err.message, code: err.code });
        continue;
      }
      const keys = Object.keys(sink.tls).map((key) => `tls.${key}`);
      findings.push({
        level: 'ok',
        message: `triggers[${i}] (${trigger.name}): ${keys.join(', ')} readable, valid PEM`,
      });
    }
    return findings;
  },
};

/** The admin API's bearer token; it is never quoted, only measured. */
export const adminToken: Check = {
  name: 'admin token',
  reach: 'local',
  scope: 'process',
  run({ config }) {
    const token = config.server.admin_token;
    if (token === undefined) {
      return [
        {
          level: 'info',
          message:
            'server.admin_token is not set: the endpoints that change state (redelivery, purge, pause, resume) answer 401',
        },
      ];
    }
    const short = token.length < ADMIN_TOKEN_MIN_LENGTH;
    const repetitive = new Set(token).size < ADMIN_TOKEN_MIN_DISTINCT;
    if (!short && !repetitive) return [{ level: 'ok', message: 'server.admin_token is long and varied' }];
    return [
      {
        level: 'warn',
        message: `server.admin_token is weak: ${short ? `shorter than ${ADMIN_TOKEN_MIN_LENGTH} characters` : `fewer than ${ADMIN_TOKEN_MIN_DISTINCT} distinct characters`}`,
        fix: `make one with openssl rand -hex 32 and pass it from the environment or a file (\${WALHOOK_ADMIN_TOKEN}, \${file:/run/secrets/walhook-admin})`,
      },
    ];
  },
};

/**
 * Each trigger's sink takes connections, as its plugin probes it. Not reaching one is a warning:
 * receivers and brokers may start after walhook, which retries until they answer. Triggers sharing an
 * endpoint share its probe.
 */
export const sinksReachable: Check = {
  name: 'sinks',
  reach: 'sinks',
  scope: 'pipeline',
  async run({ config, probeTimeoutMs }) {
    const probes = new Map<string, Promise<ProbeResult>>();
    return Promise.all(
      config.triggers.map(async (trigger, i) => {
        const target = sinkTarget(trigger);
        const plugin = sinkPlugin(target.type);
        const key = `${target.type} ${plugin.probeKey(target)}`;
        let probe = probes.get(key);
        if (probe === undefined) {
          probe = plugin.probe(target, probeTimeoutMs);
          probes.set(key, probe);
        }
        const result = await probe;
        return { ...result, message: `triggers[${i}] (${trigger.name}): ${result.message}` };
      }),
    );
  },
};
