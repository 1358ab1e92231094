import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { isWalhookError } from '../../src/core/errors.js';
import { parseConfig } from '../helpers/config.js';

// The static side of deploy/: how the files fit each other and walhook. What needs a tool or a running
// walhook (the Dockerfile's steps, promtool, kubectl, systemd-analyze, Prometheus) is in
// test/integration/deploy.test.ts.

const ROOT = resolve(import.meta.dirname, '../..');
const DEPLOY = join(ROOT, 'deploy');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
const DATASOURCE_VARIABLE = '${datasource}';

/** The highest peak RSS measured (README: the 2,000,000-row transaction), which limits must cover. */
const PEAK_RSS_MIB = 237;

// biome-ignore lint/suspicious/noExplicitAny: compose files are arbitrary YAML, checked key by key
type Service = Record<string, any>;

const compose = parse(read('deploy/compose.yaml')) as { services: Record<string, Service> };
const services = compose.services;

/** A compose service's environment, written as a map in compose.yaml. */
function environment(service: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]));
}

/** `source:target[:mode]` bind mounts of a service, source resolved against deploy/ (compose's directory). */
function binds(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? [])
    .map((volume: string) => volume.split(':'))
    .filter(([source]: string[]) => source?.startsWith('.'))
    .map(([source, target]: string[]) => ({ source: resolve(DEPLOY, source as string), target }));
}

function bindAt(service: Service, target: string): string {
  const bind = binds(service).find((b) => b.target === target);
  assert.ok(bind, `a bind mount at ${target}`);
  return bind.source;
}

/** compose durations such as `20s` or `1m30s`, in seconds. */
function seconds(duration: string): number {
  let total = 0;
  for (const [, value, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(value) * { h: 3600, m: 60, s: 1, ms: 0.001 }[unit as 'h' | 'm' | 's' | 'ms'];
  }
  return total;
}

const composeConfig = () =>
  parseConfig(
    read('deploy/walhook.example.yaml'),
    'walhook.example.yaml',
    environment(services.walhook ?? {}),
  );

test('compose: Postgres with logical WAL, walhook with the example config, receiver, Prometheus, Grafana', () => {
  assert.deepEqual(Object.keys(services).sort(), [
    'grafana',
    'postgres',
    'prometheus',
    'receiver',
    'walhook',
  ]);
  const { postgres, walhook, receiver, prometheus, grafana } = services as Record<string, Service>;
  assert.ok(postgres && walhook && receiver && prometheus && grafana);
  assert.ok(postgres.command.join(' ').includes('wal_level=logical'));

  for (const service of Object.values(services)) {
    for (const { source } of binds(service))
      assert.ok(existsSync(source), `bind mount source ${source} exists`);
  }
  assert.ok(existsSync(resolve(DEPLOY, walhook.build.context, walhook.build.dockerfile)), 'the Dockerfile');
  assert.equal(bindAt(walhook, '/etc/walhook/walhook.yaml'), join(DEPLOY, 'walhook.example.yaml'));
  assert.ok(
    bindAt(postgres, '/docker-entrypoint-initdb.d/10-walhook.sh').endsWith('postgres-init.sh'),
    'the role and the example table are created on first start',
  );

  // The example config needs nothing but the service's environment, and fits the other services.
  const config = composeConfig();
  assert.equal(config.server.host, '0.0.0.0', 'reachable from the other containers');
  assert.ok(
    walhook.ports.some((p: string) => p.endsWith(`:${config.server.port}`)),
    'the port is published',
  );
  assert.ok(
    seconds(walhook.stop_grace_period) > config.shutdown_grace_sec,
    'stop grace above shutdown grace',
  );
  const database = new URL(config.source.connection);
  assert.equal(database.hostname, 'postgres');
  assert.equal(database.username, 'walhook');
  assert.equal(
    database.password,
    environment(postgres).WALHOOK_DB_PASSWORD,
    'the password the init script sets',
  );
  assert.equal(database.pathname, `/${environment(postgres).POSTGRES_DB}`);
  for (const trigger of config.triggers) {
    assert.ok(trigger.sink.type === 'webhook', `${trigger.name} delivers to the receiver`);
    const url = new URL(trigger.sink.url);
    assert.equal(url.hostname, 'receiver', trigger.name);
    assert.equal(url.port, environment(receiver).PORT, trigger.name);
  }
  assert.ok(receiver.command.join(' ').includes('receiver.mjs'));
  assert.ok(existsSync(join(bindAt(receiver, '/receiver'), 'receiver.mjs')));

  // Prometheus reads this directory's prometheus.yml, which scrapes the walhook service.
  const promDir = bindAt(prometheus, '/etc/prometheus');
  assert.ok(prometheus.command.includes('--config.file=/etc/prometheus/prometheus.yml'));
  const promConfig = parse(readFileSync(join(promDir, 'prometheus.yml'), 'utf8'));
  const targets = promConfig.scrape_configs.flatMap((s: Service) =>
    s.static_configs.flatMap((c: Service) => c.targets),
  );
  assert.deepEqual(targets, [`walhook:${config.server.port}`]);
  for (const file of promConfig.rule_files) assert.ok(existsSync(join(promDir, file)), file);

  // Grafana: its data source is the Prometheus service, its dashboard provider reads the mounted file.
  const provisioning = bindAt(grafana, '/etc/grafana/provisioning');
  const datasource = parse(readFileSync(join(provisioning, 'datasources/prometheus.yaml'), 'utf8'))
    .datasources[0];
  assert.equal(datasource.type, 'prometheus');
  assert.equal(datasource.url, 'http://prometheus:9090');
  const provider = parse(readFileSync(join(provisioning, 'dashboards/walhook.yaml'), 'utf8')).providers[0];
  const dashboardTarget = binds(grafana).find(
    (b) => b.source === join(DEPLOY, 'grafana/walhook.json'),
  )?.target;
  assert.equal(dashboardTarget && posix.dirname(dashboardTarget), provider.options.path);
  assert.equal(environment(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, dashboardTarget);
});

test('example configs: load with DATABASE_URL and WEBHOOK_TOKEN, listen on all interfaces, send the token', () => {
  for (const path of ['deploy/walhook.example.yaml', 'deploy/kubernetes/walhook.yaml']) {
    const text = read(path);
    const env = { DATABASE_URL: 'postgres://walhook:pw@127.0.0.1:5432/app', WEBHOOK_TOKEN: 't0ken' };
    const config = parseConfig(text, path, env);
    assert.equal(config.server.host, '0.0.0.0', path);
    assert.ok(
      config.triggers.every(
        (t) => t.sink.type === 'webhook' && t.sink.headers?.Authorization === 'Bearer t0ken',
      ),
      path,
    );
    assert.throws(
      () => parseConfig(text, path, { DATABASE_URL: env.DATABASE_URL }),
      (err: unknown) => isWalhookError(err, 'WALHOOK_ERR_CONFIG_ENV'),
      `${path} takes the token from the environment`,
    );
  }
});

test('dashboard: panels on the grid without overlap, every query on the data-source variable, each subject covered', () => {
  const dashboard = JSON.parse(read('deploy/grafana/walhook.json'));
  assert.equal(dashboard.uid, 'walhook');
  const variables = dashboard.templating.list.map((v: Service) => v.name);
  assert.deepEqual(variables, ['datasource', 'instance', 'trigger']);
  const panels: Service[] = dashboard.panels;
  assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'unique panel ids');
  const cells = new Set<string>();
  for (const panel of panels) {
    const { x, y, w, h } = panel.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `${panel.title} within 24 columns`);
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `${panel.title} overlaps another panel at ${i},${j}`);
        cells.add(`${i},${j}`);
      }
    }
    if (panel.type === 'row') continue;
    assert.equal(panel.datasource.uid, DATASOURCE_VARIABLE, panel.title);
    assert.ok(panel.targets.length > 0, panel.title);
    for (const target of panel.targets) {
      assert.equal(target.datasource.uid, DATASOURCE_VARIABLE, panel.title);
      assert.ok(target.expr.includes('instance=~"$instance"'), `${panel.title} follows the instance picker`);
    }
  }
  const exprs = panels.flatMap((p) => p.targets ?? []).map((t: Service) => t.expr as string);
  const has = (pattern: RegExp, what: string) =>
    assert.ok(
      exprs.some((e) => pattern.test(e)),
      what,
    );
  has(/walhook_replication_lag_seconds/, 'lag');
  has(/walhook_slot_retained_wal_bytes/, 'retained WAL');
  has(/sum by \(trigger\) \(rate\(walhook_events_delivered_total/, 'throughput per trigger');
  has(/histogram_quantile\(0\.99, .*walhook_delivery_duration_seconds_bucket/, 'attempt latency quantiles');
  has(
    /histogram_quantile\(0\.99, .*walhook_end_to_end_latency_seconds_bucket/,
    'end-to-end latency quantiles',
  );
  has(/walhook_delivery_attempts_total\{[^}]*outcome!="delivered"/, 'failures');
  has(/walhook_events_dead_lettered_total/, 'dead letters');
  has(/walhook_replication_paused/, 'backpressure');
});

test('alerts: each has a severity, a summary and a runbook section that exists in docs/deploy.md', () => {
  const anchors = new Set(
    read('docs/deploy.md')
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .map((line) =>
        line
          .replace(/^#+\s*/, '')
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
  );
  const rules = parse(read('deploy/prometheus/alerts.yml')).groups.flatMap((g: Service) => g.rules);
  assert.ok(rules.length >= 10);
  const tests = parse(read('deploy/prometheus/alerts.test.yml')).tests.flatMap(
    (t: Service) => t.alert_rule_test,
  );
  for (const rule of rules) {
    assert.match(rule.labels.severity, /^(warning|critical)$/, rule.alert);
    assert.ok(rule.annotations.summary, rule.alert);
    const [file, anchor] = rule.annotations.runbook.split('#');
    assert.equal(file, 'docs/deploy.md', rule.alert);
    assert.ok(anchors.has(anchor), `${rule.alert}: docs/deploy.md#${anchor}`);
    assert.ok(
      tests.some((t: Service) => t.alertname === rule.alert && t.exp_alerts.length > 0),
      `${rule.alert} has a promtool test in which it fires`,
    );
  }
});

test('WalhookRetainedWalHigh fires below the max_slot_wal_keep_size that compose and Kubernetes set', () => {
  const rules = parse(read('deploy/prometheus/alerts.yml')).groups.flatMap((g: Service) => g.rules);
  const high = rules.find((r: Service) => r.alert === 'WalhookRetainedWalHigh');
  const thresholdGiB = Number(/^walhook_slot_retained_wal_bytes > (\d+) \* 1024\^3$/.exec(high.expr)?.[1]);
  assert.ok(thresholdGiB > 0, high.expr);
  const statefulSet = parse(read('deploy/kubernetes/statefulset.yaml'));
  const postgres = statefulSet.spec.template.spec.containers.find((c: Service) => c.name === 'postgres');
  for (const [where, args] of [
    ['compose', services.postgres?.command],
    ['kubernetes', postgres.args],
  ] as const) {
    // Postgres's GB is 1024 MB.
    const capGiB = Number(/max_slot_wal_keep_size=(\d+)GB/.exec(args.join(' '))?.[1]);
    assert.ok(
      thresholdGiB < capGiB,
      `${where}: alert at ${thresholdGiB} GiB, slot invalidated past ${capGiB} GiB`,
    );
  }
});

test('systemd unit: hardened, restarts on failure, secrets from an environment file, stops within the grace', () => {
  const unit = read('deploy/systemd/walhook.service');
  const values = (key: string) =>
    [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => (m[1] as string).trim());
  const one = (key: string) => {
    const all = values(key);
    assert.equal(all.length, 1, `${key} set once`);
    return all[0] as string;
  };
  assert.ok(one('DynamicUser') === 'yes' || values('User').length === 1, 'an unprivileged user');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('PrivateTmp'), 'yes');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('KillSignal'), 'SIGTERM');
  assert.match(one('EnvironmentFile'), /^\/etc\/walhook\/\S+\.env$/);
  assert.equal(one('ExecStart'), '/opt/walhook/bin/walhook.js run --config /etc/walhook/walhook.yaml');
  assert.equal(values('MemoryDenyWriteExecute').length, 0, "V8's JIT needs writable executable memory");
  const grace = composeConfig().shutdown_grace_sec;
  assert.ok(Number(one('TimeoutStopSec')) > grace, 'systemd waits longer than walhook drains');
  // MemoryMax in the unit's own notation (M = MiB) covers the highest peak measured.
  assert.ok(Number(one('MemoryMax').replace(/M$/, '')) > PEAK_RSS_MIB);
});

test('every YAML file under deploy/ parses without errors or warnings', () => {
  const files = readdirSync(DEPLOY, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length >= 12, files.join(' '));
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'))) {
      assert.deepEqual([...doc.errors, ...doc.warnings], [], file);
    }
  }
});

test('every deploy/ file named in the docs exists', () => {
  const docs = read('docs/deploy.md');
  const named = [...docs.matchAll(/`(deploy\/[\w./-]+)`/g)].map((m) => m[1] as string);
  assert.ok(named.length >= 8, 'the docs name the files');
  for (const path of named) assert.ok(existsSync(join(ROOT, path)), path);
});
