// Overview: each pipeline's slot and lag, each trigger's recent throughput and failures.

import { h, numeric, redraw, s, table } from './dom.js';
import { bytes, percent, seconds } from './format.js';
import type { Overview, PipelineView, ThroughputPoint, TriggerStats } from './types.js';

const CHART_HEIGHT = 28;

export function renderOverview(container: HTMLElement, overview: Overview): void {
  redraw(container, JSON.stringify({ ...overview, now: undefined }), () => [
    h('h2', {}, 'Pipelines'),
    table(
      'Pipelines',
      [
        'Pipeline',
        'Slot',
        'Connected',
        'Paused',
        'Confirmed LSN',
        'Lag',
        'Lag time',
        'Retained WAL',
        'Dead letters',
      ],
      overview.pipelines.map(pipelineRow),
    ),
    h('h2', {}, 'Triggers'),
    h(
      'p',
      { class: 'hint legend' },
      h('span', { class: 'swatch swatch-ok', 'aria-hidden': 'true' }),
      'delivered and ',
      h('span', { class: 'swatch swatch-failed', 'aria-hidden': 'true' }),
      'failed per 5 seconds; totals over the last 10 minutes.',
    ),
    overview.triggers.length === 0
      ? h('p', {}, 'No triggers.')
      : table(
          'Triggers',
          [
            'Trigger',
            'Pipeline',
            'Last 10 minutes',
            numeric('Delivered'),
            numeric('Failed'),
            numeric('Failure ratio'),
            numeric('Dead letters'),
          ],
          overview.triggers.map(triggerRow),
        ),
  ]);
}

function pipelineRow(pipeline: PipelineView): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, pipeline.pipeline),
    h('td', {}, pipeline.slot),
    h(
      'td',
      {},
      badge(pipeline.connected ? 'ok' : 'failed', pipeline.connected ? 'Connected' : 'Disconnected'),
    ),
    h('td', {}, pipeline.paused_by.length > 0 ? `Paused by ${pipeline.paused_by.join(', ')}` : 'No'),
    h('td', { class: 'mono' }, pipeline.confirmed_lsn ?? '—'),
    h('td', { class: 'num' }, bytes(pipeline.lag.bytes)),
    h('td', { class: 'num' }, seconds(pipeline.lag.seconds)),
    h('td', { class: 'num' }, bytes(pipeline.retained_wal_bytes)),
    h('td', { class: 'num' }, pipeline.dead_letters),
  );
}

function triggerRow(trigger: TriggerStats): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, trigger.name),
    h('td', {}, trigger.pipeline),
    h('td', {}, throughputChart(trigger.throughput)),
    h('td', { class: 'num' }, trigger.delivered),
    h('td', { class: 'num' }, trigger.failed),
    h('td', { class: 'num' }, percent(trigger.failure_ratio)),
    h('td', { class: 'num' }, trigger.dead_letters),
  );
}

export function badge(kind: 'ok' | 'failed' | 'pending', text: string): HTMLElement {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** Bars per 5 s bucket, failures stacked on deliveries; the numbers are in the label for screen readers. */
function throughputChart(points: ThroughputPoint[]): SVGSVGElement {
  const delivered = points.reduce((sum, p) => sum + p.delivered, 0);
  const failed = points.reduce((sum, p) => sum + p.failed, 0);
  const peak = Math.max(1, ...points.map((p) => p.delivered + p.failed));
  const label = `${delivered} delivered, ${failed} failed in the last 10 minutes; at most ${peak} in 5 seconds`;
  const width = Math.max(points.length, 1) * 2;
  const chart = s('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${CHART_HEIGHT}`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': label,
  });
  chart.append(
    s('title', {}, label),
    s('line', { class: 'axis', x1: 0, x2: width, y1: CHART_HEIGHT, y2: CHART_HEIGHT }),
  );
  points.forEach((point, index) => {
    const okHeight = (point.delivered / peak) * CHART_HEIGHT;
    const failedHeight = (point.failed / peak) * CHART_HEIGHT;
    if (okHeight > 0) {
      chart.append(
        s('rect', {
          class: 'bar-ok',
          x: index * 2,
          y: CHART_HEIGHT - okHeight,
          width: 1.6,
          height: okHeight,
        }),
      );
    }
    if (failedHeight > 0) {
      chart.append(
        s('rect', {
          class: 'bar-failed',
          x: index * 2,
          y: CHART_HEIGHT - okHeight - failedHeight,
          width: 1.6,
          height: failedHeight,
        }),
      );
    }
  });
  return chart;
}
