// Dead letters: the store's content, their detail, and redelivery or purge of one, a selection or a
// trigger's letters through the admin API.

import { errorText, getJson, postJson } from './api.js';
import { confirmAction, detailSection, openDetail, preformatted } from './dialogs.js';
import { button, byId, facts, h, numeric, redraw, table } from './dom.js';
import { time } from './format.js';
import type { DeadLetter, RedeliverResult } from './types.js';

const list = byId('dl-list');
const result = byId('dl-result');
const triggerSelect = byId<HTMLSelectElement>('dl-trigger');
const selectAll = byId<HTMLInputElement>('dl-select-all');
const redeliverSelected = byId<HTMLButtonElement>('dl-redeliver-selected');
const purgeSelected = byId<HTMLButtonElement>('dl-purge-selected');
const redeliverTrigger = byId<HTMLButtonElement>('dl-redeliver-trigger');
const purgeTrigger = byId<HTMLButtonElement>('dl-purge-trigger');
const adminNote = byId('dl-admin-note');

let letters: DeadLetter[] = [];
const selected = new Set<string>();
let admin = true;
let busy = false;

export function setAdmin(enabled: boolean): void {
  admin = enabled;
  adminNote.hidden = enabled;
  updateButtons();
}

export async function loadDeadLetters(): Promise<void> {
  const { dead_letters } = await getJson<{ dead_letters: DeadLetter[] }>('dead-letters', {
    trigger: triggerSelect.value,
    limit: '500',
  });
  letters = dead_letters;
  const present = new Set(letters.map((letter) => letter.id));
  for (const id of selected) if (!present.has(id)) selected.delete(id);
  redraw(list, JSON.stringify({ letters, admin }), () => [
    letters.length === 0
      ? h('p', { class: 'empty' }, 'No dead letters.')
      : table(
          'Dead letters',
          [
            'Select',
            'Letter',
            'Trigger',
            'Table',
            'Op',
            numeric('Attempts'),
            numeric('Last status'),
            'Last error',
            'Dead-lettered',
            'Action',
          ],
          letters.map(letterRow),
        ),
  ]);
  for (const box of list.querySelectorAll<HTMLInputElement>('input[type=checkbox]')) {
    box.checked = selected.has(box.value);
  }
  updateButtons();
}

function letterRow(letter: DeadLetter): HTMLTableRowElement {
  const boxId = `dl-select-${letters.indexOf(letter)}`;
  const box = h('input', {
    type: 'checkbox',
    id: boxId,
    value: letter.id,
    'data-focus': `dl-select:${letter.id}`,
  });
  box.addEventListener('change', () => {
    if (box.checked) selected.add(letter.id);
    else selected.delete(letter.id);
    updateButtons();
  });
  const opener = button(letter.id, () => void showLetter(letter.id, opener), {
    class: 'link mono',
    'aria-label': `Details of dead letter ${letter.id}`,
    'data-focus': `dl-detail:${letter.id}`,
  });
  const redeliver = button(
    'Redeliver',
    () => void act('redeliver', { id: letter.id }, `dead letter ${letter.id}`),
    {
      'aria-label': `Redeliver ${letter.id}`,
      'data-focus': `dl-redeliver:${letter.id}`,
      disabled: !admin,
    },
  );
  return h(
    'tr',
    { 'data-letter-id': letter.id },
    h('td', {}, h('label', { for: boxId, class: 'visually-hidden' }, `Select dead letter ${letter.id}`), box),
    h('th', { scope: 'row' }, opener),
    h('td', {}, letter.trigger),
    h('td', {}, letter.table),
    h('td', {}, letter.op),
    h('td', { class: 'num' }, letter.attempts),
    h('td', { class: 'num' }, letter.last_status ?? '—'),
    h('td', { class: 'clip' }, letter.last_error ?? '—'),
    h('td', {}, time(letter.dead_lettered_at)),
    h('td', {}, redeliver),
  );
}

function updateButtons(): void {
  const count = selected.size;
  redeliverSelected.textContent = `Redeliver selected (${count})`;
  purgeSelected.textContent = `Purge selected (${count})`;
  redeliverSelected.disabled = !admin || busy || count === 0;
  purgeSelected.disabled = !admin || busy || count === 0;
  const trigger = triggerSelect.value !== '';
  redeliverTrigger.disabled = !admin || busy || !trigger;
  purgeTrigger.disabled = !admin || busy || !trigger;
  selectAll.checked = letters.length > 0 && count === letters.length;
  selectAll.indeterminate = count > 0 && count < letters.length;
}

async function showLetter(id: string, opener: HTMLElement): Promise<void> {
  let letter: DeadLetter;
  try {
    letter = await getJson<DeadLetter>(`dead-letters/${encodeURIComponent(id)}`);
  } catch (err) {
    openDetail(`Dead letter ${id}`, [h('p', { class: 'error' }, errorText(err))], opener);
    return;
  }
  openDetail(
    `Dead letter ${letter.id}`,
    [
      facts([
        ['Trigger', letter.trigger],
        ['Pipeline', letter.pipeline],
        ['Table', letter.table],
        ['Operation', letter.op],
        ['LSN', h('span', { class: 'mono' }, letter.lsn)],
        ['Attempts', letter.attempts],
        ['Last HTTP status', letter.last_status ?? '—'],
        ['Last error', letter.last_error ?? '—'],
        ['First attempt', time(letter.first_attempt_at)],
        ['Last attempt', time(letter.last_attempt_at)],
        ['Dead-lettered', time(letter.dead_lettered_at)],
      ]),
      detailSection('Body', preformatted(letter.body ?? '', 'Body of the dead letter')),
      detailSection(
        'Response (excerpt)',
        letter.response_snippet
          ? preformatted(letter.response_snippet, 'Response excerpt')
          : h('p', {}, 'None.'),
      ),
    ],
    opener,
  );
}

type Selection = { id: string } | { ids: string[] } | { trigger: string };

async function act(action: 'redeliver' | 'purge', selection: Selection, what: string): Promise<void> {
  if (action === 'purge' && !(await confirmAction(`Purge ${what}? This cannot be undone.`, 'Purge'))) return;
  busy = true;
  updateButtons();
  say(`${action === 'purge' ? 'Purging' : 'Redelivering'} ${what}…`, 'info');
  try {
    if (action === 'purge') {
      const { purged } = await postJson<{ purged: number }>('/dead-letters/purge', selection);
      say(`Purged ${plural(purged, 'dead letter')}.`, 'ok');
    } else {
      const answer = await postJson<RedeliverResult>('/dead-letters/redeliver', selection);
      const kept = answer.results.filter((r) => r.outcome === 'kept');
      const why = kept.map((r) => `${r.id}: ${r.detail ?? 'kept'}`).join('; ');
      say(
        `Redelivered ${plural(answer.redelivered, 'dead letter')}${kept.length > 0 ? `; kept ${kept.length} (${why})` : ''}.`,
        kept.length > 0 ? 'error' : 'ok',
      );
    }
    selected.clear();
  } catch (err) {
    say(errorText(err), 'error');
  } finally {
    busy = false;
  }
  await loadDeadLetters().catch((err: unknown) => say(errorText(err), 'error'));
}

function say(text: string, kind: 'info' | 'ok' | 'error'): void {
  result.className = `result result-${kind}`;
  result.textContent = text;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

selectAll.addEventListener('change', () => {
  for (const letter of letters) {
    if (selectAll.checked) selected.add(letter.id);
    else selected.delete(letter.id);
  }
  for (const box of list.querySelectorAll<HTMLInputElement>('input[type=checkbox]'))
    box.checked = selectAll.checked;
  updateButtons();
});
redeliverSelected.addEventListener('click', () => {
  const ids = [...selected];
  void act('redeliver', { ids }, `${plural(ids.length, 'selected dead letter')}`);
});
purgeSelected.addEventListener('click', () => {
  const ids = [...selected];
  void act('purge', { ids }, `${plural(ids.length, 'selected dead letter')}`);
});
redeliverTrigger.addEventListener('click', () => {
  const trigger = triggerSelect.value;
  void act('redeliver', { trigger }, `all dead letters of trigger ${trigger}`);
});
purgeTrigger.addEventListener('click', () => {
  const trigger = triggerSelect.value;
  void act('purge', { trigger }, `all dead letters of trigger ${trigger}`);
});
triggerSelect.addEventListener('change', () => {
  selected.clear();
  void loadDeadLetters().catch((err: unknown) => say(errorText(err), 'error'));
});
