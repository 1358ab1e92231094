// Invocations: the recent deliveries kept in walhook's ring, filtered, with each one's attempts in detail.

import { actionsOffHint, canAct, errorText, getJson, postJson } from './api.js';
import { detailSection, openDetail, preformatted } from './dialogs.js';
import { button, facts, h, numeric, redraw, table } from './dom.js';
import { millis, time } from './format.js';
import { badge } from './overview.js';
import type {
  Attempt,
  InvocationDetail,
  InvocationStatus,
  InvocationSummary,
  ManualOutcome,
} from './types.js';

const LIMIT = '200';

export const STATUS_TEXT: Record<InvocationStatus, string> = {
  ok: 'Delivered',
  failed: 'Failed',
  pending: 'Retrying',
};

export interface InvocationFilter {
  trigger: string;
  status: string;
  event_id: string;
}

export async function loadInvocations(container: HTMLElement, filter: InvocationFilter): Promise<void> {
  const { invocations } = await getJson<{ invocations: InvocationSummary[] }>('invocations', {
    ...filter,
    limit: LIMIT,
  });
  // Shown in the API's order (latest attempt first): sorting here too could only disagree with it.
  redraw(container, JSON.stringify(invocations), () => [
    invocations.length === 0
      ? h('p', { class: 'empty' }, 'No deliveries recorded yet that match these filters.')
      : table(
          'Recent invocations, latest attempt first',
          [
            'Event',
            'Trigger',
            'Op',
            'Table',
            'Status',
            numeric('HTTP'),
            numeric('Attempts'),
            numeric('Duration'),
            'Last attempt',
          ],
          invocations.map(invocationRow),
        ),
  ]);
}

function invocationRow(invocation: InvocationSummary): HTMLTableRowElement {
  const opener = button(invocation.event_id, () => void showInvocation(invocation.event_id, opener), {
    class: 'link mono',
    'aria-label': `Details of event ${invocation.event_id}`,
    'data-focus': `invocation:${invocation.event_id}`,
  });
  return h(
    'tr',
    { 'data-event-id': invocation.event_id },
    h('th', { scope: 'row' }, opener),
    h('td', {}, invocation.trigger),
    h('td', {}, invocation.op),
    h('td', {}, invocation.table),
    h('td', {}, badge(invocation.status, STATUS_TEXT[invocation.status] ?? invocation.status)),
    h('td', { class: 'num' }, invocation.last_http_status ?? '—'),
    h('td', { class: 'num' }, invocation.attempts),
    h('td', { class: 'num' }, millis(invocation.duration_ms)),
    h('td', {}, time(invocation.last_attempt_at)),
  );
}

async function showInvocation(eventId: string, opener: HTMLElement): Promise<void> {
  let detail: InvocationDetail;
  try {
    detail = await getJson<InvocationDetail>(`invocations/${encodeURIComponent(eventId)}`);
  } catch (err) {
    openDetail(`Event ${eventId}`, [h('p', { class: 'error' }, errorText(err))], opener);
    return;
  }
  openDetail(
    `Event ${detail.event_id}`,
    [
      facts([
        ['Trigger', detail.trigger],
        ['Status', badge(detail.status, STATUS_TEXT[detail.status] ?? detail.status)],
        ['Operation', detail.op],
        ['Table', detail.table],
        ['LSN', h('span', { class: 'mono' }, detail.lsn)],
        ['Attempts', detail.attempt_count ?? detail.attempts.length],
        ['First attempt', time(detail.first_attempt_at)],
        ['Last attempt', time(detail.last_attempt_at)],
        ['Last HTTP status', detail.last_http_status ?? '—'],
      ]),
      ...redeliverControls(detail.event_id),
      ...detail.attempts.map(attemptSection),
    ],
    opener,
  );
}

/** Sends the event again now through its trigger (`POST /events/:id/redeliver`), whatever its status. */
function redeliverControls(eventId: string): HTMLElement[] {
  const result = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const redeliver = button(
    'Redeliver',
    async () => {
      redeliver.disabled = true;
      result.className = 'result';
      result.textContent = 'Redelivering…';
      try {
        const answer = await postJson<ManualOutcome>(`/events/${encodeURIComponent(eventId)}/redeliver`, {});
        result.className = 'result result-ok';
        result.textContent = `Redelivered event ${answer.event_id}: ${answer.outcome}.`;
      } catch (err) {
        result.className = 'result result-error';
        result.textContent = errorText(err);
      } finally {
        redeliver.disabled = false;
      }
    },
    { 'aria-label': `Redeliver event ${eventId}`, disabled: !canAct() },
  );
  const hint = actionsOffHint();
  return [
    h('div', { class: 'buttons' }, redeliver),
    ...(hint === '' ? [] : [h('p', { class: 'note' }, hint)]),
    result,
  ];
}

function attemptSection(attempt: Attempt): HTMLElement {
  return detailSection(
    `Attempt ${attempt.attempt}`,
    facts([
      ['At', time(attempt.at)],
      ['HTTP status', attempt.http_status ?? '—'],
      ['Duration', millis(attempt.duration_ms)],
      ['Error', attempt.error ?? 'None'],
      ['Method', h('span', { class: 'mono' }, attempt.request.method)],
      ['URL', h('span', { class: 'mono' }, attempt.request.url)],
    ]),
    h('h4', {}, 'Request headers'),
    headerTable(attempt.request.headers, `Request headers of attempt ${attempt.attempt}`),
    h('h4', {}, 'Request body'),
    preformatted(attempt.request.body, `Request body of attempt ${attempt.attempt}`),
    h('h4', {}, 'Response headers'),
    attempt.response.headers === null
      ? h('p', {}, 'No response.')
      : headerTable(attempt.response.headers, `Response headers of attempt ${attempt.attempt}`),
    h('h4', {}, 'Response body (first 4 KiB)'),
    attempt.response.body === ''
      ? h('p', {}, 'Empty.')
      : preformatted(attempt.response.body, `Response body of attempt ${attempt.attempt}`),
  );
}

function headerTable(headers: Record<string, string>, caption: string): HTMLElement {
  const rows = Object.entries(headers).map(([name, value]) =>
    h('tr', {}, h('th', { scope: 'row', class: 'mono' }, name), h('td', { class: 'mono' }, value)),
  );
  return table(caption, ['Header', 'Value'], rows);
}
