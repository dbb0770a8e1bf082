// The signed-in session: {token, user_id, username, expires_at} in localStorage, so it survives
// a reload (never in a URL). Other tabs follow a log-in or log-out through the storage event.

const KEY = 'photofeed.session';
const listeners = new Set();

function read() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (value && value.token && Date.parse(value.expires_at) > Date.now()) return value;
  } catch {
    // unreadable: treated as signed out
  }
  return null;
}

let current = read();

export function session() {
  if (current && Date.parse(current.expires_at) <= Date.now()) signOut();
  return current;
}

export function signIn(value) {
  current = value;
  localStorage.setItem(KEY, JSON.stringify(value));
  listeners.forEach((fn) => fn(current));
}

export function signOut() {
  current = null;
  localStorage.removeItem(KEY);
  listeners.forEach((fn) => fn(null));
}

export function onSessionChange(fn) {
  listeners.add(fn);
}

window.addEventListener('storage', (event) => {
  if (event.key !== KEY) return;
  current = read();
  listeners.forEach((fn) => fn(current));
});
