import { parseArgs } from 'node:util';
import { loadConfigs } from '../config/load.js';
import { WalhookError } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import { redactText } from '../core/redact.js';
import type { ReloadReport } from '../service/status.js';
import { configFile, parseUsage } from './args.js';

export interface ReloadOutput {
  line(text: string): void;
}

/**
 * `walhook reload [--config FILE] [--url URL]`: asks a running walhook (`POST /reload`) to read its
 * config again. The address and admin token come from FILE's `server` settings; with `--url` and no
 * config, the token comes from `$WALHOOK_ADMIN_TOKEN`. A FILE that does not load is reported here, and
 * the running walhook is not asked.
 */
export async function reloadCommand(args: string[], output: ReloadOutput): Promise<number> {
  const { values } = parseUsage(
    () => parseArgs({ args, options: { config: { type: 'string', short: 'c' }, url: { type: 'string' } } }),
    'reload: ',
  );
  let base = values.url;
  let token = process.env.WALHOOK_ADMIN_TOKEN || undefined;
  if (base === undefined || values.config !== undefined || process.env.WALHOOK_CONFIG) {
    const path = configFile(values.config);
    let first: Awaited<ReturnType<typeof loadConfigs>>[number] | undefined;
    try {
      [first] = await loadConfigs(path);
    } catch (err) {
      throw new WalhookError(
        'WALHOOK_ERR_CONFIG_RELOAD',
        `${(err as Error).message}; not reloaded (the running walhook keeps its config)`,
      );
    }
    const { host, port, admin_token } = first?.server ?? { host: '127.0.0.1', port: 9187 };
    // A service listening on every interface is reachable on loopback.
    const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    base ??= `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
    token = admin_token ?? token;
  }
  const url = `${(base as string).replace(/\/+$/, '')}/reload`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(60_000),
    });
    text = await response.text();
  } catch (err) {
    throw new WalhookError(
      'WALHOOK_ERR_SERVICE',
      `cannot reach walhook at ${redactText(url)}: ${(err as Error).message}; is walhook run running?`,
    );
  }
  let answer: Partial<ReloadReport> & { error?: string | null };
  try {
    answer = parseJson(text) as typeof answer;
  } catch {
    answer = { error: text.trim() };
  }
  if (response.status === 409) {
    output.line(`reload refused, the running config stays: ${answer.error ?? 'no reason given'}`);
    return 1;
  }
  if (!response.ok) {
    throw new WalhookError(
      'WALHOOK_ERR_SERVICE',
      `walhook answered POST /reload with HTTP ${response.status}: ${answer.error ?? text.trim()}`,
    );
  }
  const list = (names: string[] | undefined) => (names && names.length > 0 ? names.join(', ') : '-');
  output.line(
    `reloaded: added ${list(answer.added)}; removed ${list(answer.removed)}; changed ${list(answer.changed)}${
      answer.in_effect === false ? ' (takes effect when the stream reaches the reload point)' : ''
    }`,
  );
  return 0;
}
