// #/u/:id — a profile: counts, follow/unfollow (optimistic), the grid under infinite scroll
// (with this tab's own new posts first); #/u/:id/followers and /following — the lists.

import { api, qs } from '../api.js';
import { announce, avatar, h } from '../dom.js';
import { publishedPosts } from '../local.js';
import { infiniteList } from '../scroll.js';
import { session } from '../session.js';
import { gridCell } from './post.js';

/** A Follow / Following toggle for `user` ({user_id, username, followed_by_viewer});
 *  onChange(delta) is told +1 / -1 at once and the opposite when the API refuses. */
export function followButton(user, onChange = () => {}) {
  let following = Boolean(user.followed_by_viewer);
  let busy = false;
  const button = h('button', { type: 'button', class: 'btn follow' });
  const paint = () => {
    button.replaceChildren(following ? 'Following' : 'Follow', h('span', { class: 'visually-hidden' }, ` ${user.username}`));
    button.classList.toggle('primary', !following);
  };
  button.addEventListener('click', async () => {
    if (busy) return;
    busy = true;
    following = !following;
    onChange(following ? 1 : -1);
    paint();
    try {
      await api(following ? 'POST' : 'DELETE', `/follow/${user.user_id}`);
      announce(following ? `You follow ${user.username}.` : `You unfollowed ${user.username}.`);
    } catch (err) {
      following = !following;
      onChange(following ? 1 : -1);
      paint();
      announce(`Could not change following ${user.username}. ${err.message}`);
    } finally {
      busy = false;
    }
  });
  paint();
  return button;
}

export function userRow(user) {
  const me = session()?.user_id;
  return h('li', { class: 'user-row' },
    h('a', { href: `#/u/${user.user_id}`, class: 'who' }, avatar(user, 44), h('span', { class: 'name' }, user.username)),
    user.user_id === me ? null : followButton(user));
}

export async function profilePage({ main, params, signal }) {
  const me = session()?.user_id;
  const id = params.id;
  const user = await api('GET', `/users/${id}`, { signal });
  const mine = id === me;
  document.title = `${user.username} • photofeed`;
  let followers = user.follower_count;
  const followerCount = h('strong', {}, followers.toLocaleString());
  const followerLabel = h('span', {}, followers === 1 ? ' follower' : ' followers');
  const stat = (count, label, href) => h('li', {}, h(href ? 'a' : 'span', href ? { href } : {},
    h('strong', {}, count.toLocaleString()), ` ${label}`));
  const actions = mine
    ? [h('a', { class: 'btn', href: '#/settings' }, 'Settings'), h('a', { class: 'btn', href: '#/new' }, 'New post')]
    : [followButton(user, (delta) => {
      followers += delta;
      followerCount.textContent = followers.toLocaleString();
      followerLabel.textContent = followers === 1 ? ' follower' : ' followers';
    })];
  const grid = h('ul', { class: 'grid', 'aria-label': `Posts by ${user.username}` });
  main.append(h('div', { class: 'wide' },
    h('header', { class: 'profile' },
      avatar(user, 80),
      h('div', { class: 'profile-main' },
        h('div', { class: 'row' }, h('h1', { tabindex: '-1' }, user.username), ...actions),
        h('ul', { class: 'stats' },
          stat(user.post_count, user.post_count === 1 ? 'post' : 'posts'),
          h('li', {}, h('a', { href: `#/u/${id}/followers` }, followerCount, followerLabel)),
          stat(user.following_count, 'following', `#/u/${id}/following`)))),
    h('h2', { class: 'visually-hidden' }, 'Posts'),
    grid));
  const list = infiniteList({
    list: grid,
    signal,
    idOf: (post) => post.post_id,
    load: async (cursor) => {
      const page = await api('GET', `/users/${id}/posts${qs({ limit: 12, cursor })}`, { signal });
      return { items: page.posts, next_cursor: page.next_cursor, has_more: page.has_more };
    },
    renderItem: gridCell,
    emptyText: mine ? h('a', { href: '#/new' }, 'Share your first photo') : 'No posts yet.',
    endText: '',
  });
  await list.first;
  if (mine) list.prepend(publishedPosts((post) => post.user?.user_id === me));
}

export function followListPage(which) {
  return async ({ main, params, signal }) => {
    const user = await api('GET', `/users/${params.id}`, { signal });
    const title = which === 'followers' ? `People following ${user.username}` : `People ${user.username} follows`;
    document.title = `${title} • photofeed`;
    const list = h('ul', { class: 'users' });
    main.append(h('div', { class: 'column' },
      h('p', {}, h('a', { href: `#/u/${params.id}` }, `← ${user.username}`)),
      h('h1', { tabindex: '-1' }, title), list));
    await infiniteList({
      list,
      signal,
      idOf: (u) => u.user_id,
      load: async (cursor) => {
        const page = await api('GET', `/users/${params.id}/${which}${qs({ limit: 20, cursor })}`, { signal });
        return { items: page.users, next_cursor: page.next_cursor, has_more: page.has_more };
      },
      renderItem: userRow,
      emptyText: which === 'followers' ? 'No followers yet.' : 'Not following anyone yet.',
      endText: '',
    }).first;
  };
}
