// The CRM calendar page: a client of the CRM API like any other (bearer token, JSON).
// The token comes once in the address (#token=…, as `make run` prints it) and is kept in
// this browser's localStorage.
"use strict";

const state = {
  token: "",
  me: null,
  users: [], // everyone in the tenant (owners, participants)
  offered: [], // whose calendars can be shown: the signed-in user and connected colleagues
  shown: new Set(),
  texts: TEXTS.en,
  editing: null, // the meeting open in the form
  occurrence: null, // {recurrence_id, start, end} when one occurrence of a series is open
};

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
    editable: !entry.busy_only,
    extendedProps: {meeting: entry.meeting, busy: entry.busy_only, occurrence: occurrenceOf(entry)},
  }));
}

// An occurrence of a provider's series (not an override, which is a meeting of its own).
function occurrenceOf(entry) {
  if (!entry.meeting || !entry.meeting.recurrence || !entry.recurrence_id) return null;
  return {recurrence_id: entry.recurrence_id, start: new Date(entry.start), end: new Date(entry.end)};
}

// Where a change of the open meeting goes: one occurrence of a series, or the meeting.
function meetingPath(meeting, occurrence) {
  if (!occurrence) return `/meetings/${meeting.id}`;
  return `/meetings/${meeting.id}/occurrences/${encodeURIComponent(occurrence.recurrence_id)}`;
}

function firstDayOfWeek(locale) {
  const info = new Intl.Locale(locale);
  const week = info.getWeekInfo ? info.getWeekInfo() : info.weekInfo;
  return week ? week.firstDay % 7 : 1; // Intl counts Monday 1 … Sunday 7
}

function createCalendar() {
  const locale = state.me.language;
  calendar = EventCalendar.create(document.getElementById("ec"), {
    view: "timeGridWeek",
    locale,
    firstDay: firstDayOfWeek(locale),
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
    loading: (busy) => { document.body.dataset.loading = String(busy); }, // for tests and scripts
    select: (info) => openForm(null, info.start, info.end),
    dateClick: (info) => openForm(null, info.date, new Date(info.date.getTime() + 3600e3)),
    eventClick: (info) => {
      const {busy, meeting, occurrence} = info.event.extendedProps;
      if (!busy) openForm(meeting, null, null, occurrence);
    },
    eventDrop: (info) => moveMeeting(info),
    eventResize: (info) => moveMeeting(info),
  });
}

function shownResources() {
  return state.offered
    .filter((u) => state.shown.has(u.id))
    .map((u) => ({id: u.id, title: u.name, eventBackgroundColor: u.display_colour}));
}

function refreshCalendar() {
  calendar.setOption("resources", shownResources());
  calendar.refetchEvents();
}

async function moveMeeting(info) {
  const {meeting, occurrence} = info.event.extendedProps;
  try {
    await api(meetingPath(meeting, occurrence), {
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

async function openForm(meeting, start, end, occurrence = null) {
  state.editing = meeting;
  state.occurrence = occurrence;
  form.reset();
  for (const error of form.querySelectorAll(".error")) error.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (meeting) {
    form.subject.value = meeting.subject;
    form.location.value = meeting.location;
    start = occurrence ? occurrence.start : new Date(meeting.time.start || meeting.time.start_date);
    end = occurrence ? occurrence.end : new Date(meeting.time.end || meeting.time.end_date);
  }
  setDescription(meeting); // description.js
  form.start.value = localInput(start || nextHour());
  form.end.value = localInput(end || new Date((start || nextHour()).getTime() + 3600e3));
  const partOfSeries = Boolean(meeting && (meeting.recurrence || meeting.series_id));
  document.getElementById("occurrence-hint").hidden = !partOfSeries;
  document.getElementById("delete-meeting").hidden = !meeting || partOfSeries;
  await fillCrmParts(meeting); // participants.js
  document.getElementById("f-owner").disabled = partOfSeries; // a series stays in its calendar
  dialog.showModal();
  form.subject.focus();
  await refreshDayPanel(); // daypanel.js
}

function nextHour() {
  const date = new Date(Date.now() + 3600e3);
  date.setMinutes(0, 0, 0);
  return date;
}

async function saveMeeting(send) {
  const body = {
    subject: form.subject.value,
    location: form.location.value,
    ...descriptionParts(), // description.js
    ...timeParts(), // participants.js
    ...crmParts(),
    send_invitations: send,
  };
  const editing = state.editing;
  try {
    await api(editing ? meetingPath(editing, state.occurrence) : "/meetings", {
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
document.getElementById("goto").addEventListener("change", (event) => {
  if (event.target.value) calendar.setOption("date", new Date(event.target.value + "T00:00"));
});
document.getElementById("weekends").addEventListener("change", (event) => {
  calendar.setOption("hiddenDays", event.target.checked ? [] : [0, 6]);
});

// --- the sync indicator ------------------------------------------------------------------------

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
  // The message of the calendars in the shown (worst) state, not of the others.
  const message = known.filter((k) => k.state === worst).map((k) => k.message).filter(Boolean).join(" · ");
  indicator.textContent = t(worst) + (message ? `: ${message}` : "");
  const mine = known.find((k) => k.user_id === state.me.id);
  document.getElementById("banner").hidden = !mine || mine.state !== "not_configured";
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
