// #/search?q=… — words match captions, #tag matches tags, @name finds people (alone, it lists
// them; with other terms it narrows posts to theirs). Results page under infinite scroll.

import { api, qs } from '../api.js';
import { field, h } from '../dom.js';
import { navigate } from '../router.js';
import { infiniteList } from '../scroll.js';
import { gridCell } from './post.js';
import { userRow } from './profile.js';

export async function searchPage({ main, query, signal }) {
  const q = (query.get('q') || '').trim();
  document.title = `${q ? `${q} • ` : ''}Search • photofeed`;
  const box = field('Search photofeed', { type: 'search', name: 'q', value: q, autocomplete: 'off', maxlength: '200', enterkeyhint: 'search' },
    'Words search captions, #tag finds tags, @name finds people.');
  const form = h('form', { role: 'search', class: 'search-form' }, box,
    h('button', { type: 'submit', class: 'btn primary' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = form.q.value.trim();
    if (value) navigate(`#/search?q=${encodeURIComponent(value)}`);
  });
  const column = h('div', { class: 'wide' }, h('h1', { tabindex: '-1' }, 'Search'), form);
  main.append(column);
  if (!q) {
    form.q.focus();
    return;
  }
  const usersOnly = q.split(/\s+/).every((term) => term.startsWith('@'));
  const list = h('ul', { class: usersOnly ? 'users' : 'grid', 'aria-label': `Results for ${q}` });
  column.append(h('h2', { class: 'results-title' }, usersOnly ? 'People' : 'Posts'), list);
  await infiniteList({
    list,
    signal,
    idOf: (item) => item.post_id || item.user_id,
    load: async (cursor) => {
      const page = await api('GET', `/search${qs({ q, limit: usersOnly ? 20 : 24, cursor })}`, { signal });
      return { items: usersOnly ? page.users : page.posts, next_cursor: page.next_cursor, has_more: page.has_more };
    },
    renderItem: usersOnly ? userRow : gridCell,
    emptyText: `No results for “${q}”.`,
    endText: '',
  }).first;
}
