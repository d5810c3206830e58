// The sync indicator (top right) for the calendars shown: the worst state among them, in the
// user's language, with the sync service's message when something failed; the banner under the
// bar when the user's own calendar is not connected or needs reconnecting. Uses `api`, `t`, `state`
// (app.js) and `nameOf` (people.js).
"use strict";

const WORST_FIRST = ["needs_reauth", "failed", "throttled", "syncing", "pending", "in_sync", "not_configured"];

async function syncStates(userIds) {
  if (!userIds.length) return [];
  const query = new URLSearchParams();
  for (const id of userIds) query.append("users", id);
  return api(`/sync-status?${query}`).catch(() => []);
}

async function showSyncState() {
  const known = await syncStates([...state.shown].slice(0, 50));
  const worst = WORST_FIRST.find((s) => known.some((k) => k.state === s)) || "not_configured";
  const indicator = document.getElementById("sync-state");
  indicator.dataset.state = worst;
  const message = stateMessage(worst, known);
  const text = t(worst) + (message ? `: ${message}` : "");
  if (indicator.textContent !== text) indicator.textContent = text; // a live region: say changes only
  const mine = known.find((k) => k.user_id === state.me.id);
  const banner = BANNERS[mine && mine.state];
  document.getElementById("banner").hidden = !banner;
  if (banner) {
    document.getElementById("banner-text").textContent = t(banner.text);
    document.getElementById("banner-connect").textContent = t(banner.button);
  }
}

const BANNERS = {
  not_configured: {text: "notConfiguredBanner", button: "connectNow"},
  needs_reauth: {text: "reauthBanner", button: "reconnectNow"},
};

// Which calendars are in the worst state, and why: re-authorisation is explained by the banner
// (your own calendar) or the connection dialog, so only names are given; a failure keeps the
// sync service's message, what went wrong. Names only when several calendars are shown.
function stateMessage(worst, known) {
  const several = state.shown.size > 1;
  return known
    .filter((k) => k.state === worst)
    .map((k) => {
      const reason = worst === "needs_reauth" ? "" : k.message;
      return several && reason ? `${nameOf(k.user_id)}: ${reason}` : several ? nameOf(k.user_id) : reason;
    })
    .filter(Boolean)
    .join(" · ");
}

async function askForSync(userId = state.me.id, reason = "manual_refresh") {
  const body = JSON.stringify({reason});
  await api(`/users/${userId}/sync-status/refresh`, {method: "POST", body}).catch(() => null);
  await showSyncState();
}

// Refresh asks for every shown calendar a sync (another user's only for administrators).
document.getElementById("refresh").addEventListener("click", async () => {
  const users = state.me.is_admin ? [...state.shown] : [state.me.id];
  await Promise.all(users.map((id) => askForSync(id)));
});
