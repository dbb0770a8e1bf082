// Infinite lists over the API's cursor pages: an IntersectionObserver watches a sentinel below
// the list and loads the next page when it comes within reach; "You're all caught up" ends it.
// A failed page shows a Retry button. Items already shown (by id) are never shown twice.

import { h } from './dom.js';

/** Fill `list` with load(cursor) pages ({items, next_cursor, has_more}); renderItem(item) gives
 *  an element or null. Resolves after the first page. Returns {done, count, prepend}. */
export function infiniteList({ list, load, renderItem, idOf, signal, emptyText, endText }) {
  const seen = new Set();
  const status = h('div', { class: 'list-status' });
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  list.after(status, sentinel);
  let cursor = null;
  let more = true;
  let busy = false;
  let count = 0;
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) next();
  }, { rootMargin: '0px 0px 800px 0px' });

  function add(items, where = 'end') {
    const nodes = [];
    for (const item of items) {
      const id = idOf(item);
      if (seen.has(id)) continue;
      const node = renderItem(item);
      if (!node) continue;
      seen.add(id);
      nodes.push(node);
    }
    count += nodes.length;
    if (where === 'start') list.prepend(...nodes);
    else list.append(...nodes);
  }

  async function next() {
    if (busy || !more || signal.aborted) return;
    busy = true;
    list.setAttribute('aria-busy', 'true');
    status.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
    try {
      const page = await load(cursor, signal);
      add(page.items);
      cursor = page.next_cursor;
      more = Boolean(page.has_more && cursor);
      status.replaceChildren();
      if (!more) status.append(h('p', { class: 'end' }, count ? endText : emptyText));
    } catch (err) {
      if (err.name === 'AbortError' || signal.aborted) return;
      status.replaceChildren(h('p', { class: 'alert', role: 'alert' }, err.message, ' ',
        h('button', { type: 'button', class: 'btn link', onclick: () => next() }, 'Retry')));
      return;
    } finally {
      busy = false;
      list.removeAttribute('aria-busy');
    }
    if (more) {
      observer.unobserve(sentinel); // observing again reports whether it is still in reach
      observer.observe(sentinel);
    }
  }

  signal.addEventListener('abort', () => observer.disconnect());
  const first = next().then(() => observer.observe(sentinel));
  return {
    first,
    prepend(items) {
      add(items, 'start');
      if (!more && !busy && count) status.replaceChildren(h('p', { class: 'end' }, endText));
    },
    count: () => count,
  };
}
