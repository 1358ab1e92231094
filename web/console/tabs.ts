// The view switcher, as the WAI-ARIA tabs pattern has it: one tab stop, arrow keys (and Home/End) move
// between tabs, Enter or Space (the buttons' own behaviour) opens the focused one.

export const VIEWS = ['overview', 'invocations', 'dead-letters', 'triggers'] as const;
export type View = (typeof VIEWS)[number];

export function isView(name: string): name is View {
  return (VIEWS as readonly string[]).includes(name);
}

const MOVES: Record<string, (index: number, count: number) => number> = {
  ArrowRight: (index, count) => (index + 1) % count,
  ArrowLeft: (index, count) => (index - 1 + count) % count,
  Home: () => 0,
  End: (_index, count) => count - 1,
};

export function setUpTabs(tablist: HTMLElement, onSelect: (view: View) => void): (view: View) => void {
  const tabs = VIEWS.map((view) => {
    const tab = tablist.querySelector<HTMLButtonElement>(`#tab-${view}`);
    if (tab === null) throw new Error(`#tab-${view} is missing from index.html`);
    return tab;
  });

  const select = (view: View): void => {
    tabs.forEach((tab, index) => {
      const chosen = VIEWS[index] === view;
      tab.setAttribute('aria-selected', String(chosen));
      tab.tabIndex = chosen ? 0 : -1;
      const panel = document.getElementById(tab.getAttribute('aria-controls') ?? '');
      if (panel !== null) panel.hidden = !chosen;
    });
    onSelect(view);
  };

  tabs.forEach((tab, index) => {
    tab.addEventListener('click', () => select(VIEWS[index] as View));
    tab.addEventListener('keydown', (event) => {
      const move = MOVES[event.key];
      if (move === undefined) return;
      event.preventDefault();
      tabs[move(index, tabs.length)]?.focus();
    });
  });
  return select;
}
