// #/ — the home feed: cursor pages under infinite scroll, newest first, with this tab's own
// new posts on top (read-your-writes). Marks `photofeed:feed-painted` (first page on screen)
// and `photofeed:feed-image` (first photo loaded) for performance measurements.

import { api, qs } from '../api.js';
import { h } from '../dom.js';
import { publishedPosts } from '../local.js';
import { infiniteList } from '../scroll.js';
import { postCard } from './post.js';

const PAGE = 10;

function markOnce(name) {
  if (!performance.getEntriesByName(name).length) performance.mark(name);
}

export async function feedPage({ main, signal }) {
  document.title = 'photofeed';
  const list = h('div', { class: 'feed', role: 'feed', 'aria-label': 'Posts from people you follow' });
  main.append(h('div', { class: 'column' }, h('h1', { class: 'visually-hidden', tabindex: '-1' }, 'Home'), list));
  let first = true;
  const feed = infiniteList({
    list,
    signal,
    idOf: (post) => post.post_id,
    load: async (cursor) => {
      const page = await api('GET', `/feed${qs({ limit: PAGE, cursor })}`, { signal });
      return { items: page.posts, next_cursor: page.next_cursor, has_more: page.has_more };
    },
    renderItem: (post) => {
      const card = postCard(post, { eager: first });
      if (card && first) {
        first = false;
        const img = card.querySelector('.media img');
        img.addEventListener('load', () => markOnce('photofeed:feed-image'), { once: true });
      }
      return card;
    },
    emptyText: h('span', {}, 'Nothing here yet. ', h('a', { href: '#/search' }, 'Find people to follow'), ' or ',
      h('a', { href: '#/new' }, 'share a photo'), '.'),
    endText: 'You’re all caught up.',
  });
  await feed.first;
  feed.prepend(publishedPosts());
  requestAnimationFrame(() => setTimeout(() => markOnce('photofeed:feed-painted')));
}
