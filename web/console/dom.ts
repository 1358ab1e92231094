// Element building without innerHTML: every string from the API becomes a text node or an attribute
// value, so a payload holding markup is shown as the text it is.

export type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined>;

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function setAttributes(element: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

/** A button whose click runs `action`. */
export function button(label: Child, action: () => void, attributes: Attributes = {}): HTMLButtonElement {
  const element = h('button', { type: 'button', ...attributes }, label);
  element.addEventListener('click', action);
  return element;
}

/** A column heading; numeric columns are right-aligned like their cells. */
export type Column = string | { text: string; numeric: true };

export const numeric = (text: string): Column => ({ text, numeric: true });

/**
 * A table inside a horizontally scrolling, keyboard-focusable region. On a phone the stylesheet lays each
 * row out as a card whose cells carry their column's name (data-label), so the page never scrolls sideways.
 */
export function table(caption: string, columns: Column[], rows: HTMLTableRowElement[]): HTMLElement {
  const texts = columns.map((column) => (typeof column === 'string' ? column : column.text));
  for (const row of rows) {
    [...row.cells].forEach((cell, index) => {
      cell.dataset.label = texts[index] ?? '';
    });
  }
  return h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0 },
    h(
      'table',
      { class: 'stack' },
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...columns.map((column) =>
            typeof column === 'string'
              ? h('th', { scope: 'col' }, column)
              : h('th', { scope: 'col', class: 'num' }, column.text),
          ),
        ),
      ),
      h('tbody', {}, ...rows),
    ),
  );
}

/** A definition list of label/value pairs. */
export function facts(pairs: [string, Child][]): HTMLDListElement {
  const list = h('dl', { class: 'facts' });
  for (const [term, value] of pairs) list.append(h('div', {}, h('dt', {}, term), h('dd', {}, value)));
  return list;
}

/**
 * Replaces a container's content unless `key` (the data it was drawn from) is unchanged, keeping keyboard
 * focus on the element with the same `data-focus` after a redraw, so polling never yanks the user's place.
 */
export function redraw(container: HTMLElement, key: string, draw: () => Node[]): void {
  if (container.dataset.drawn === key) return;
  const focused = document.activeElement;
  const focusKey =
    focused instanceof HTMLElement && container.contains(focused) ? focused.dataset.focus : undefined;
  container.replaceChildren(...draw());
  container.dataset.drawn = key;
  if (focusKey === undefined) return;
  for (const candidate of container.querySelectorAll<HTMLElement>('[data-focus]')) {
    if (candidate.dataset.focus === focusKey) {
      candidate.focus();
      return;
    }
  }
}
