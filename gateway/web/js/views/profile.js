// #/u/:id — a profile: display name, bio, counts, follow/unfollow (optimistic; a private account
// is asked: views/privacy.js), "Edit profile"
// on your own (views/profile_edit.js), the grid under infinite scroll (with this tab's own new
// posts first); #/u/:id/followers and /following — the lists.

import { api, qs } from '../api.js';
import { announce, avatar, h } from '../dom.js';
import { publishedPosts } from '../local.js';
import { navigate } from '../router.js';
import { infiniteList } from '../scroll.js';
import { session } from '../session.js';
import { gridCell } from './post.js';
import { privateNotice } from './privacy.js';
import { editProfileForm } from './profile_edit.js';
import { blockButton, muteButton } from './relations.js';

/** A Follow / Requested / Following button for `user` ({user_id, username, private,
 *  followed_by_viewer, requested_by_viewer}): following a private account asks it (202
 *  requested); pressing Requested or Following takes it back. onChange(delta) is told +1 / -1
 *  at once when following changes, and the opposite when the API refuses. */
export function followButton(user, onChange = () => {}) {
  let state = user.followed_by_viewer ? 'following' : user.requested_by_viewer ? 'requested' : 'none';
  let busy = false;
  const button = h('button', { type: 'button', class: 'btn follow' });
  const paint = () => {
    const label = { following: 'Following', requested: 'Requested', none: 'Follow' }[state];
    button.replaceChildren(label, h('span', { class: 'visually-hidden' }, ` ${user.username}`));
    button.classList.toggle('primary', state === 'none');
  };
  const become = (next) => { // repaints, and tells onChange when the follow count moves
    const delta = (next === 'following') - (state === 'following');
    state = next;
    if (delta) onChange(delta);
    paint();
  };
  button.addEventListener('click', async () => {
    if (busy) return;
    busy = true;
    const before = state;
    const follow = before === 'none';
    become(follow ? (user.private ? 'requested' : 'following') : 'none');
    try {
      const answer = await api(follow ? 'POST' : 'DELETE', `/follow/${user.user_id}`);
      if (follow) become(answer?.status === 'requested' ? 'requested' : 'following');
      announce({
        following: `You follow ${user.username}.`,
        requested: `You asked to follow ${user.username}.`,
        none: before === 'requested' ? `You withdrew your request to ${user.username}.` : `You unfollowed ${user.username}.`,
      }[state]);
    } catch (err) {
      become(before);
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
    h('a', { href: `#/u/${user.user_id}`, class: 'who' }, avatar(user, 44), h('span', { class: 'name' }, user.username),
      user.display_name ? h('span', { class: 'display-name' }, user.display_name) : null),
    user.user_id === me ? null : followButton(user));
}

export async function profilePage({ main, params, signal }) {
  const me = session()?.user_id;
  const id = params.id;
  const user = await api('GET', `/users/${id}`, { signal });
  const mine = id === me;
  const hidden = user.private && !mine && !user.followed_by_viewer; // 403 for its lists and posts
  document.title = `${user.username} • photofeed`;
  let followers = user.follower_count;
  const followerCount = h('strong', {}, followers.toLocaleString());
  const followerLabel = h('span', {}, followers === 1 ? ' follower' : ' followers');
  const stat = (count, label, href) => h('li', {}, h(href && !hidden ? 'a' : 'span', href && !hidden ? { href } : {},
    h('strong', {}, count.toLocaleString()), ` ${label}`));
  const editor = h('div', { class: 'profile-editor' });
  const editButton = h('button', { type: 'button', class: 'btn', 'aria-expanded': 'false' }, 'Edit profile');
  editButton.addEventListener('click', () => {
    if (editor.firstChild) return;
    editButton.setAttribute('aria-expanded', 'true');
    const close = () => {
      editor.replaceChildren();
      editButton.setAttribute('aria-expanded', 'false');
      editButton.focus();
    };
    editor.append(editProfileForm(user, {
      signal,
      onCancel: close,
      onDone: () => {
        announce('Profile saved.');
        navigate(location.hash); // shown again with the changes (the API waits for them)
      },
    }));
    editor.querySelector('input')?.focus();
  });
  const actions = mine
    ? [editButton, h('a', { class: 'btn', href: '#/settings' }, 'Settings'), h('a', { class: 'btn', href: '#/new' }, 'New post')]
    : [followButton(user, (delta) => {
      followers += delta;
      followerCount.textContent = followers.toLocaleString();
      followerLabel.textContent = followers === 1 ? ' follower' : ' followers';
    }), muteButton(user), blockButton(user)];
  const grid = h('ul', { class: 'grid', 'aria-label': `Posts by ${user.username}` });
  main.append(h('div', { class: 'wide' },
    h('header', { class: 'profile' },
      avatar(user, 80),
      h('div', { class: 'profile-main' },
        h('div', { class: 'row' }, h('h1', { tabindex: '-1' }, user.username),
          user.private ? h('span', { class: 'badge-private', title: 'Private account' }, 'Private') : null, ...actions),
        h('ul', { class: 'stats' },
          stat(user.post_count, user.post_count === 1 ? 'post' : 'posts'),
          h('li', {}, h(hidden ? 'span' : 'a', hidden ? {} : { href: `#/u/${id}/followers` }, followerCount, followerLabel)),
          stat(user.following_count, 'following', `#/u/${id}/following`)),
        user.display_name ? h('p', { class: 'display-name' }, user.display_name) : null,
        user.bio ? h('p', { class: 'bio' }, user.bio) : null)),
    editor,
    h('h2', { class: 'visually-hidden' }, 'Posts'),
    hidden ? privateNotice(user) : grid));
  if (hidden) return;
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
