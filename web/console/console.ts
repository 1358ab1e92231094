// The console's entry point: the token field, the view switcher and the 2-second polling that keeps
// the open view current without a reload.

import { errorText, getJson, setAdminConfigured, storedToken, storeToken } from './api.js';
import { loadDeadLetters, setAdmin } from './dead-letters.js';
import { detailOpen } from './dialogs.js';
import { byId, h } from './dom.js';
import { type InvocationFilter, loadInvocations } from './invocations.js';
import { renderOverview } from './overview.js';
import { isView, setUpTabs, type View } from './tabs.js';
import { loadTriggers } from './triggers.js';
import type { Overview } from './types.js';

const POLL_MS = 2000;

const connection = byId('connection');
const updated = byId('updated');
const tokenInput = byId<HTMLInputElement>('token');
const tokenState = byId('token-state');
const invocationForm = byId<HTMLFormElement>('inv-filter');
const invocationTrigger = byId<HTMLSelectElement>('inv-trigger');
const invocationStatus = byId<HTMLSelectElement>('inv-status');
const invocationEvent = byId<HTMLInputElement>('inv-event');

let active: View = 'overview';
let pollTimer: number | undefined;

const loaders: Record<View, () => Promise<void>> = {
  overview: async () => {}, // the overview is fetched on every poll anyway
  invocations: () => loadInvocations(byId('inv-list'), invocationFilter()),
  'dead-letters': () => loadDeadLetters(),
  triggers: () => loadTriggers(byId('triggers-list')),
};

function invocationFilter(): InvocationFilter {
  return {
    trigger: invocationTrigger.value,
    status: invocationStatus.value,
    event_id: invocationEvent.value.trim(),
  };
}

async function refresh(): Promise<void> {
  try {
    const overview = await getJson<Overview>('overview');
    renderOverview(byId('overview-body'), overview);
    applyOverview(overview);
    await loaders[active]();
    showConnection('');
    updated.replaceChildren(`Updated ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    showConnection(errorText(err));
  }
}

/** Polls every 2 s while the tab is visible; a manual refresh restarts the interval. */
function schedule(): void {
  window.clearTimeout(pollTimer);
  pollTimer = window.setTimeout(async () => {
    if (!document.hidden && !detailOpen()) await refresh();
    schedule();
  }, POLL_MS);
}

function refreshNow(): void {
  void refresh();
  schedule();
}

function applyOverview(overview: Overview): void {
  byId('version').textContent = `walhook ${overview.version}`;
  setAdmin(overview.admin);
  setAdminConfigured(overview.admin);
  const names = [...new Set(overview.triggers.map((t) => t.name))].sort();
  setTriggerOptions(invocationTrigger, names);
  setTriggerOptions(byId<HTMLSelectElement>('dl-trigger'), names);
}

function setTriggerOptions(select: HTMLSelectElement, names: string[]): void {
  const wanted = ['', ...names];
  const current = [...select.options].map((option) => option.value);
  if (current.join('\n') === wanted.join('\n')) return;
  const value = select.value;
  select.replaceChildren(
    ...wanted.map((name) => h('option', { value: name }, name === '' ? 'All triggers' : name)),
  );
  select.value = wanted.includes(value) ? value : '';
}

function showConnection(message: string): void {
  if (connection.textContent === message) return;
  connection.textContent = message;
  connection.hidden = message === '';
}

function showTokenState(): void {
  tokenState.textContent =
    storedToken() === ''
      ? 'No token: views are read-only where walhook allows it, actions are refused.'
      : 'Sent as Authorization: Bearer with every request from this browser tab.';
}

tokenInput.value = storedToken();
showTokenState();
tokenInput.addEventListener('input', () => {
  storeToken(tokenInput.value.trim());
  showTokenState();
});
byId('token-forget').addEventListener('click', () => {
  tokenInput.value = '';
  storeToken('');
  showTokenState();
  tokenInput.focus();
});

invocationForm.addEventListener('submit', (event) => {
  event.preventDefault();
  refreshNow();
});
invocationForm.addEventListener('reset', () => window.setTimeout(refreshNow));
for (const select of [invocationTrigger, invocationStatus]) select.addEventListener('change', refreshNow);

const selectView = setUpTabs(byId('tabs'), (view) => {
  active = view;
  history.replaceState(null, '', `#${view}`);
  refreshNow();
});
const requested = location.hash.slice(1);
selectView(isView(requested) ? requested : 'overview');
