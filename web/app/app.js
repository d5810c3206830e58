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
  // An expired or revoked sign-in is said once, plainly, wherever it was noticed (the sync
  // indicator would otherwise read "not synchronised").
  if (response.status === 401 && state.me) showNotice(t("signedOut"));
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
  for (const element of document.querySelectorAll("[data-label]")) {
    element.setAttribute("aria-label", t(element.dataset.label));
  }
  document.title = t("pageTitle");
}

// --- the calendar ------------------------------------------------------------------------------

let calendar = null;
const drawnEvents = new Map(); // event id -> its element, as last drawn
let openedFrom = null; // the id of the event the form was opened from

async function loadEvents(info) {
  if (!state.shown.size) return [];
  const query = new URLSearchParams({start: info.start.toISOString(), end: info.end.toISOString()});
  for (const id of state.shown) query.append("users", id);
  const entries = await api(`/calendar?${query}`);
  return entries.map((entry) => ({
    id: entry.meeting ? `${entry.meeting.id}@${entry.recurrence_id || ""}` : undefined,
    ...entrySpan(entry),
    allDay: entry.all_day,
    title: entry.busy_only ? t("busy") : entry.meeting.subject,
    backgroundColor: colourOf(entry.owner_user_id),
    resourceIds: [entry.owner_user_id],
    editable: !entry.busy_only,
    extendedProps: {meeting: entry.meeting, busy: entry.busy_only, occurrence: occurrenceOf(entry)},
  }));
}

// An all-day date ("2026-12-07") is a day on the wall, not an instant: local midnight, not UTC's
// (RFC 5545 §3.3.4: a DATE value has no time zone).
function localDate(text) {
  const [year, month, day] = text.split("-").map(Number);
  return new Date(year, month - 1, day);
}

function addDays(date, days) {
  const copy = new Date(date);
  copy.setDate(copy.getDate() + days);
  return copy;
}

// A Date as the value of a datetime-local input: the browser's wall-clock time.
function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60e3);
  return shifted.toISOString().slice(0, 16);
}

function dateText(date) {
  return localInput(date).slice(0, 10);
}

// A /calendar entry's span as Dates: all-day spans end on the (exclusive) day after.
function entrySpan(entry) {
  const at = (value) => (entry.all_day ? localDate(value) : new Date(value));
  return {start: at(entry.start), end: at(entry.end)};
}

// A meeting's own span as Dates (the same shape as entrySpan).
function meetingSpan(meeting) {
  const time = meeting.time;
  if (time.kind === "all_day") return {start: localDate(time.start_date), end: localDate(time.end_date)};
  return {start: new Date(time.start), end: new Date(time.end)};
}

// An occurrence of a provider's series (not an override, which is a meeting of its own).
function occurrenceOf(entry) {
  if (!entry.meeting || !entry.meeting.recurrence || !entry.recurrence_id) return null;
  return {recurrence_id: entry.recurrence_id, ...entrySpan(entry)};
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
      close: t("close"),
    }),
    views: stepLabels(),
    resources: shownResources(),
    eventSources: [{events: loadEvents}],
    allDayContent: t("allDay"),
    noEventsContent: t("noEvents"),
    selectable: true,
    nowIndicator: true,
    loading: (busy) => {
      document.body.dataset.loading = String(busy); // for tests and scripts
      if (!busy) setTimeout(keepKeyboardInPage); // after the redraw this callback precedes
    },
    // In the schedule view a slot belongs to a user's column: the meeting goes to their calendar.
    select: (info) => openForm(null, {
      start: info.start, end: info.end, allDay: info.allDay, owner: info.resource && info.resource.id,
    }),
    dateClick: (info) => openForm(null, {
      start: info.date,
      end: info.allDay ? addDays(info.date, 1) : new Date(info.date.getTime() + 3600e3),
      allDay: info.allDay,
      owner: info.resource && info.resource.id,
    }),
    eventClick: (info) => {
      const {busy, meeting, occurrence} = info.event.extendedProps;
      if (busy) return;
      openedFrom = info.event.id;
      openForm(meeting, {occurrence});
    },
    eventDidMount: (info) => { drawnEvents.set(info.event.id, info.el); },
    eventDrop: (info) => moveMeeting(info),
    eventResize: (info) => moveMeeting(info),
  });
}

// The previous / next buttons are named after the step of each view ("Previous week"); the
// component names them in English, so each view gets the names in the user's language.
function stepLabels() {
  const steps = {dayGridMonth: "Month", timeGridWeek: "Week", timeGridDay: "Day", resourceTimeGridDay: "Day", listWeek: "Week"};
  const views = {};
  for (const [view, step] of Object.entries(steps)) {
    views[view] = {buttonText: (text) => ({...text, prev: t(`prev${step}`), next: t(`next${step}`)})};
  }
  return views;
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

// Dragged or resized: to other times, between all-day and timed, or (schedule view) into a
// colleague's column, which moves the meeting to that colleague's calendar.
async function moveMeeting(info) {
  const {meeting, occurrence} = info.event.extendedProps;
  const partOfSeries = Boolean(occurrence || meeting.recurrence || meeting.series_id);
  if (info.newResource && partOfSeries) return info.revert(); // a series stays in its calendar
  const body = movedSpan(info.event);
  if (info.newResource) body.owner_user_id = info.newResource.id;
  // Guests hear of the new time only if the user says so (as calendar programs ask).
  if (hasGuests(meeting)) body.send_invitations = window.confirm(t("sendUpdates"));
  try {
    await api(meetingPath(meeting, occurrence), {method: "PATCH", body: JSON.stringify(body)});
    showNotice("");
  } catch (error) {
    info.revert();
    showNotice(`${t("moveFailed")} ${errorText(error)}`);
  }
  calendar.refetchEvents();
}

function hasGuests(meeting) {
  return meeting.participants.some((p) => p.email && p.id !== meeting.owner_user_id);
}

// A message under the bar for what failed outside a form (a drag the API refused).
function showNotice(text) {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.hidden = !text;
}

function errorText(error) {
  const detail = error.body && error.body.detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg).join(" · ");
  return detail || error.message;
}

function movedSpan(event) {
  if (event.allDay) {
    const end = event.end && event.end > event.start ? event.end : addDays(event.start, 1);
    return {all_day: true, start_date: dateText(event.start), end_date: dateText(end)};
  }
  const end = event.end && event.end > event.start ? event.end : new Date(event.start.getTime() + 3600e3);
  return {
    all_day: false,
    start: event.start.toISOString(),
    end: end.toISOString(),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
}

document.getElementById("new-meeting").addEventListener("click", () => openForm(null));
document.getElementById("goto").addEventListener("change", (event) => {
  if (event.target.value) calendar.setOption("date", localDate(event.target.value));
});
document.getElementById("weekends").addEventListener("change", (event) => {
  calendar.setOption("hiddenDays", event.target.checked ? [] : [0, 6]);
});
