// The Triggers view's actions through the admin API: pause and resume a trigger's deliveries, invoke it
// for a row key, start and cancel a backfill. Polling redraws the view, so what was typed and each
// action's last answer are kept here and drawn back in.

import { actionsOffHint, canAct, errorText, postJson } from './api.js';
import { button, h } from './dom.js';
import { badge } from './overview.js';
import type { BackfillReport, ManualOutcome, TriggerDefinition } from './types.js';

type Action = 'pause' | 'invoke' | 'backfill';

interface Answer {
  text: string;
  ok: boolean;
}

const STATE: Record<BackfillReport['state'], string> = {
  running: 'Running',
  done: 'Done',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

/** Field values by element id: a redraw makes the fields anew. */
const typed = new Map<string, string>();
/** The last answer of each action, by `action:trigger id`. */
const answers = new Map<string, Answer>();
/** Actions waiting for walhook's answer, by the same key. */
const busy = new Set<string>();
let changed: () => void = () => {};

/** Called after an action starts or ends, to draw the view again with its answer. */
export function onActionChange(redraw: () => void): void {
  changed = redraw;
}

/** What the actions draw besides the view's data: the view is redrawn when it changes. */
export function actionsState(): string {
  return JSON.stringify([canAct(), [...answers], [...busy]]);
}

export function progressText(backfill: BackfillReport): string {
  const total = backfill.total_estimate === null ? '' : ` of about ${backfill.total_estimate}`;
  const eta =
    backfill.state === 'running' && backfill.eta_sec !== null ? `, about ${backfill.eta_sec} s left` : '';
  const error = backfill.error === null ? '' : `: ${backfill.error}`;
  return `${STATE[backfill.state]}: ${backfill.rows_read}${total} rows read, ${backfill.rows_sent} sent${eta}${error}`;
}

export function triggerActions(trigger: TriggerDefinition): Node[] {
  const id = `${trigger.pipeline}-${trigger.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const hint = actionsOffHint();
  return [
    h('h4', {}, 'Actions'),
    hint === '' ? null : h('p', { class: 'note' }, hint),
    pauseControls(trigger, id),
    ...(trigger.enable_manual
      ? [...invokeForm(trigger, id), ...backfillForm(trigger, id)]
      : [h('p', { class: 'note' }, 'Invoke and backfill need enable_manual: true on the trigger.')]),
  ].filter((node): node is Node => node !== null);
}

function pauseControls(trigger: TriggerDefinition, id: string): HTMLElement {
  const { name, paused } = trigger;
  const state =
    paused === null
      ? 'unknown: its pipeline is not streaming in this process'
      : paused
        ? badge('pending', 'Paused: events wait queued')
        : badge('ok', 'Delivering');
  const verb = paused ? 'Resume' : 'Pause';
  const control = button(
    verb,
    () =>
      void act('pause', id, async () => {
        await postJson(path(name, paused ? 'resume' : 'pause'), {});
        return paused ? `Resumed ${name}: its queued events go out in order.` : `Paused ${name}.`;
      }),
    {
      'aria-label': `${verb} ${name}`,
      'data-focus': `pause:${id}`,
      disabled: !canAct() || paused === null || busy.has(`pause:${id}`),
    },
  );
  return h(
    'div',
    {},
    h('div', { class: 'toolbar' }, h('span', {}, 'Deliveries: ', state), control),
    result('pause', id),
  );
}

function invokeForm(trigger: TriggerDefinition, id: string): Node[] {
  const { name } = trigger;
  const columns = trigger.key_columns;
  const keyField = field(`invoke-key-${id}`, `Row key of ${name} (JSON)`, {
    type: 'text',
    placeholder: columns === null ? '{"id": 1}' : `{${columns.map((c) => `"${c}": …`).join(', ')}}`,
  });
  const invoke = button(
    'Invoke',
    () =>
      void act('invoke', id, async () => {
        const key = parseJson(typed.get(`invoke-key-${id}`) ?? '', 'The row key');
        if (key === null || typeof key !== 'object' || Array.isArray(key)) {
          throw new Error('The row key must be a JSON object of the key columns, such as {"id": 1}.');
        }
        const answer = await postJson<ManualOutcome>(path(name, 'invoke'), { key });
        return `Event ${answer.event_id}: ${answer.outcome}.`;
      }),
    { 'aria-label': `Invoke ${name}`, 'data-focus': `invoke:${id}`, disabled: off('invoke', id) },
  );
  return [
    h('h4', {}, 'Invoke for a row'),
    h(
      'div',
      { class: 'toolbar' },
      keyField,
      invoke,
      h(
        'p',
        { class: 'hint note' },
        columns === null
          ? 'Key columns: not known yet (the pipeline reads them once it streams).'
          : `Key columns: ${columns.join(', ')}. Sent as op MANUAL once read from the table.`,
      ),
    ),
    result('invoke', id),
  ];
}

function backfillForm(trigger: TriggerDefinition, id: string): Node[] {
  const { name, backfill } = trigger;
  const running = backfill?.state === 'running';
  const restart = h('input', {
    type: 'checkbox',
    id: `backfill-restart-${id}`,
    'data-focus': `backfill-restart-${id}`,
    checked: typed.get(`backfill-restart-${id}`) === 'true',
  });
  restart.addEventListener('change', () => typed.set(restart.id, String(restart.checked)));
  const op = h(
    'select',
    { id: `backfill-op-${id}`, 'data-focus': `backfill-op-${id}` },
    h('option', { value: 'MANUAL' }, 'MANUAL'),
    h('option', { value: 'READ' }, 'READ'),
  );
  op.value = typed.get(op.id) ?? 'MANUAL';
  op.addEventListener('change', () => typed.set(op.id, op.value));
  const start = button(
    'Start backfill',
    () =>
      void act('backfill', id, async () => {
        const where = typed.get(`backfill-where-${id}`)?.trim() ?? '';
        const report = await postJson<BackfillReport>(path(name, 'backfill'), {
          where: where === '' ? null : parseJson(where, 'The where filter'),
          batch_size: Number(typed.get(`backfill-batch-${id}`) || 1000),
          op: op.value,
          restart: restart.checked,
        });
        return `Backfill started. ${progressText(report)}.`;
      }),
    {
      'aria-label': `Start backfill of ${name}`,
      'data-focus': `backfill:${id}`,
      disabled: off('backfill', id),
    },
  );
  const cancel = button(
    'Cancel backfill',
    () =>
      void act('backfill', id, async () => {
        const report = await postJson<BackfillReport>(path(name, 'backfill/cancel'), {});
        return `Backfill cancelled. ${progressText(report)}.`;
      }),
    {
      'aria-label': `Cancel backfill of ${name}`,
      'data-focus': `backfill-cancel:${id}`,
      disabled: off('backfill', id) || !running,
    },
  );
  return [
    h('h4', {}, 'Backfill'),
    h(
      'p',
      { 'aria-label': `Backfill progress of ${name}` },
      backfill === null ? 'No backfill in this process yet.' : progressText(backfill),
    ),
    h(
      'div',
      { class: 'toolbar' },
      field(`backfill-where-${id}`, 'Where (JSON, optional)', { type: 'text', placeholder: '{"new": {…}}' }),
      field(`backfill-batch-${id}`, 'Batch size', {
        type: 'number',
        min: 1,
        max: 100000,
        placeholder: '1000',
      }),
      h('div', { class: 'field' }, h('label', { for: op.id }, 'Op'), op),
      h('div', { class: 'field checkbox' }, restart, h('label', { for: restart.id }, 'Start over')),
      h('div', { class: 'buttons' }, start, cancel),
    ),
    result('backfill', id),
  ];
}

function field(id: string, label: string, attributes: Record<string, string | number>): HTMLElement {
  const input = h('input', { ...attributes, id, 'data-focus': id, value: typed.get(id) ?? '' });
  input.addEventListener('input', () => typed.set(id, input.value));
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

function result(action: Action, id: string): HTMLElement {
  const answer = answers.get(`${action}:${id}`);
  return h(
    'p',
    {
      class: `result ${answer?.ok === false ? 'result-error' : 'result-ok'}`,
      role: 'status',
      'aria-live': 'polite',
      id: `${action}-result-${id}`,
    },
    answer?.text ?? '',
  );
}

function off(action: Action, id: string): boolean {
  return !canAct() || busy.has(`${action}:${id}`);
}

async function act(action: Action, id: string, work: () => Promise<string>): Promise<void> {
  const key = `${action}:${id}`;
  busy.add(key);
  answers.delete(key);
  changed();
  try {
    answers.set(key, { text: await work(), ok: true });
  } catch (err) {
    answers.set(key, { text: errorText(err), ok: false });
  } finally {
    busy.delete(key);
    changed();
  }
}

function path(trigger: string, action: string): string {
  return `/triggers/${encodeURIComponent(trigger)}/${action}`;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} is not JSON: ${text === '' ? 'it is empty' : text}.`);
  }
}
