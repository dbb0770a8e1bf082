// Private accounts: the Settings card with the "Private account" switch (PATCH /users/me
// {private}) and the follow requests waiting for an answer (GET /follow-requests, each with
// Approve / Reject), and the notice a private profile shows to whom may not see it.

import { api, qs } from '../api.js';
import { announce, avatar, h } from '../dom.js';
import { infiniteList } from '../scroll.js';
import { session } from '../session.js';

/** What a private profile shows instead of its posts to someone it has not approved. */
export function privateNotice(user) {
  return h('div', { class: 'private-notice', role: 'note' },
    h('h2', {}, 'This account is private'),
    h('p', {}, user.requested_by_viewer
      ? `You asked to follow ${user.username}. Their posts show here once they approve.`
      : `Follow ${user.username} to ask to see their photos.`));
}

function requestRow(user) {
  const approve = h('button', { type: 'button', class: 'btn primary' }, 'Approve',
    h('span', { class: 'visually-hidden' }, ` ${user.username}`));
  const reject = h('button', { type: 'button', class: 'btn' }, 'Reject',
    h('span', { class: 'visually-hidden' }, ` ${user.username}`));
  const item = h('li', { class: 'user-row' },
    h('a', { href: `#/u/${user.user_id}`, class: 'who' }, avatar(user, 44), h('span', { class: 'name' }, user.username)),
    h('div', { class: 'row' }, approve, reject));
  const answer = async (verb) => {
    approve.disabled = true;
    reject.disabled = true;
    try {
      await api('POST', `/follow-requests/${user.user_id}/${verb}`);
      item.remove();
      announce(verb === 'approve' ? `${user.username} now follows you.` : `You rejected ${user.username}'s request.`);
    } catch (err) {
      approve.disabled = false;
      reject.disabled = false;
      announce(`Could not answer ${user.username}. ${err.message}`);
    }
  };
  approve.addEventListener('click', () => answer('approve'));
  reject.addEventListener('click', () => answer('reject'));
  return item;
}

function privateSwitch(initial) {
  let value = initial;
  const box = h('input', { type: 'checkbox', id: 'private-account', name: 'private' });
  box.checked = value;
  box.addEventListener('change', async () => {
    box.disabled = true;
    try {
      await api('PATCH', '/users/me', { body: { private: box.checked } });
      value = box.checked;
      announce(value ? 'Your account is private: only followers you approve see your posts.'
        : 'Your account is public: pending requests were approved.');
    } catch (err) {
      box.checked = value;
      announce(`Could not change your account's privacy. ${err.message}`);
    } finally {
      box.disabled = false;
    }
  });
  return box;
}

/** The Settings card: append `section`, then call `load()` (the switch and the list fill in). */
export function privacySection({ signal }) {
  const switchRow = h('div', { class: 'row switch-row' });
  const requests = h('ul', { class: 'users', 'aria-label': 'Follow requests' });
  const section = h('section', { class: 'card', 'aria-labelledby': 's-privacy' },
    h('h2', { id: 's-privacy' }, 'Privacy'),
    switchRow,
    h('p', { class: 'hint' }, 'A private account\'s posts, followers and following are seen only by the people you approve. Your profile (name, photo, counts) stays visible so that people can ask to follow. Going public approves every pending request.'),
    h('h3', {}, 'Follow requests'), h('div', {}, requests));
  const load = async () => {
    const me = await api('GET', `/users/${session().user_id}`, { signal });
    switchRow.replaceChildren(privateSwitch(Boolean(me.private)),
      h('label', { for: 'private-account' }, 'Private account'));
    await infiniteList({
      list: requests,
      signal,
      idOf: (u) => u.user_id,
      load: async (cursor) => {
        const page = await api('GET', `/follow-requests${qs({ limit: 20, cursor })}`, { signal });
        return { items: page.users, next_cursor: page.next_cursor, has_more: page.has_more };
      },
      renderItem: requestRow,
      emptyText: 'No one is waiting for an answer.',
      endText: '',
    }).first;
  };
  return { section, load };
}
