// "Edit profile" on the user's own profile page: display name, bio and a new avatar (or none).
// Text goes in one PATCH /users/me; an avatar is a direct upload (POST /users/me/avatar) that
// the media agent checks like a photo and cuts into squares, so the form waits for its status
// (published, or rejected with the reason) before it reports done. Every answer's
// Photofeed-Position is sent back by api(), so the profile shown next has the changes.

import { api } from '../api.js';
import { alertBox, avatar, field, h, sleep } from '../dom.js';

const ACCEPT = 'image/jpeg,image/png,image/webp,image/gif,image/heic,image/heif';
const MAX_AVATAR_BYTES = 10 * 1024 * 1024; // direct uploads (PHOTOFEED_DIRECT_UPLOAD_MAX_BYTES)
const MAX_NAME = 50;
const MAX_BIO = 300;
const PROCESSING_TIMEOUT_MS = 60000;

async function settled(photoId, signal) {
  const deadline = Date.now() + PROCESSING_TIMEOUT_MS;
  for (let wait = 250; Date.now() < deadline; wait = Math.min(2000, wait * 1.5)) {
    const status = await api('GET', `/photos/${photoId}/status`, { signal });
    if (status.status !== 'processing') return status;
    await sleep(wait);
  }
  return null;
}

/** The form for `user` (the GET /users/{id} profile); onDone() after a successful save. */
export function editProfileForm(user, { signal, onDone, onCancel }) {
  const name = field('Display name', { name: 'display_name', maxlength: String(MAX_NAME), value: user.display_name || '', autocomplete: 'name' },
    `Up to ${MAX_NAME} characters; leave it empty to show only your username.`);
  const bio = field('Bio', { tag: 'textarea', name: 'bio', rows: '3', maxlength: String(MAX_BIO) },
    `Up to ${MAX_BIO} characters.`);
  bio.querySelector('textarea').value = user.bio || '';
  const file = field('New avatar', { type: 'file', name: 'avatar', accept: ACCEPT },
    'JPEG, PNG, WebP, GIF or HEIC, up to 10 MB; cropped to a centred square.');
  const remove = h('input', { type: 'checkbox', name: 'remove_avatar', id: 'remove-avatar' });
  const removeRow = user.avatar_url
    ? h('div', { class: 'row' }, remove, h('label', { for: 'remove-avatar' }, 'Remove my avatar'))
    : null;
  const stage = h('p', { class: 'stage', role: 'status' });
  const error = alertBox();
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'btn', onclick: () => onCancel() }, 'Cancel');
  const form = h('form', { class: 'stack card edit-profile', novalidate: true, 'aria-label': 'Edit profile' },
    h('div', { class: 'row' }, avatar(user, 44), h('strong', {}, user.username)),
    name, bio, file, removeRow, stage, error, h('div', { class: 'row end' }, cancel, save));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.show('');
    const chosen = form.avatar.files[0];
    const patch = {};
    if (form.display_name.value.trim() !== (user.display_name || '')) patch.display_name = form.display_name.value;
    if (form.bio.value.trim() !== (user.bio || '')) patch.bio = form.bio.value;
    if ((patch.display_name || '').trim().length > MAX_NAME) return error.show(`The display name can be at most ${MAX_NAME} characters.`);
    if (chosen && chosen.size > MAX_AVATAR_BYTES) return error.show('This image is larger than 10 MB.');
    save.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      if (Object.keys(patch).length) await api('PATCH', '/users/me', { body: patch, signal });
      if (chosen) {
        stage.textContent = 'Uploading your avatar…';
        const body = new FormData();
        body.append('photo', chosen, chosen.name);
        const ticket = await api('POST', '/users/me/avatar', { body, key: true, signal });
        stage.textContent = 'Processing your avatar…';
        const status = await settled(ticket.photo_id, signal);
        if (status?.status === 'rejected') {
          stage.textContent = '';
          return error.show(`This avatar could not be used: ${status.reason || status.reason_code}`);
        }
        if (!status) stage.textContent = 'Still processing: your new avatar will appear shortly.';
      } else if (remove.checked) {
        await api('DELETE', '/users/me/avatar', { signal });
      }
      onDone();
    } catch (err) {
      if (err.name === 'AbortError' || signal.aborted) return;
      stage.textContent = '';
      error.show(err.message);
    } finally {
      save.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return form;
}
