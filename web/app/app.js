// The CRM calendar page: a client of the CRM API like any other (bearer token, JSON).
// The token comes once in the address (#token=…, as `make run` prints it) and is kept in
// this browser's localStorage.
"use strict";

const state = {token: "", me: null, users: [], shown: new Set(), texts: TEXTS.en, editing: null};

function takeToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    localStorage.setItem("calsync.token", fromHash);
    history.replaceState(null, "", location.pathname);
  }
  return localStorage.getItem("calsync.token") || "";
}

async function api(path, options = {}) {
  const response = await fetch("/" + path.replace(/^\//, ""), {
    ...options,
    headers: {
      Authorization: `Bearer ${state.token}`,
      ...(options.body ? {"Content-Type": "application/json"} : {}),
    },
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), {response, body});
  return body;
}

function t(key) {
  return state.texts[key] || TEXTS.en[key] || key;
}

function translatePage() {
  document.documentElement.lang = state.me.language;
  for (const element of document.querySelectorAll("[data-text]")) {
    element.textContent = t(element.dataset.text);
  }
}

// --- people (whose calendars are shown) ---------------------------------------------------------

function renderPeople() {
  const list = document.getElementById("people");
  list.replaceChildren();
  for (const user of state.users) {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.shown.has(user.id);
    box.dataset.userId = user.id;
    box.addEventListener("change", () => {
      box.checked ? state.shown.add(user.id) : state.shown.delete(user.id);
      refreshCalendar();
      showSyncState();
    });
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = user.display_colour;
    label.append(box, swatch, document.createTextNode(" " + user.name));
    item.append(label);
    list.append(item);
  }
}

function colourOf(userId) {
  return (state.users.find((u) => u.id === userId) || {}).display_colour || "#3366cc";
}

// --- the calendar ------------------------------------------------------------------------------

let calendar = null;

async function loadEvents(info) {
  if (!state.shown.size) return [];
  const query = new URLSearchParams({start: info.start.toISOString(), end: info.end.toISOString()});
  for (const id of state.shown) query.append("users", id);
  const entries = await api(`/calendar?${query}`);
  return entries.map((entry) => ({
    id: entry.meeting ? `${entry.meeting.id}@${entry.recurrence_id || ""}` : undefined,
    start: new Date(entry.start),
    end: new Date(entry.end),
    allDay: entry.all_day,
    title: entry.busy_only ? t("busy") : entry.meeting.subject,
    backgroundColor: colourOf(entry.owner_user_id),
    resourceIds: [entry.owner_user_id],
    editable: !entry.busy_only && !entry.meeting.recurrence,
    extendedProps: {meeting: entry.meeting, busy: entry.busy_only},
  }));
}

function createCalendar() {
  const locale = state.me.language;
  calendar = EventCalendar.create(document.getElementById("ec"), {
    view: "timeGridWeek",
    locale,
    firstDay: locale === "en" ? 0 : 1,
    headerToolbar: {
      start: "prev,next today",
      center: "title",
      end: "dayGridMonth,timeGridWeek,timeGridDay,resourceTimeGridDay,listWeek",
    },
    buttonText: (text) => ({
      ...text,
      dayGridMonth: t("month"), timeGridWeek: t("week"), timeGridDay: t("day"),
      resourceTimeGridDay: t("schedule"), listWeek: t("agenda"), today: t("today"),
    }),
    resources: shownResources(),
    eventSources: [{events: loadEvents}],
    selectable: true,
    nowIndicator: true,
    select: (info) => openForm(null, info.start, info.end),
    dateClick: (info) => openForm(null, info.date, new Date(info.date.getTime() + 3600e3)),
    eventClick: (info) => info.event.extendedProps.busy || openForm(info.event.extendedProps.meeting),
    eventDrop: (info) => moveMeeting(info),
    eventResize: (info) => moveMeeting(info),
  });
}

function shownResources() {
  return state.users
    .filter((u) => state.shown.has(u.id))
    .map((u) => ({id: u.id, title: u.name, eventBackgroundColor: u.display_colour}));
}

function refreshCalendar() {
  calendar.setOption("resources", shownResources());
  calendar.refetchEvents();
}

async function moveMeeting(info) {
  const meeting = info.event.extendedProps.meeting;
  try {
    await api(`/meetings/${meeting.id}`, {
      method: "PATCH",
      body: JSON.stringify({start: info.event.start.toISOString(), end: info.event.end.toISOString()}),
    });
  } catch (error) {
    info.revert();
  }
  calendar.refetchEvents();
}

// --- the meeting form --------------------------------------------------------------------------

const form = document.getElementById("meeting-form");
const dialog = document.getElementById("meeting-dialog");

function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60e3);
  return shifted.toISOString().slice(0, 16);
}

async function openForm(meeting, start, end) {
  state.editing = meeting;
  form.reset();
  for (const error of form.querySelectorAll(".error")) error.textContent = "";
  if (meeting) {
    form.subject.value = meeting.subject;
    form.location.value = meeting.location;
    form.description.value = meeting.description;
    start = new Date(meeting.time.start || meeting.time.start_date);
    end = new Date(meeting.time.end || meeting.time.end_date);
  }
  form.start.value = localInput(start || new Date());
  form.end.value = localInput(end || new Date(Date.now() + 3600e3));
  document.getElementById("delete-meeting").hidden = !meeting;
  await fillCrmParts(meeting); // participants.js
  dialog.showModal();
  form.subject.focus();
}

async function saveMeeting(send) {
  const body = {
    subject: form.subject.value,
    location: form.location.value,
    description: form.description.value,
    ...timeParts(), // participants.js
    ...crmParts(),
    send_invitations: send,
  };
  const editing = state.editing;
  try {
    await api(editing ? `/meetings/${editing.id}` : "/meetings", {
      method: editing ? "PATCH" : "POST",
      body: JSON.stringify(body),
    });
  } catch (error) {
    showErrors(error.body);
    return;
  }
  dialog.close();
  calendar.refetchEvents();
}

function showErrors(body) {
  const details = Array.isArray(body && body.detail) ? body.detail : [{loc: [], msg: String(body && body.detail)}];
  for (const detail of details) {
    const field = detail.loc[detail.loc.length - 1];
    const target = document.getElementById(`e-${field}`) || document.getElementById("e-form");
    target.textContent = detail.msg;
    const input = document.getElementById(`f-${field}`);
    if (input) input.setAttribute("aria-invalid", "true");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  saveMeeting(event.submitter && event.submitter.value === "send");
});
document.getElementById("close-dialog").addEventListener("click", () => dialog.close());
document.getElementById("delete-meeting").addEventListener("click", async () => {
  await api(`/meetings/${state.editing.id}`, {method: "DELETE"});
  dialog.close();
  calendar.refetchEvents();
});
document.getElementById("new-meeting").addEventListener("click", () => openForm(null));
document.getElementById("weekends").addEventListener("change", (event) => {
  calendar.setOption("hiddenDays", event.target.checked ? [] : [0, 6]);
});

// --- the sync indicator ------------------------------------------------------------------------

const WORST_FIRST = ["needs_reauth", "failed", "throttled", "syncing", "pending", "in_sync", "not_configured"];

async function showSyncState() {
  const statuses = await Promise.all(
    [...state.shown].map((id) => api(`/users/${id}/sync-status`).catch(() => null)),
  );
  const known = statuses.filter(Boolean);
  const worst = WORST_FIRST.find((s) => known.some((k) => k.state === s)) || "not_configured";
  const indicator = document.getElementById("sync-state");
  indicator.dataset.state = worst;
  const message = known.map((k) => k.message).filter(Boolean).join(" · ");
  indicator.textContent = t(worst) + (message ? `: ${message}` : "");
}

async function askForSync() {
  await api(`/users/${state.me.id}/sync-status/refresh`, {method: "POST", body: "{}"}).catch(() => null);
  showSyncState();
}

document.getElementById("refresh").addEventListener("click", askForSync);

// --- start -------------------------------------------------------------------------------------

async function start() {
  state.token = takeToken();
  state.me = await api("/me");
  state.texts = TEXTS[state.me.language] || TEXTS.en;
  state.users = (await api("/users?limit=200")).items;
  state.shown.add(state.me.id);
  translatePage();
  renderPeople();
  createCalendar();
  for (const id of ["new-meeting", "open-connection"]) document.getElementById(id).disabled = false;
  await askForSync(); // a page load asks for a sync (the indicator shows it)
  setInterval(() => showSyncState().then(() => calendar.refetchEvents()), 5000);
}

start().catch((error) => {
  document.getElementById("ec").textContent = `The calendar could not be loaded (${error.message}).`;
});
