// Settings of a saved connection: which of its calendars each meeting type goes to (the rest go
// to the first calendar), the tenant's sync window (administrators), and "synchronise now".
// Uses `api`, `t`, `state`, `askForSync` (app.js) and `connectionUserId` (connection.js).
"use strict";

const settingsBox = document.getElementById("connection-settings");

async function showConnectionSettings(current) {
  settingsBox.hidden = !current;
  document.getElementById("se-form").textContent = "";
  if (!current) return;
  const types = (await api("/meeting-types?limit=200")).items;
  const rows = types.map((type) => {
    const label = Object.assign(document.createElement("label"), {textContent: type.name});
    const select = document.createElement("select");
    select.dataset.meetingType = type.id;
    select.append(new Option(t("defaultCalendar"), ""));
    for (const calendar of current.calendars) select.append(new Option(calendar.name, calendar.id));
    select.value = current.calendar_by_meeting_type[type.id] || "";
    label.append(select);
    return label;
  });
  document.getElementById("type-mapping").replaceChildren(...rows);
  document.getElementById("type-mapping-box").hidden = !types.length;
  const window = await api("/settings/sync-window");
  for (const name of ["months_back", "months_ahead"]) {
    const input = document.getElementById(`s-${name}`);
    input.value = window[name];
    input.disabled = !state.me.is_admin; // the window is the tenant's
  }
}

async function saveConnectionSettings() {
  const error = document.getElementById("se-form");
  error.textContent = "";
  const mapping = {};
  for (const select of document.querySelectorAll("#type-mapping select")) {
    if (select.value) mapping[select.dataset.meetingType] = select.value;
  }
  try {
    await api(`/users/${connectionUserId()}/calendar-connection`, {
      method: "PATCH",
      body: JSON.stringify({calendar_by_meeting_type: mapping}),
    });
    if (state.me.is_admin) {
      const window = {
        months_back: Number(document.getElementById("s-months_back").value),
        months_ahead: Number(document.getElementById("s-months_ahead").value),
      };
      await api("/settings/sync-window", {method: "PUT", body: JSON.stringify(window)});
    }
  } catch (failure) {
    const detail = failure.body && failure.body.detail;
    error.textContent = Array.isArray(detail) ? detail.map((d) => `${d.loc.at(-1)}: ${d.msg}`).join("; ") : String(detail || failure.message);
    return;
  }
  error.textContent = t("saved");
}

document.getElementById("save-settings").addEventListener("click", saveConnectionSettings);
document.getElementById("synchronise").addEventListener("click", () => askForSync(connectionUserId()));
