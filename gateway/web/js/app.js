// The entry module: routes, the navigation's state (current page, signed in or not), the
// notifications badge, and the skip link. Nothing is global: modules import what they use.

import { refreshBadge } from './badge.js';
import { h } from './dom.js';
import { currentPath, navigate, notFound, render, route, start } from './router.js';
import { onSessionChange, session } from './session.js';
import { loginPage, signupPage } from './views/auth.js';
import { feedPage } from './views/feed.js';
import { notificationsPage } from './views/notifications.js';
import { postPage } from './views/post.js';
import { followListPage, profilePage } from './views/profile.js';
import { searchPage } from './views/search.js';
import { settingsPage } from './views/settings.js';
import { tagPage } from './views/tag.js';
import { uploadPage } from './views/upload.js';

const PUBLIC = new Set(['/login', '/signup']);

/** `view`, or the log-in page for a visitor without a session. */
function signedIn(view) {
  return (ctx) => (session() ? view(ctx) : navigate('#/login', { replace: true }));
}

function signedOut(view) {
  return (ctx) => (session() ? navigate('#/', { replace: true }) : view(ctx));
}

route('/', signedIn(feedPage));
route('/login', signedOut(loginPage));
route('/signup', signedOut(signupPage));
route('/new', signedIn(uploadPage));
route('/search', signedIn(searchPage));
route('/notifications', signedIn(notificationsPage));
route('/settings', signedIn(settingsPage));
route('/me', signedIn(() => navigate(`#/u/${session().user_id}`, { replace: true })));
route('/u/:id', signedIn(profilePage));
route('/u/:id/followers', signedIn(followListPage('followers')));
route('/u/:id/following', signedIn(followListPage('following')));
route('/p/:id', signedIn(postPage));
route('/t/:tag', signedIn(tagPage));
notFound(({ main }) => {
  document.title = 'Not found • photofeed';
  main.append(h('div', { class: 'column' }, h('h1', { tabindex: '-1' }, 'Page not found'),
    h('p', {}, h('a', { href: '#/' }, 'Go to your feed'))));
});

function paintNav(path) {
  const me = session();
  document.getElementById('nav').hidden = !me;
  document.body.classList.toggle('signed-in', Boolean(me));
  const section = {
    '/': 'feed', '/search': 'search', '/new': 'new', '/notifications': 'notifications', '/settings': 'settings',
  }[path] || (me && (path === '/me' || path.startsWith(`/u/${me.user_id}`)) ? 'profile' : '');
  for (const link of document.querySelectorAll('.nav-link')) {
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

document.addEventListener('photofeed:navigate', (event) => {
  paintNav(event.detail.path);
  refreshBadge();
});

onSessionChange((current) => {
  const { path } = currentPath();
  paintNav(path);
  if (!current && !PUBLIC.has(path)) navigate('#/login?m=expired', { replace: true });
});

// a link to the page already shown refreshes it (tapping Home again reloads the feed)
document.addEventListener('click', (event) => {
  const link = event.target.closest?.('a[href^="#/"]');
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.getAttribute('href') === location.hash) {
    event.preventDefault();
    render();
  }
});

document.getElementById('skip').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});

start();
