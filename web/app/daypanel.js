// The meeting form's side panel: the chosen days in the calendars of the meeting's owner and of
// the CRM users taking part, so colleagues are not double-booked. Clicking a time there moves
// the meeting to it (keeping its length), and so does picking from the list of times when all
// are free; a warning names whoever is busy at the chosen time.
// Uses `api`, `t`, `state`, the date helpers (app.js), `form` (meeting_form.js), `colourOf`,
// `nameOf` (people.js) and `participantUserIds` (participants.js).
"use strict";

let dayPanel = null;
let dayEntries = []; // /calendar entries of the panel's users on the chosen day
let panelTimer = null;

function chosenTimes() {
  if (form.all_day.checked) {
    const first = localDate(form.start.value.slice(0, 10));
    const last = localDate(form.end.value.slice(0, 10));
    return {start: first, end: addDays(last, 1)}; // the form shows the last day, inclusive
  }
  return {start: new Date(form.start.value), end: new Date(form.end.value)};
}

function panelUserIds() {
  return [...new Set([document.getElementById("f-owner").value, ...participantUserIds()])].filter(Boolean);
}

// The open meeting itself (or, for a series, the open occurrence) is not a conflict.
function isOpenMeeting(entry) {
  const open = state.editing;
  if (!open || !entry.meeting || entry.meeting.ical_uid !== open.ical_uid) return false;
  if (!state.occurrence) return entry.meeting.id === open.id;
  return entry.recurrence_id === state.occurrence.recurrence_id;
}

async function refreshDayPanel() {
  const {start, end} = chosenTimes();
  if (isNaN(start) || isNaN(end)) return;
  const day = new Date(start);
  day.setHours(0, 0, 0, 0);
  const users = panelUserIds();
  // Every day the meeting touches, up to a week (a longer one: its first week; clashes are
  // still looked for over the whole meeting).
  const until = new Date(Math.max(addDays(day, 1).getTime(), end.getTime()));
  const days = Math.min(7, Math.ceil((until - day) / 864e5));
  const query = new URLSearchParams({start: day.toISOString(), end: until.toISOString()});
  for (const id of users) query.append("users", id);
  // Without the panel's data the form still works: it shows no one busy rather than failing.
  const entries = users.length ? await api(`/calendar?${query}`).catch(() => []) : [];
  dayEntries = entries.filter((e) => !isOpenMeeting(e));
  const events = dayEntries.map((entry) => ({
    ...entrySpan(entry),
    allDay: entry.all_day,
    title: entry.busy_only ? t("busy") : entry.meeting.subject,
    resourceIds: [entry.owner_user_id],
    backgroundColor: colourOf(entry.owner_user_id),
  }));
  events.push({start, end, allDay: form.all_day.checked, resourceIds: users, title: form.subject.value || t("meeting"), classNames: ["planned"]});
  const resources = users.map((id) => ({id, title: nameOf(id)}));
  if (!dayPanel) {
    dayPanel = EventCalendar.create(document.getElementById("day-panel"), {
      view: "resourceTimeGridDay",
      locale: state.me.language,
      allDayContent: t("allDay"),
      headerToolbar: {start: "", center: "title", end: ""},
      height: "26rem",
      editable: false,
      scrollTime: scrollTo(start),
      date: day,
      duration: {days},
      resources,
      events,
      dateClick: (info) => moveMeetingTo(info.date),
    });
  } else {
    dayPanel.setOption("date", day);
    dayPanel.setOption("duration", {days});
    dayPanel.setOption("scrollTime", scrollTo(start));
    dayPanel.setOption("resources", resources);
    dayPanel.setOption("events", events);
  }
  showOverlap(start, end);
  offerFreeTimes(day, start, end - start);
}

// --- free times: the panel's answer from the keyboard --------------------------------------------

const WORKING_HOURS = [7, 19]; // offered starts lie between, every half hour
const SLOT = 30 * 60e3;

// Starts on `day` at which a meeting of `length` clashes with none of `busy` ({start, end}).
function freeStarts(day, length, busy) {
  const starts = [];
  const first = new Date(day);
  first.setHours(WORKING_HOURS[0], 0, 0, 0);
  const last = new Date(day);
  last.setHours(WORKING_HOURS[1], 0, 0, 0);
  for (let at = first; at.getTime() + length <= last.getTime(); at = new Date(at.getTime() + SLOT)) {
    const until = new Date(at.getTime() + length);
    if (!busy.some((b) => b.start < until && at < b.end)) starts.push(at);
  }
  return starts;
}

// A list of the times when everyone in the panel is free, for keyboard users and for anyone
// who would rather pick than scan the grid. Not for all-day meetings.
function offerFreeTimes(day, start, length) {
  const select = document.getElementById("free-times");
  const row = document.getElementById("free-times-row");
  const workingDay = (WORKING_HOURS[1] - WORKING_HOURS[0]) * 3600e3;
  row.hidden = form.all_day.checked || length > workingDay; // not for meetings over days
  if (row.hidden) return;
  const time = (d) => d.toLocaleTimeString(state.me.language, {hour: "2-digit", minute: "2-digit"});
  const starts = freeStarts(day, Math.max(length, SLOT), dayEntries.map(entrySpan));
  select.replaceChildren(
    Object.assign(document.createElement("option"), {value: "", textContent: starts.length ? t("pickFreeTime") : t("noFreeTime")}),
    ...starts.map((at) => Object.assign(document.createElement("option"), {value: at.toISOString(), textContent: time(at)})),
  );
  // The chosen time stays selected, so the arrow keys go on from it (each press is a change).
  if (starts.some((at) => at.getTime() === start.getTime())) select.value = start.toISOString();
}

document.getElementById("free-times").addEventListener("change", (event) => {
  if (event.target.value) moveMeetingTo(new Date(event.target.value));
});

function scrollTo(start) {
  return `${String(Math.max(start.getHours() - 2, 0)).padStart(2, "0")}:00:00`;
}

function moveMeetingTo(date) {
  const {start, end} = chosenTimes();
  form.all_day.checked = false;
  form.start.value = localInput(date);
  form.end.value = localInput(new Date(date.getTime() + Math.max(end - start, 15 * 60e3)));
  refreshDayPanel();
}

function showOverlap(start, end) {
  const language = state.me.language;
  const time = (d) => d.toLocaleTimeString(language, {hour: "2-digit", minute: "2-digit"});
  // A clash on a later day of a multi-day meeting names its day too.
  const day = (d) => (d.toDateString() === start.toDateString() ? "" : `${d.toLocaleDateString(language, {weekday: "short", day: "numeric", month: "short"})} `);
  const clashes = dayEntries
    .map((entry) => ({entry, ...entrySpan(entry)}))
    .filter((c) => c.start < end && start < c.end)
    .map((c) => `${nameOf(c.entry.owner_user_id)} ${day(c.start < start ? start : c.start)}${c.entry.all_day ? t("allDay") : `${time(c.start)}–${time(c.end)}`}`);
  const warning = document.getElementById("overlap");
  const text = clashes.length ? `${t("overlaps")}: ${clashes.join(", ")}` : "";
  if (warning.textContent !== text) warning.textContent = text; // an alert: said on change only
  warning.hidden = !clashes.length;
}

function scheduleDayPanel() {
  clearTimeout(panelTimer);
  panelTimer = setTimeout(refreshDayPanel, 250);
}

for (const id of ["f-start", "f-end", "f-owner", "f-all_day"]) {
  document.getElementById(id).addEventListener("change", scheduleDayPanel);
}
