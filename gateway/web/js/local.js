// Read-your-writes: posts this tab published (shown in the feed and the author's grid before,
// and besides, what the projections return) and posts it deleted (hidden everywhere at once,
// even from a page the server answered a moment before the deletion landed).

const published = new Map(); // post_id -> post object, newest last
const deleted = new Set();

export function rememberPublished(post) {
  published.set(post.post_id, post);
}

export function rememberDeleted(postId) {
  deleted.add(postId);
  published.delete(postId);
}

export const isDeleted = (postId) => deleted.has(postId);

/** This tab's own published posts matching `keep`, newest first. */
export function publishedPosts(keep = () => true) {
  return [...published.values()].filter(keep).reverse();
}
