// Blocks and mutes: the Mute / Block buttons of someone else's profile, and the settings section
// that lists whom you blocked or muted (a blocked account's profile is hidden from you too, so
// that list is where you unblock).

import { api, qs } from '../api.js';
import { announce, avatar, confirmDialog, h } from '../dom.js';
import { navigate } from '../router.js';
import { infiniteList } from '../scroll.js';

/** A Mute / Muted toggle for `user` ({user_id, username, muted_by_viewer}). */
export function muteButton(user) {
  let muted = Boolean(user.muted_by_viewer);
  let busy = false;
  const button = h('button', { type: 'button', class: 'btn mute' });
  const paint = () => {
    button.replaceChildren(muted ? 'Muted' : 'Mute', h('span', { class: 'visually-hidden' }, ` ${user.username}`));
    button.setAttribute('aria-pressed', String(muted));
  };
  button.addEventListener('click', async () => {
    if (busy) return;
    busy = true;
    muted = !muted;
    paint();
    try {
      await api(muted ? 'POST' : 'DELETE', `/mutes/${user.user_id}`);
      announce(muted ? `You muted ${user.username}: their posts and activity are hidden from you.`
        : `You unmuted ${user.username}.`);
    } catch (err) {
      muted = !muted;
      paint();
      announce(`Could not change muting ${user.username}. ${err.message}`);
    } finally {
      busy = false;
    }
  });
  paint();
  return button;
}

/** "Block…": asks first, then blocks `user` and leaves their (now hidden) profile. */
export function blockButton(user) {
  const button = h('button', { type: 'button', class: 'btn danger block' }, 'Block',
    h('span', { class: 'visually-hidden' }, ` ${user.username}`));
  button.addEventListener('click', async () => {
    const done = await confirmDialog({
      title: `Block ${user.username}?`,
      body: h('p', {}, 'You stop following each other, and neither of you can see the other\'s profile, posts or comments, nor follow, like, comment on or mention the other. They are not told. You can unblock them in Settings.'),
      confirm: 'Block',
      danger: true,
      action: async () => {
        await api('POST', `/blocks/${user.user_id}`);
        return true;
      },
    });
    if (!done) return;
    announce(`You blocked ${user.username}.`);
    navigate('#/settings');
  });
  return button;
}

function relationRow(which) {
  const undo = which === 'blocks' ? 'Unblock' : 'Unmute';
  return (user) => {
    const button = h('button', { type: 'button', class: 'btn' }, undo, h('span', { class: 'visually-hidden' }, ` ${user.username}`));
    const who = [avatar(user, 44), h('span', { class: 'name' }, user.username)];
    const item = h('li', { class: 'user-row' },
      which === 'blocks' ? h('span', { class: 'who' }, ...who) : h('a', { href: `#/u/${user.user_id}`, class: 'who' }, ...who),
      button);
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await api('DELETE', `/${which}/${user.user_id}`);
        item.remove();
        announce(`${undo}ed ${user.username}.`);
      } catch (err) {
        button.disabled = false;
        announce(`Could not ${undo.toLowerCase()} ${user.username}. ${err.message}`);
      }
    });
    return item;
  };
}

function fill(list, which, signal) {
  return infiniteList({
    list,
    signal,
    idOf: (u) => u.user_id,
    load: async (cursor) => {
      const page = await api('GET', `/${which}${qs({ limit: 20, cursor })}`, { signal });
      return { items: page.users, next_cursor: page.next_cursor, has_more: page.has_more };
    },
    renderItem: relationRow(which),
    emptyText: which === 'blocks' ? 'You have not blocked anyone.' : 'You have not muted anyone.',
    endText: '',
  }).first;
}

/** The settings section (blocked accounts, then muted ones, each with its undo button): append
 *  `section`, then call `load()` (the lists fill in place). */
export function relationsSection({ signal }) {
  const blocked = h('ul', { class: 'users', 'aria-label': 'Blocked accounts' });
  const muted = h('ul', { class: 'users', 'aria-label': 'Muted accounts' });
  const section = h('section', { class: 'card', 'aria-labelledby': 's-relations' },
    h('h2', { id: 's-relations' }, 'Blocked and muted accounts'),
    h('h3', {}, 'Blocked'), h('div', {}, blocked),
    h('h3', {}, 'Muted'), h('div', {}, muted));
  const load = () => Promise.all([fill(blocked, 'blocks', signal), fill(muted, 'mutes', signal)]);
  return { section, load };
}
