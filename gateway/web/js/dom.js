// DOM helpers: element building (nodes only, never HTML strings: text stays text), icons, the
// polite status region, confirmation dialogs, times and captions with #tags and @mentions.

const SVG = 'http://www.w3.org/2000/svg';

/** h('button', {class: 'x', onclick: fn, hidden: true}, 'text', child, [more]) -> Element.
 *  Props named on* become listeners, `false`/`null` props are left out. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

const PATHS = {
  heart: 'M12 20.5s-7.5-4.6-9.2-9.1C1.6 8.1 3.6 4.5 7.2 4.5c2 0 3.6 1.1 4.8 2.8 1.2-1.7 2.8-2.8 4.8-2.8 3.6 0 5.6 3.6 4.4 6.9-1.7 4.5-9.2 9.1-9.2 9.1z',
  comment: 'M21 11.5a8.5 8.5 0 0 1-12.6 7.4L3 20.5l1.6-5A8.5 8.5 0 1 1 21 11.5z',
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
};

export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon icon-${name}`);
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', PATHS[name]);
  svg.append(path);
  return svg;
}

let toastTimer = 0;
/** Say `message` in the polite live region (and show it briefly). */
export function announce(message) {
  const toast = document.getElementById('toast');
  toast.textContent = '';
  requestAnimationFrame(() => {
    toast.textContent = message;
    toast.classList.add('show');
  });
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toast.classList.remove('show'), 4000);
}

/** An inline error box (role=alert) that `show(message)` fills and `show('')` hides. */
export function alertBox() {
  const box = h('p', { class: 'alert', role: 'alert', hidden: true });
  box.show = (message) => {
    box.textContent = message || '';
    box.hidden = !message;
  };
  return box;
}

/** A modal <dialog>: title, body nodes, a confirm button that runs `action(form)`; resolves to
 *  action's result, or null when cancelled. `action` may throw to keep the dialog open with
 *  the error shown. */
export function confirmDialog({ title, body, confirm, danger = false, action }) {
  return new Promise((resolve) => {
    const error = alertBox();
    const ok = h('button', { type: 'submit', class: danger ? 'btn danger' : 'btn primary' }, confirm);
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const id = `d${Math.random().toString(36).slice(2)}`;
    const form = h('form', { method: 'dialog' },
      h('h2', { id }, title), body, error, h('div', { class: 'row end' }, cancel, ok));
    const dialog = h('dialog', { 'aria-labelledby': id }, form);
    let result = null;
    cancel.addEventListener('click', () => dialog.close());
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      ok.disabled = true;
      error.show('');
      try {
        result = await action(form);
        dialog.close();
      } catch (err) {
        error.show(err.message);
      } finally {
        ok.disabled = false;
      }
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A labelled form field: <label> + <input> (or textarea), with an optional hint. */
export function field(label, props, hint) {
  const id = props.id || `f${Math.random().toString(36).slice(2)}`;
  const hintId = hint ? `${id}-hint` : null;
  const tag = props.tag || 'input';
  const control = h(tag, { ...props, tag: null, id, 'aria-describedby': hintId });
  return h('div', { class: 'field' },
    h('label', { for: id }, label), control, hint && h('p', { class: 'hint', id: hintId }, hint));
}

const UNITS = [['y', 31536000], ['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]];
/** <time> with a short relative label ("5m", "3d") and the full date as its title. */
export function timeAgo(iso) {
  const at = new Date(iso);
  const seconds = Math.max(0, (Date.now() - at.getTime()) / 1000);
  let label = 'now';
  for (const [unit, size] of UNITS) {
    if (seconds >= size) {
      label = `${Math.floor(seconds / size)}${unit}`;
      break;
    }
  }
  return h('time', { datetime: iso, title: at.toLocaleString() }, label);
}

// A hashtag as the API reads one (projections/text.py): # (or a full-width #) and 1 to 50
// letters, digits or _ (then combining marks too), not inside a word, a URL or an entity.
const HASHTAG = /(?<![\p{L}\p{N}\p{M}_#\uff03@&/])[#\uff03]([\p{L}\p{N}_][\p{L}\p{N}\p{M}_]*)/gu;

/** Caption or comment text with its #tags linked to their tag pages and its mentions (the API's
 *  `mentions`: offsets in code points) to the profiles they name; an @name that names nobody
 *  stays text. */
export function richText(text, mentions = []) {
  const value = String(text || '');
  const chars = Array.from(value);
  const unit = [0]; // code point index -> UTF-16 index
  for (const ch of chars) unit.push(unit[unit.length - 1] + ch.length);
  const links = [];
  for (const m of mentions || []) {
    if (m.start >= 0 && m.end <= chars.length && m.start < m.end && chars[m.start] === '@') {
      links.push({ from: unit[m.start], to: unit[m.end], href: `#/u/${m.user_id}`, kind: 'mention' });
    }
  }
  for (const m of value.matchAll(HASHTAG)) {
    const letters = Array.from(m[1]);
    if (letters.length > 50) continue; // past the bound: plain text, as the API reads it
    links.push({ from: m.index, to: m.index + m[0].length, href: `#/t/${encodeURIComponent(m[1])}`, kind: 'tag' });
  }
  links.sort((a, b) => a.from - b.from);
  const out = [];
  let at = 0;
  for (const link of links) {
    if (link.from < at) continue; // overlaps one already linked
    out.push(value.slice(at, link.from), h('a', { href: link.href, class: link.kind }, value.slice(link.from, link.to)));
    at = link.to;
  }
  out.push(value.slice(at));
  return out;
}

/** The #tags of a caption, without '#', lower-cased, unique (close to the API's rules, which
 *  decide: this only shows a just-published post before the API answers it). */
export function tagsOf(text) {
  const tags = [...String(text).matchAll(/#([\p{L}\p{N}_]{1,50})/gu)].map((m) => m[1].toLowerCase());
  return [...new Set(tags)].slice(0, 30);
}

export function avatar(user, size = 32) {
  const name = user?.username || '?';
  if (user?.avatar_url) {
    return h('img', { class: `avatar s${size}`, src: user.avatar_url, alt: '', width: size, height: size });
  }
  return h('span', { class: `avatar s${size}`, 'aria-hidden': 'true' }, name[0].toUpperCase());
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
