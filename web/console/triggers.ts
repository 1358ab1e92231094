// Triggers: each definition as walhook loaded it (secrets already redacted by walhook), its actions
// (trigger-actions.ts), and the changes it filtered out when server.console.debug_filters is on.

import { getJson } from './api.js';
import { facts, h, redraw, table } from './dom.js';
import { time } from './format.js';
import { actionsState, onActionChange, triggerActions } from './trigger-actions.js';
import type { FilteredChange, TriggerDefinition, TriggersView } from './types.js';

const REASONS: Record<string, string> = {
  operation: 'operation not listed',
  columns: 'no listed column changed',
  unchanged: 'no column changed',
  origin: 'replicated from another server',
  where: 'where did not match',
};

export async function loadTriggers(container: HTMLElement): Promise<void> {
  const view = await getJson<TriggersView>('triggers');
  // An action's answer is drawn at once, not at the next poll; a failed refresh is the poll's to show.
  onActionChange(() => void loadTriggers(container).catch(() => {}));
  redraw(container, JSON.stringify(view) + actionsState(), () => [
    h(
      'p',
      { class: 'note' },
      view.debug_filters
        ? 'Filtered-out changes are recorded (server.console.debug_filters is on): the last 50 per trigger.'
        : 'Why changes were filtered out is recorded only when server.console.debug_filters is true.',
    ),
    ...view.triggers.map((trigger) => triggerSection(trigger, view.debug_filters)),
  ]);
}

function triggerSection(trigger: TriggerDefinition, debug: boolean): HTMLElement {
  const headingId = `trigger-${trigger.pipeline}-${trigger.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return h(
    'section',
    { class: 'card', 'aria-labelledby': headingId },
    h('h3', { id: headingId }, trigger.name),
    facts([
      ['Pipeline', trigger.pipeline],
      ['Table', trigger.table],
      ['Operations', trigger.operations.join(', ')],
    ]),
    ...triggerActions(trigger),
    h('h4', {}, 'Definition'),
    h(
      'pre',
      { class: 'code', tabindex: 0, 'aria-label': `Definition of ${trigger.name}` },
      JSON.stringify(trigger.definition, null, 2),
    ),
    debug ? h('h4', {}, 'Filtered out') : null,
    debug ? filteredTable(trigger) : null,
  );
}

function filteredTable(trigger: TriggerDefinition): HTMLElement {
  if (trigger.filtered.length === 0) return h('p', { class: 'empty' }, 'Nothing filtered out yet.');
  return table(
    `Changes ${trigger.name} filtered out`,
    ['At', 'Op', 'LSN', 'Reason', 'Key'],
    trigger.filtered.map((change: FilteredChange) =>
      h(
        'tr',
        {},
        h('td', {}, time(change.at)),
        h('td', {}, change.op),
        h('td', { class: 'mono' }, change.lsn),
        h('td', {}, REASONS[change.reason] ?? change.reason),
        h('td', { class: 'mono' }, change.key),
      ),
    ),
  );
}
