// A hash router: '#/u/123?tab=x' -> the first route whose pattern matches ('/u/:id'). Each
// navigation aborts the previous view's AbortSignal (views stop their observers and timers
// on it), renders into <main>, then moves focus to the view's heading for screen readers.

const routes = [];
let controller = null;
let fallback = null;

export function route(pattern, render) {
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  routes.push({ regex: new RegExp(`^${source}$`), names, render });
}

export function notFound(render) {
  fallback = render;
}

export function currentPath() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(query) };
}

export function navigate(hash, { replace = false } = {}) {
  if (replace) {
    history.replaceState(null, '', hash);
    render();
  } else if (location.hash === hash) {
    render();
  } else {
    location.hash = hash;
  }
}

export async function render() {
  const { path, query } = currentPath();
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const main = document.getElementById('main');
  let params = {};
  let view = fallback;
  for (const r of routes) {
    const match = r.regex.exec(path);
    if (match) {
      params = Object.fromEntries(r.names.map((name, i) => [name, decodeURIComponent(match[i + 1])]));
      view = r.render;
      break;
    }
  }
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  window.scrollTo(0, 0);
  document.dispatchEvent(new CustomEvent('photofeed:navigate', { detail: { path } }));
  try {
    await view({ main, params, query, path, signal });
  } catch (err) {
    if (err.name !== 'AbortError' && !signal.aborted) {
      const box = document.createElement('p');
      box.className = 'alert';
      box.setAttribute('role', 'alert');
      box.textContent = err.status === 404 ? 'This page is not available: it may have been deleted.' : err.message;
      main.append(box);
    }
  } finally {
    if (!signal.aborted) main.removeAttribute('aria-busy');
  }
  if (!signal.aborted && document.body.dataset.booted) {
    main.querySelector('h1')?.focus({ preventScroll: true });
  }
  document.body.dataset.booted = 'true';
}

export function start() {
  window.addEventListener('hashchange', render);
  return render();
}
