// #/new — share a photo: presigned upload straight to S3 with a progress bar (multipart for
// large files: one presigned PUT per part), then completion, then the processing state until
// the post is published (shown here, and in the feed and grid at once) or rejected (why).

import { api, newKey, putToS3 } from '../api.js';
import { alertBox, field, h, sleep, tagsOf } from '../dom.js';
import { rememberPublished } from '../local.js';
import { session } from '../session.js';
import { postCard } from './post.js';

const TYPES = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', heic: 'image/heic', heif: 'image/heif' };
const ACCEPT = [...new Set(Object.values(TYPES))].join(',');
const MAX_BYTES = 50 * 1024 * 1024;
const PROCESSING_TIMEOUT_MS = 120000;

function contentType(file) {
  if (Object.values(TYPES).includes(file.type)) return file.type;
  return TYPES[file.name.split('.').pop().toLowerCase()] || null;
}

export function uploadPage({ main, signal }) {
  document.title = 'New post • photofeed';
  const me = session();
  const fileField = field('Photo', { type: 'file', name: 'photo', accept: ACCEPT, required: true },
    'JPEG, PNG, WebP, GIF or HEIC, up to 50 MB.');
  const fileInput = fileField.querySelector('input');
  const preview = h('img', { class: 'preview', alt: 'Preview of the selected photo', hidden: true });
  const captionField = field('Caption', { tag: 'textarea', name: 'caption', rows: '3', maxlength: '2200' },
    'Add #tags and @mentions: #tags make the photo findable in search.');
  const altField = field('Alt text', { name: 'alt_text', maxlength: '1000' },
    'Describe the photo for people who cannot see it.');
  const progress = h('progress', { max: 100, value: 0, id: 'upload-progress', 'aria-label': 'Upload progress' });
  const percent = h('span', { class: 'percent' }, '0%');
  const progressBox = h('div', { class: 'progress', hidden: true }, progress, percent);
  const stage = h('p', { class: 'stage', role: 'status' });
  const error = alertBox();
  const result = h('div', { class: 'result' });
  const submit = h('button', { type: 'submit', class: 'btn primary wide' }, 'Share');
  const form = h('form', { class: 'stack', novalidate: true },
    fileField, preview, captionField, altField, progressBox, stage, error, submit);
  main.append(h('div', { class: 'column narrow' }, h('h1', { tabindex: '-1' }, 'New post'), form, result));

  let previewUrl = null;
  const dropPreview = () => previewUrl && URL.revokeObjectURL(previewUrl);
  signal.addEventListener('abort', dropPreview);
  fileInput.addEventListener('change', () => {
    dropPreview();
    const file = fileInput.files[0];
    previewUrl = file ? URL.createObjectURL(file) : null;
    preview.hidden = !file;
    if (previewUrl) preview.src = previewUrl;
  });
  preview.addEventListener('error', () => { preview.hidden = true; });

  function report(loaded, total) {
    const pct = total ? Math.min(100, Math.round((loaded / total) * 100)) : 0;
    progress.value = pct;
    percent.textContent = `${pct}%`;
  }

  async function upload(file, ctype) {
    const caption = form.caption.value.trim();
    const alt = form.alt_text.value.trim();
    const ticket = await api('POST', '/photos', {
      key: true, signal,
      body: { filename: file.name, content_type: ctype, size_bytes: file.size, caption, alt_text: alt || undefined }, // the API reads the caption's #tags
    });
    stage.textContent = 'Uploading…';
    progressBox.hidden = false;
    let completion;
    if (ticket.multipart) {
      const { part_size: size, parts } = ticket.multipart;
      const done = [];
      for (const part of parts) {
        const start = (part.part_number - 1) * size;
        const etag = await putToS3(part.upload_url, file.slice(start, start + size), {},
          (loaded) => report(start + loaded, file.size), signal);
        done.push({ part_number: part.part_number, etag });
      }
      completion = { parts: done };
    } else {
      await putToS3(ticket.upload_url, file, ticket.upload_headers, report, signal);
    }
    report(1, 1);
    await api('POST', `/photos/${ticket.photo_id}/complete`, { body: completion, key: true, signal });
    stage.textContent = 'Processing your photo…';
    return { photoId: ticket.photo_id, caption, alt };
  }

  async function processed(photoId) {
    const deadline = Date.now() + PROCESSING_TIMEOUT_MS;
    for (let wait = 250; Date.now() < deadline; wait = Math.min(2000, wait * 1.5)) {
      const status = await api('GET', `/photos/${photoId}/status`, { signal });
      if (status.status !== 'processing') return status;
      await sleep(wait);
      if (signal.aborted) throw new DOMException('aborted', 'AbortError');
    }
    return null;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.show('');
    const file = fileInput.files[0];
    const ctype = file && contentType(file);
    if (!file) return error.show('Choose a photo to share.');
    if (!ctype) return error.show('This file type is not supported: choose a JPEG, PNG, WebP, GIF or HEIC photo.');
    if (file.size > MAX_BYTES) return error.show('This photo is larger than 50 MB.');
    submit.disabled = true;
    result.replaceChildren();
    form.setAttribute('aria-busy', 'true');
    try {
      const { photoId, caption, alt } = await upload(file, ctype);
      const status = await processed(photoId);
      if (!status) {
        stage.textContent = 'Still processing: the post will appear on your profile when it is ready.';
      } else if (status.status === 'rejected') {
        stage.textContent = '';
        error.show(`This photo could not be published: ${status.reason || status.reason_code || 'it was rejected'}`);
      } else if (status.status === 'published') {
        // the post as the API has it (its tags and mentions are the API's reading of the
        // caption; the status answer's position makes it readable now), else as it looks here
        const post = await api('GET', `/posts/${status.post_id || photoId}`).catch(() => ({
          post_id: status.post_id || photoId, user: { user_id: me.user_id, username: me.username, avatar_url: null },
          caption, tags: tagsOf(caption), mentions: [], image_urls: status.urls, width: status.width,
          height: status.height, blurhash: status.blurhash, alt_text: alt || null, like_count: 0, comment_count: 0,
          liked_by_viewer: false, created_at: status.published_at,
        }));
        rememberPublished(post);
        stage.textContent = 'Published.';
        form.reset();
        preview.hidden = true;
        progressBox.hidden = true;
        result.append(h('p', { class: 'notice' }, 'Your post is live. ', h('a', { href: '#/' }, 'See your feed'),
          ' or ', h('a', { href: `#/u/${me.user_id}` }, 'your profile'), '.'), postCard(post, { eager: true }));
      } else {
        stage.textContent = '';
        error.show('This photo is no longer available.');
      }
    } catch (err) {
      if (err.name === 'AbortError' || signal.aborted) return;
      stage.textContent = '';
      error.show(err.message);
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
}
