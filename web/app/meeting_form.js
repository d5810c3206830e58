// The meeting form: opened on a meeting, on one occurrence of a series or on a chosen slot;
// saves with or without invitations; deletes after asking whether to send cancellations; shows
// the API's validation errors at the fields they concern. Uses `api`, `t`, `state`, `calendar`,
// the date helpers (app.js) and the form's parts (participants.js, description.js, daypanel.js).
"use strict";

const form = document.getElementById("meeting-form");
const dialog = document.getElementById("meeting-dialog");

// Opens the form on a meeting (or one occurrence of a series), or on a new meeting prefilled
// from the slot chosen: {start, end, allDay, owner}.
async function openForm(meeting, {start, end, allDay = false, owner = null, occurrence = null} = {}) {
  state.editing = meeting;
  state.occurrence = occurrence;
  if (!meeting) openedFrom = null;
  form.reset();
  clearErrors();
  document.getElementById("delete-confirm").hidden = true;
  if (meeting) {
    form.subject.value = meeting.subject;
    form.location.value = meeting.location;
    ({start, end} = occurrence || meetingSpan(meeting));
    allDay = meeting.time.kind === "all_day";
  }
  start = start || nextHour();
  end = end || new Date(start.getTime() + 3600e3);
  // The form shows an all-day meeting's last day; the API's end date is the day after it.
  if (allDay) end = addDays(end, -1);
  setDescription(meeting); // description.js
  form.start.value = localInput(start);
  form.end.value = localInput(end);
  const partOfSeries = Boolean(meeting && (meeting.recurrence || meeting.series_id));
  document.getElementById("occurrence-hint").hidden = !partOfSeries;
  document.getElementById("delete-meeting").hidden = !meeting || partOfSeries;
  await fillCrmParts(meeting, owner); // participants.js
  form.all_day.checked = allDay;
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

let saving = false;

// One save at a time: a double click or a held Enter must not make two meetings (and send
// two invitations).
async function saveMeeting(send) {
  if (saving) return;
  saving = true;
  const buttons = form.querySelectorAll("button[type=submit]");
  for (const button of buttons) button.disabled = true;
  try {
    await submitMeeting(send);
  } finally {
    saving = false;
    for (const button of buttons) button.disabled = false;
  }
}

async function submitMeeting(send) {
  clearErrors();
  const missing = ["start", "end"].filter((name) => !form[name].value);
  if (missing.length) {
    showErrors({detail: missing.map((name) => ({loc: [name], type: "missing"}))});
    return;
  }
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

// --- validation errors at their fields ---------------------------------------------------------

// API field -> the form's field showing its error (the form asks for one Start and one End,
// whichever kind of meeting it is; participants' errors name the list, not the item).
const ERROR_FIELD = {
  start_date: "start", end_date: "end", timezone: "start", all_day: "start",
  description: "description_html", invitation_subject: "invitation_body", template_id: "template",
};
const ERROR_INPUT = {participants: "f-participant", description_html: "f-description"};
// Error types (pydantic's, and the API's own codes) with words of our own in every language;
// others keep the API's message.
const ERROR_TEXT = {
  missing: "required", string_too_short: "required", end_not_after_start: "endAfterStart",
  meeting_too_long: "tooLong", unknown_time_zone: "unknownZone", duplicate_participant: "listedTwice",
};

function errorField(loc) {
  for (const part of loc || []) {
    if (typeof part !== "string" || part === "body") continue;
    const field = ERROR_FIELD[part] || part;
    if (document.getElementById(`e-${field}`)) return field;
  }
  return "form";
}

function showErrors(body) {
  const details = Array.isArray(body && body.detail)
    ? body.detail
    : [{loc: [], msg: (body && body.detail) || t("saveFailed")}];
  for (const detail of details) {
    const field = errorField(detail.loc);
    const target = document.getElementById(`e-${field}`);
    const text = ERROR_TEXT[detail.type] ? t(ERROR_TEXT[detail.type]) : detail.msg;
    target.textContent = target.textContent ? `${target.textContent} · ${text}` : text;
    const input = document.getElementById(ERROR_INPUT[field] || `f-${field}`);
    if (input) input.setAttribute("aria-invalid", "true");
  }
  const first = form.querySelector("[aria-invalid='true']");
  if (first && first.focus) first.focus();
}

function clearErrors() {
  for (const error of form.querySelectorAll(".error")) error.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// --- deleting ----------------------------------------------------------------------------------

async function deleteMeeting(sendCancellations) {
  const query = new URLSearchParams({send_invitations: String(sendCancellations)});
  try {
    await api(`/meetings/${state.editing.id}?${query}`, {method: "DELETE"});
  } catch (error) {
    document.getElementById("delete-confirm").hidden = true;
    showErrors(error.body);
    return;
  }
  dialog.close();
  calendar.refetchEvents();
}

// Enter in a one-line field saves without sending: the browser would press the first submit
// button, "Save and send invitations", and mail every participant by accident. In the
// participants' field it adds the typed address or the one suggestion (participants.js).
form.addEventListener("keydown", (event) => {
  const field = event.target;
  if (event.key !== "Enter" || event.isComposing || event.defaultPrevented) return;
  if (!(field instanceof HTMLInputElement) || field.closest(".ql-tooltip")) return; // Quill's link box
  if (["checkbox", "radio", "button", "submit"].includes(field.type)) return;
  event.preventDefault();
  if (field.id === "f-participant") addTypedParticipant();
  else saveMeeting(false);
});
// Unticking all-day on a day shown as 00:00–00:00 gives it working hours rather than no length.
form.all_day.addEventListener("change", () => {
  if (form.all_day.checked || form.start.value !== form.end.value) return;
  const day = localDate(form.start.value.slice(0, 10));
  day.setHours(9);
  form.start.value = localInput(day);
  form.end.value = localInput(new Date(day.getTime() + 3600e3));
});

// Closing the form hands focus back to the event it was opened from, which the refetch then
// redraws: the keyboard would be nowhere. It goes to the event as redrawn (if it is still
// there), else to "New meeting".
let focusMayBeLost = false;
dialog.addEventListener("close", () => { focusMayBeLost = true; });

function keepKeyboardInPage() {
  if (!focusMayBeLost) return;
  focusMayBeLost = false;
  if (document.activeElement && document.activeElement !== document.body) return;
  const redrawn = openedFrom && drawnEvents.get(openedFrom);
  (redrawn && redrawn.isConnected ? redrawn : document.getElementById("new-meeting")).focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  saveMeeting(event.submitter && event.submitter.value === "send");
});
document.getElementById("close-dialog").addEventListener("click", () => dialog.close());
document.getElementById("delete-meeting").addEventListener("click", () => {
  document.getElementById("delete-confirm").hidden = false;
  document.getElementById("delete-send").focus();
});
document.getElementById("delete-send").addEventListener("click", () => deleteMeeting(true));
document.getElementById("delete-quietly").addEventListener("click", () => deleteMeeting(false));
document.getElementById("delete-keep").addEventListener("click", () => {
  document.getElementById("delete-confirm").hidden = true;
  document.getElementById("delete-meeting").focus();
});
