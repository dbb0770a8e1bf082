// #/notifications — likes (grouped per post), comments, mentions and follows, newest first;
// opening the page marks everything shown as read (the badge clears).

import { api, qs } from '../api.js';
import { markedRead } from '../badge.js';
import { avatar, h, timeAgo } from '../dom.js';
import { infiniteList } from '../scroll.js';

function who(n) {
  const [first] = n.actors;
  const name = first ? h('a', { href: `#/u/${first.user_id}`, class: 'name' }, first.username) : 'Someone';
  const others = (n.actor_count || n.actors.length) - 1;
  return [name, others > 0 ? ` and ${others} ${others === 1 ? 'other' : 'others'}` : ''];
}

function notice(n) {
  const what = {
    like: ' liked your photo.',
    comment: [' commented: ', h('q', {}, n.text || '')],
    follow: ' started following you.',
    mention: n.comment_id ? [' mentioned you in a comment: ', h('q', {}, n.text || '')] : ' mentioned you in a post.',
  }[n.type] || ' did something.';
  const alt = n.type === 'mention' ? 'The photo' : 'Your photo';
  const thumb = n.post_id && n.thumbnail_url
    ? h('a', { href: `#/p/${n.post_id}`, class: 'thumb' }, h('img', { src: n.thumbnail_url, alt, width: 44, height: 44, loading: 'lazy' }))
    : null;
  return h('li', { class: n.read ? 'notice-item' : 'notice-item unread' },
    avatar(n.actors[0], 44),
    h('p', {}, who(n), what, ' ', timeAgo(n.created_at), n.read ? '' : h('span', { class: 'visually-hidden' }, ' (new)')),
    thumb);
}

export async function notificationsPage({ main, signal }) {
  document.title = 'Notifications • photofeed';
  const list = h('ul', { class: 'notices' });
  main.append(h('div', { class: 'column' }, h('h1', { tabindex: '-1' }, 'Notifications'), list));
  let newest = null;
  await infiniteList({
    list,
    signal,
    idOf: (n) => n.notification_id,
    load: async (cursor) => {
      const page = await api('GET', `/notifications${qs({ limit: 20, cursor })}`, { signal });
      newest = newest || page.notifications[0]?.notification_id || null;
      return { items: page.notifications, next_cursor: page.next_cursor, has_more: page.has_more };
    },
    renderItem: notice,
    emptyText: 'Nothing yet. When people like or comment on your photos, mention you or follow you, you will see it here.',
    endText: '',
  }).first;
  if (newest && list.querySelector('.unread')) {
    await api('POST', '/notifications/read', { body: { up_to_id: newest } });
    markedRead(newest);
  }
}
