// #/settings — log out (here or everywhere), change the password, a private account and its
// follow requests (views/privacy.js), blocked and muted accounts (views/relations.js), erase the
// account (asks for the password, as the API requires).

import { api } from '../api.js';
import { alertBox, announce, confirmDialog, field, h } from '../dom.js';
import { navigate } from '../router.js';
import { session, signIn, signOut } from '../session.js';
import { privacySection } from './privacy.js';
import { relationsSection } from './relations.js';

async function logOut(everywhere) {
  try {
    await api('DELETE', everywhere ? '/sessions' : '/sessions/current');
  } catch {
    // the token is dropped here either way
  }
  navigate('#/login?m=out');
  signOut();
}

function passwordForm() {
  const error = alertBox();
  const done = h('p', { class: 'notice', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Change password');
  const form = h('form', { class: 'stack', novalidate: true },
    field('Current password', { type: 'password', name: 'current_password', autocomplete: 'current-password', required: true }),
    field('New password', { type: 'password', name: 'new_password', autocomplete: 'new-password', required: true, minlength: '8' },
      'At least 8 characters. Your other sessions will be logged out.'),
    error, done, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    done.textContent = '';
    const body = { current_password: form.current_password.value, new_password: form.new_password.value };
    if (body.new_password.length < 8) return error.show('The new password needs at least 8 characters.');
    submit.disabled = true;
    error.show('');
    try {
      const answer = await api('POST', '/users/me/password', { body });
      signIn({ ...session(), token: answer.token, expires_at: answer.expires_at });
      form.reset();
      done.textContent = 'Password changed. Other sessions were logged out.';
    } catch (err) {
      error.show(err.code === 'wrong_password' ? 'The current password is not right.' : err.message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

async function eraseAccount() {
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const erased = await confirmDialog({
    title: 'Delete your account?',
    body: [h('p', {}, 'Your photos, comments, likes and follows are erased everywhere, and your username is released. This cannot be undone.'),
      password],
    confirm: 'Delete my account',
    danger: true,
    action: async (form) => {
      if (!form.password.value) throw new Error('Enter your password to confirm.');
      try {
        await api('DELETE', '/users/me', { body: { password: form.password.value } });
      } catch (err) {
        throw new Error(err.code === 'wrong_password' ? 'That password is not right.' : err.message);
      }
      return true;
    },
  });
  if (!erased) return;
  navigate('#/login?m=erased');
  signOut();
}

export async function settingsPage({ main, signal }) {
  document.title = 'Settings • photofeed';
  const me = session();
  const relations = relationsSection({ signal });
  const privacy = privacySection({ signal });
  main.append(h('div', { class: 'column narrow' },
    h('h1', { tabindex: '-1' }, 'Settings'),
    h('section', { class: 'card', 'aria-labelledby': 's-session' },
      h('h2', { id: 's-session' }, 'Session'),
      h('p', {}, 'Logged in as ', h('strong', {}, me.username), '.'),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'btn', onclick: () => logOut(false) }, 'Log out'),
        h('button', { type: 'button', class: 'btn', onclick: () => logOut(true) }, 'Log out everywhere'))),
    h('section', { class: 'card', 'aria-labelledby': 's-password' },
      h('h2', { id: 's-password' }, 'Password'), passwordForm()),
    privacy.section,
    relations.section,
    h('section', { class: 'card danger-zone', 'aria-labelledby': 's-erase' },
      h('h2', { id: 's-erase' }, 'Delete account'),
      h('p', {}, 'Erase your account and everything you shared.'),
      h('button', { type: 'button', class: 'btn danger', onclick: () => eraseAccount().catch((err) => announce(err.message)) }, 'Delete account…'))));
  await Promise.all([privacy.load(), relations.load()]);
}
