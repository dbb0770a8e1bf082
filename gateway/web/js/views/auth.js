// #/login and #/signup: forms that end in a stored session, then the feed.

import { api, newKey } from '../api.js';
import { alertBox, field, h } from '../dom.js';
import { navigate } from '../router.js';
import { signIn } from '../session.js';

const USERNAME_HINT = '3 to 30 characters: a–z, 0–9, _ and . (not at either end).';

async function logIn(username, password) {
  const answer = await api('POST', '/sessions', { body: { username, password }, anonymous: true });
  signIn({ token: answer.token, user_id: answer.user_id, username, expires_at: answer.expires_at });
}

function authForm({ main, signup, notice }) {
  document.title = `${signup ? 'Sign up' : 'Log in'} • photofeed`;
  const error = alertBox();
  const submit = h('button', { type: 'submit', class: 'btn primary wide' }, signup ? 'Sign up' : 'Log in');
  const form = h('form', { class: 'stack', novalidate: true },
    field('Username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false', maxlength: '30' },
      signup ? USERNAME_HINT : null),
    field('Password', { name: 'password', type: 'password', required: true, minlength: '8', maxlength: '256',
      autocomplete: signup ? 'new-password' : 'current-password' }, signup ? 'At least 8 characters.' : null),
    error, submit);
  let key = null; // one registration per username typed, however often it is submitted
  let registered = null; // registered but not yet logged in (a failed login is retried alone)
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = form.username.value.trim().toLowerCase();
    const password = form.password.value;
    if (!username || password.length < 8) {
      error.show(!username ? 'Enter a username.' : 'The password needs at least 8 characters.');
      (!username ? form.username : form.password).focus();
      return;
    }
    submit.disabled = true;
    error.show('');
    try {
      if (signup && registered !== username) {
        key = key || newKey();
        await api('POST', '/users', { body: { username, password }, key, anonymous: true });
        registered = username;
      }
      await logIn(username, password);
      navigate('#/', { replace: true });
    } catch (err) {
      if (err.status === 401) error.show('Wrong username or password.');
      else if (err.status === 409) error.show('That username is taken. Try another one.');
      else error.show(err.message);
    } finally {
      submit.disabled = false;
    }
  });
  form.addEventListener('input', () => { key = null; });
  main.append(h('section', { class: 'auth' },
    h('p', { class: 'logo big', 'aria-hidden': 'true' }, 'photofeed'),
    h('h1', { tabindex: '-1' }, signup ? 'Create your account' : 'Log in to photofeed'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    form,
    h('p', { class: 'switch' }, signup ? 'Have an account? ' : 'New here? ',
      h('a', { href: signup ? '#/login' : '#/signup' }, signup ? 'Log in' : 'Sign up'))));
}

export function loginPage({ main, query }) {
  const notices = {
    erased: 'Your account is being erased. Thank you for having been here.',
    expired: 'Your session ended. Please log in again.',
    out: 'You are logged out.',
  };
  authForm({ main, signup: false, notice: notices[query.get('m')] });
}

export function signupPage({ main }) {
  authForm({ main, signup: true });
}
