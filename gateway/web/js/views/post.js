// A post: the photo (BlurHash placeholder, srcset over the three variants, lazy), likes with an
// optimistic update that rolls back on error, comments (list, add, delete), deletion by its
// author. Also the profile grid's cells and the single-post page (#/p/:id).

import { api, newKey, qs } from '../api.js';
import { placeholder } from '../blurhash.js';
import { alertBox, announce, avatar, confirmDialog, h, icon, plural, richText, timeAgo } from '../dom.js';
import { isDeleted, rememberDeleted } from '../local.js';
import { navigate } from '../router.js';
import { session } from '../session.js';

const FEED_SIZES = '(min-width: 520px) 470px, 100vw';
const GRID_SIZES = '(min-width: 935px) 309px, 33vw';

/** Width of a variant that fits `bound` (never upscaled), from the original's size. */
function fitWidth(post, bound) {
  const { width, height } = post;
  if (!width || !height) return bound;
  return Math.round(width * Math.min(1, bound / Math.max(width, height)));
}

export function altOf(post) {
  if (post.alt_text) return post.alt_text;
  const who = post.user?.username ? `Photo by ${post.user.username}` : 'Photo';
  return post.caption ? `${who}: ${post.caption.slice(0, 120)}` : who;
}

/** The photo in a box of its aspect ratio: placeholder first, the image fading in once loaded. */
export function photo(post, { sizes = FEED_SIZES, eager = false, square = false } = {}) {
  const urls = post.image_urls || {};
  const box = h('div', { class: square ? 'media square' : 'media' });
  if (!square && post.width && post.height) {
    const ratio = Math.min(1.91, Math.max(0.8, post.width / post.height)); // Instagram's bounds
    box.style.aspectRatio = String(ratio);
  }
  const blur = placeholder(post.blurhash);
  if (blur) box.append(blur);
  const img = h('img', {
    alt: altOf(post),
    src: urls.feed || urls.full || urls.thumbnail,
    srcset: [
      urls.thumbnail && `${urls.thumbnail} 150w`,
      urls.feed && `${urls.feed} ${fitWidth(post, 640)}w`,
      urls.full && `${urls.full} ${fitWidth(post, 1080)}w`,
    ].filter(Boolean).join(', '),
    sizes,
    loading: eager ? 'eager' : 'lazy',
    decoding: 'async',
    width: post.width || null,
    height: post.height || null,
  });
  if (eager) img.setAttribute('fetchpriority', 'high');
  img.addEventListener('load', () => box.classList.add('loaded'), { once: true });
  img.addEventListener('error', () => box.classList.add('failed'), { once: true });
  box.append(img);
  return box;
}

export function gridCell(post) {
  if (isDeleted(post.post_id)) return null;
  return h('li', { class: 'cell', 'data-post-id': post.post_id },
    h('a', { href: `#/p/${post.post_id}` }, photo(post, { sizes: GRID_SIZES, square: true })));
}

/** The post card of the feed and the post page. Options: eager (the first image), open (show
 *  the comments at once), onDeleted. */
export function postCard(post, { eager = false, open = false, onDeleted } = {}) {
  if (isDeleted(post.post_id)) return null;
  const me = session()?.user_id;
  const id = post.post_id;
  const author = post.user || {};
  const mine = author.user_id === me;
  const headingId = `post-${id}`;
  const article = h('article', { class: 'post', 'data-post-id': id, 'aria-labelledby': headingId });

  const header = h('header', { class: 'post-head' },
    h('a', { href: `#/u/${author.user_id}`, class: 'who' }, avatar(author),
      h('span', { class: 'name', id: headingId }, author.username || 'unknown')),
    h('span', { class: 'dot', 'aria-hidden': 'true' }, '•'), timeAgo(post.created_at));
  if (mine) {
    header.append(h('button', {
      type: 'button', class: 'icon-btn end', 'aria-label': 'Delete post', onclick: () => remove(),
    }, icon('trash')));
  }

  // likes: optimistic, rolled back when the API refuses
  let liked = Boolean(post.liked_by_viewer);
  let likes = post.like_count || 0;
  let liking = false;
  const likeButton = h('button', { type: 'button', class: 'icon-btn like', 'aria-label': 'Like' }, icon('heart'));
  const likeCount = h('p', { class: 'likes' });
  const paintLikes = () => {
    likeButton.setAttribute('aria-pressed', String(liked));
    likeCount.textContent = plural(likes, 'like');
  };
  async function toggleLike() {
    if (liking) return;
    liking = true;
    const before = [liked, likes];
    liked = !liked;
    likes += liked ? 1 : -1;
    paintLikes();
    try {
      await api(liked ? 'POST' : 'DELETE', `/likes/${id}`);
    } catch (err) {
      [liked, likes] = before;
      paintLikes();
      announce(`Could not ${before[0] ? 'unlike' : 'like'} the post. ${err.message}`);
    } finally {
      liking = false;
    }
  }
  likeButton.addEventListener('click', toggleLike);
  paintLikes();

  const media = photo(post, { eager });
  media.addEventListener('dblclick', () => liked || toggleLike());

  // comments
  let commentCount = post.comment_count || 0;
  let cursor = null;
  let loaded = false;
  const list = h('ul', { class: 'comments', 'aria-label': 'Comments' });
  const more = h('button', { type: 'button', class: 'btn link', hidden: true, onclick: () => loadComments() }, 'Load more comments');
  const toggle = h('button', { type: 'button', class: 'btn link muted', 'aria-expanded': 'false' });
  const paintCount = () => {
    toggle.textContent = commentCount === 1 ? 'View 1 comment' : `View all ${plural(commentCount, 'comment')}`;
    toggle.hidden = loaded || !commentCount;
  };
  const commentError = alertBox();

  function commentItem(c) {
    const item = h('li', { class: 'comment', 'data-comment-id': c.comment_id },
      h('a', { href: `#/u/${c.user?.user_id}`, class: 'name' }, c.user?.username || 'unknown'), ' ',
      h('span', { class: 'text' }, richText(c.text, c.mentions)), ' ', timeAgo(c.created_at));
    if (c.user?.user_id === me || mine) {
      item.append(h('button', {
        type: 'button', class: 'icon-btn small', 'aria-label': `Delete comment by ${c.user?.username || 'unknown'}`,
        onclick: () => deleteComment(c, item),
      }, icon('trash')));
    }
    return item;
  }

  async function loadComments() {
    more.disabled = true;
    try {
      const page = await api('GET', `/posts/${id}/comments${qs({ limit: 20, cursor })}`);
      list.append(...page.comments.map(commentItem));
      cursor = page.next_cursor;
      more.hidden = !page.has_more;
      loaded = true;
      toggle.setAttribute('aria-expanded', 'true');
      paintCount();
    } catch (err) {
      commentError.show(err.message);
    } finally {
      more.disabled = false;
    }
  }
  toggle.addEventListener('click', loadComments);

  async function deleteComment(c, item) {
    const done = await confirmDialog({
      title: 'Delete comment?', body: h('p', {}, `“${c.text.slice(0, 80)}”`), confirm: 'Delete', danger: true,
      action: async () => (await api('DELETE', `/comments/${c.comment_id}`), true),
    });
    if (!done) return;
    item.remove();
    commentCount = Math.max(0, commentCount - 1);
    paintCount();
    announce('Comment deleted.');
  }

  const input = h('input', {
    type: 'text', name: 'text', maxlength: '2200', autocomplete: 'off', placeholder: 'Add a comment…',
    id: `c-${id}`, required: true,
  });
  const send = h('button', { type: 'submit', class: 'btn link strong' }, 'Post');
  let pending = null; // {text, key}: a retry of the same text reuses its Idempotency-Key
  const form = h('form', { class: 'add-comment' },
    h('label', { for: `c-${id}`, class: 'visually-hidden' }, `Add a comment to ${author.username || 'this'}'s post`),
    input, send);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (pending?.text !== text) pending = { text, key: newKey() };
    send.disabled = true;
    commentError.show('');
    try {
      const comment = await api('POST', `/posts/${id}/comments`, { body: { text }, key: pending.key });
      pending = null;
      input.value = '';
      if (!loaded) await loadComments();
      if (!list.querySelector(`[data-comment-id="${comment.comment_id}"]`)) list.append(commentItem(comment));
      commentCount += 1;
      paintCount();
      announce('Comment posted.');
    } catch (err) {
      commentError.show(err.message);
    } finally {
      send.disabled = false;
    }
  });
  paintCount();

  async function remove() {
    const done = await confirmDialog({
      title: 'Delete post?', body: h('p', {}, 'The photo leaves every feed, your profile and search. This cannot be undone.'),
      confirm: 'Delete', danger: true, action: async () => (await api('DELETE', `/posts/${id}`), true),
    });
    if (!done) return;
    rememberDeleted(id);
    article.remove();
    announce('Post deleted.');
    onDeleted?.(post);
  }

  article.append(
    header,
    media,
    h('div', { class: 'actions' }, likeButton,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Comment', onclick: () => input.focus() }, icon('comment'))),
    likeCount,
    post.caption ? h('p', { class: 'caption' }, h('a', { href: `#/u/${author.user_id}`, class: 'name' }, author.username), ' ', richText(post.caption, post.mentions)) : null,
    toggle, list, more, commentError, form,
  );
  if (open && commentCount) loadComments();
  return article;
}

/** #/p/:id — one post with its comments open. */
export async function postPage({ main, params, signal }) {
  const heading = h('h1', { class: 'visually-hidden', tabindex: '-1' }, 'Post');
  main.append(heading);
  const post = await api('GET', `/posts/${params.id}`, { signal });
  heading.textContent = `Post by ${post.user?.username || 'unknown'}`;
  document.title = `${heading.textContent} • photofeed`;
  const card = postCard(post, { eager: true, open: true, onDeleted: () => navigate(`#/u/${session().user_id}`) });
  main.append(h('div', { class: 'column' }, card || h('p', {}, 'This post was deleted.')));
}
