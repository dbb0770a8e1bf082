// The unread-notifications badge on the nav: refreshed on every navigation, when the tab
// becomes visible, and every 20 s while it is.

import { api } from './api.js';
import { session } from './session.js';

const PAGE = 50;
const EVERY_MS = 20000;
let timer = 0;
let readUpTo = 0n; // marked read here: hidden from the count before the projection catches up

function show(unread) {
  const badge = document.getElementById('badge');
  const label = document.getElementById('badge-label');
  badge.hidden = unread === 0;
  badge.textContent = unread >= PAGE ? `${PAGE - 1}+` : String(unread);
  label.textContent = unread ? ` (${badge.textContent} unread)` : '';
}

export async function refreshBadge() {
  clearTimeout(timer);
  if (!session()) return show(0);
  try {
    const page = await api('GET', `/notifications?limit=${PAGE}`);
    show(page.notifications.filter((n) => !n.read && BigInt(n.notification_id) > readUpTo).length);
  } catch {
    // the badge is best effort: the next refresh tries again
  }
  if (document.visibilityState === 'visible') timer = setTimeout(refreshBadge, EVERY_MS);
}

/** Everything up to `notificationId` was just marked read. */
export function markedRead(notificationId) {
  if (BigInt(notificationId) > readUpTo) readUpTo = BigInt(notificationId);
  show(0);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refreshBadge();
});
