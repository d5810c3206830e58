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
  // The indicator (and the calendar) follow state changes by themselves.
  setInterval(() => showSyncState().then(() => calendar.refetchEvents()), 5000);
}

start().catch((error) => {
  document.getElementById("ec").textContent = `The calendar could not be loaded (${error.message}).`;
});
