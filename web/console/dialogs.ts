// The detail panel and the confirmation, both native modal <dialog>s: the browser keeps focus inside
// and closes them on Escape; here focus goes back to what opened them.

import { byId, type Child, h } from './dom.js';

const detail = byId<HTMLDialogElement>('detail');
const detailTitle = byId('detail-title');
const detailBody = byId('detail-body');
/** The opener's data-focus: polling may have redrawn the opener while the panel was open. */
let returnFocus: string | undefined;

byId('detail-close').addEventListener('click', () => detail.close());
detail.addEventListener('close', () => {
  const key = returnFocus;
  returnFocus = undefined;
  if (key === undefined) return;
  for (const candidate of document.querySelectorAll<HTMLElement>('[data-focus]')) {
    if (candidate.dataset.focus === key) {
      candidate.focus();
      return;
    }
  }
});

export function openDetail(heading: string, content: Node[], opener: HTMLElement | null): void {
  returnFocus = opener?.dataset.focus;
  detailTitle.textContent = heading;
  detailBody.replaceChildren(...content);
  detailBody.scrollTop = 0;
  if (!detail.open) detail.showModal();
  detailTitle.focus();
}

export function detailOpen(): boolean {
  return detail.open;
}

/** A section of the detail panel: a heading and what follows it. */
export function detailSection(heading: string, ...content: Child[]): HTMLElement {
  return h('section', { class: 'detail-section' }, h('h3', {}, heading), ...content);
}

/** Text shown as is, wrapped, in a scrollable block. */
export function preformatted(text: string, label: string): HTMLElement {
  return h('pre', { class: 'code', tabindex: 0, 'aria-label': label }, text);
}

const confirmation = byId<HTMLDialogElement>('confirm');
const confirmText = byId('confirm-text');
const confirmButton = byId<HTMLButtonElement>('confirm-ok');

/** Asks before an action that cannot be undone; resolves true when the user confirms. */
export function confirmAction(question: string, action: string): Promise<boolean> {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  confirmText.textContent = question;
  confirmButton.textContent = action;
  confirmation.returnValue = '';
  confirmation.showModal();
  byId('confirm-cancel').focus();
  return new Promise((resolve) => {
    confirmation.addEventListener(
      'close',
      () => {
        if (opener?.isConnected) opener.focus();
        resolve(confirmation.returnValue === 'confirm');
      },
      { once: true },
    );
  });
}
