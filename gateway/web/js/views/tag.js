// #/t/:tag — a tag's posts, newest first (GET /tags/{tag}: the tag's timeline, not a search),
// as a grid under infinite scroll. The API normalises the tag as it reads captions' #tags, so
// a link from any spelling (#Sea, #SEA) lands on the same page.

import { api, qs } from '../api.js';
import { h } from '../dom.js';
import { infiniteList } from '../scroll.js';
import { gridCell } from './post.js';

export async function tagPage({ main, params, signal }) {
  const tag = params.tag.replace(/^#/, '');
  document.title = `#${tag} • photofeed`;
  const list = h('ul', { class: 'grid', 'aria-label': `Posts tagged #${tag}` });
  main.append(h('div', { class: 'wide' }, h('h1', { tabindex: '-1' }, `#${tag}`), list));
  await infiniteList({
    list,
    signal,
    idOf: (post) => post.post_id,
    load: async (cursor) => {
      const page = await api('GET', `/tags/${encodeURIComponent(tag)}${qs({ limit: 24, cursor })}`, { signal });
      return { items: page.posts, next_cursor: page.next_cursor, has_more: page.has_more };
    },
    renderItem: gridCell,
    emptyText: `No posts tagged #${tag} yet.`,
    endText: '',
  }).first;
}
