// Starts the page once every script is loaded.
"use strict";

async function start() {
  state.token = takeToken();
  state.me = await api("/me");
  state.texts = TEXTS[state.me.language] || TEXTS.en;
  await loadPeople();
  state.shown.add(state.me.id);
  translatePage();
  labelDescriptionEditor();
  renderPeople();
  createCalendar();
  for (const id of ["new-meeting", "open-connection"]) document.getElementById(id).disabled = false;
  await askForSync(state.me.id, "page_load"); // a page load asks for a sync (the indicator shows it)
  await resumeSignIn(); // sign_in.js: back from signing in at the provider
  document.body.dataset.ready = "true"; // loaded and drawn: for scripts and tests driving the page
  // The indicator (and the calendar) follow state changes by themselves; the calendar is not
  // redrawn under a pointer that is dragging or selecting, nor behind an open dialog.
  let pointerDown = false;
  document.getElementById("ec").addEventListener("pointerdown", () => { pointerDown = true; });
  for (const end of ["pointerup", "pointercancel"]) window.addEventListener(end, () => { pointerDown = false; });
  setInterval(async () => {
    await showSyncState();
    const busy = pointerDown || document.querySelector("dialog[open]") || keyboardInCalendar();
    if (!busy) calendar.refetchEvents();
  }, 5000);
}

// Redrawing the events would take the keyboard's focus away from the one it is on.
function keyboardInCalendar() {
  const focused = document.activeElement;
  return Boolean(focused && document.getElementById("ec").contains(focused) && focused.matches(":focus-visible"));
}

start().catch((error) => {
  const texts = (state.me && TEXTS[state.me.language]) || TEXTS[navigator.language.slice(0, 2)] || TEXTS.en;
  document.getElementById("ec").textContent = `${texts.loadFailed || TEXTS.en.loadFailed} (${error.message}).`;
});
