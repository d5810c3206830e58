// The meeting form's CRM parts: participants by type-ahead (organisations, persons, CRM users),
// whose calendar the meeting goes to (booking on behalf), private, all-day, and the invitation
// template with its "edit template" mode. Uses `api`, `t`, `state` and `form` from app.js.
"use strict";

const picked = new Map(); // "kind:id" (or "external:email") -> {kind, id, name, email}
const participantInput = document.getElementById("f-participant");
const options = document.getElementById("participant-options");
let offered = new Map(); // option text -> {kind, id, name}
let searchTimer = null;

function optionText(candidate) {
  return `${candidate.name || candidate.email} — ${t(candidate.kind)}`;
}

// Attendees a provider brought in that match no CRM record are known by email alone: kept as
// they are, so saving the meeting does not uninvite them.
function participantKey(p) {
  return p.id ? `${p.kind}:${p.id}` : `external:${(p.email || "").toLowerCase()}`;
}

async function searchParticipants(text) {
  const q = text.trim().toLowerCase();
  if (q.length < 2) return [];
  const query = new URLSearchParams({q, limit: "20"});
  const [persons, organisations, users] = await Promise.all(
    ["persons", "organisations", "users"].map((list) => api(`/${list}?${query}`)),
  );
  return [
    ...persons.items.map((p) => ({kind: "person", id: p.id, name: p.name})),
    ...organisations.items.map((o) => ({kind: "organisation", id: o.id, name: o.name})),
    ...users.items.map((u) => ({kind: "user", id: u.id, name: u.name})),
  ];
}

participantInput.addEventListener("input", () => {
  const chosen = offered.get(participantInput.value);
  if (chosen) {
    addParticipant(chosen);
    participantInput.value = "";
    return;
  }
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const found = await searchParticipants(participantInput.value).catch(() => []);
    offered = new Map(found.map((c) => [optionText(c), c]));
    options.replaceChildren(
      ...[...offered.keys()].map((text) => Object.assign(document.createElement("option"), {value: text})),
    );
  }, 200);
});

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// Enter in the participants' field: an address invites a guest who is in no CRM record; a
// name with a single suggestion takes that suggestion.
function addTypedParticipant() {
  const text = participantInput.value.trim();
  const suggestions = [...offered.values()];
  if (EMAIL.test(text)) addParticipant({kind: "external", email: text, name: ""});
  else if (suggestions.length === 1) addParticipant(suggestions[0]);
  else return;
  participantInput.value = "";
  offered = new Map();
  options.replaceChildren();
}

function addParticipant(candidate) {
  picked.set(participantKey(candidate), candidate);
  renderParticipants();
}

function renderParticipants() {
  const list = document.getElementById("participant-list");
  list.replaceChildren();
  for (const [key, candidate] of picked) {
    const item = document.createElement("li");
    const remove = Object.assign(document.createElement("button"), {type: "button", textContent: "×"});
    remove.setAttribute("aria-label", `${t("remove")} ${candidate.name || candidate.email}`);
    remove.addEventListener("click", () => {
      picked.delete(key);
      renderParticipants();
    });
    item.append(document.createTextNode(optionText(candidate) + " "), remove);
    list.append(item);
  }
  if (dialog.open) scheduleDayPanel(); // daypanel.js: the users taking part may have changed
}

function participantUserIds() {
  return [...picked.values()].filter((p) => p.kind === "user").map((p) => p.id);
}

// --- filling and reading the form (called by app.js) --------------------------------------------

async function fillCrmParts(meeting, ownerId = null) {
  picked.clear();
  for (const p of (meeting && meeting.participants) || []) {
    if (p.id || p.email) picked.set(participantKey(p), {kind: p.kind, id: p.id, name: p.name, email: p.email});
  }
  renderParticipants();
  const owner = document.getElementById("f-owner");
  owner.replaceChildren(
    ...state.users.map((u) => Object.assign(document.createElement("option"), {value: u.id, textContent: u.name})),
  );
  owner.value = meeting ? meeting.owner_user_id : ownerId || state.me.id;
  form.private.checked = Boolean(meeting && meeting.private);
  const select = document.getElementById("f-template");
  const templates = await api("/email-templates").catch(() => []);
  select.replaceChildren(select.options[0], ...templates.map((tpl) =>
    Object.assign(document.createElement("option"), {value: tpl.id, textContent: tpl.name})));
  document.getElementById("f-edit-template").checked = false;
  document.getElementById("f-invitation_body").hidden = true;
  offerTemplateEditing();
  if (meeting && meeting.id) await showInvitationSettings(meeting.id, select);
}

// An existing meeting's invitations are made from its template and, when edited here, its own
// text: the form shows both, so the next "Save and send" sends what the user sees.
async function showInvitationSettings(meetingId, select) {
  const settings = await api(`/meetings/${meetingId}/invitation`).catch(() => null);
  if (!settings || !settings.template_id) return;
  if (![...select.options].some((o) => o.value === settings.template_id)) return; // deleted since
  select.value = settings.template_id;
  offerTemplateEditing();
  if (settings.invitation_body) {
    const toggle = document.getElementById("f-edit-template");
    const text = document.getElementById("f-invitation_body");
    toggle.checked = true;
    text.hidden = false;
    text.value = settings.invitation_body;
  }
}

// "Edit template" edits a chosen template's text: the standard text is the notifier's own, not a
// template with text to start from (and an empty text would send an empty mail).
function offerTemplateEditing() {
  const toggle = document.getElementById("f-edit-template");
  const text = document.getElementById("f-invitation_body");
  toggle.disabled = !document.getElementById("f-template").value;
  if (toggle.disabled) {
    toggle.checked = false;
    text.hidden = true;
  }
  text.value = "";
}

document.getElementById("f-template").addEventListener("change", async () => {
  offerTemplateEditing();
  const toggle = document.getElementById("f-edit-template");
  if (!toggle.disabled && toggle.checked) toggle.dispatchEvent(new Event("change")); // its text
});

function crmParts() {
  const owner = document.getElementById("f-owner").value;
  const body = {
    participants: [...picked.values()].map((p) =>
      p.id ? {kind: p.kind, id: p.id} : {kind: "external", email: p.email, name: p.name || ""}),
    private: form.private.checked,
  };
  // An edit sends the owner only when it changes: re-sending it would make the editor the
  // meeting's booker (and a private meeting booked by a colleague would hide from them).
  if (!state.editing || owner !== state.editing.owner_user_id) body.owner_user_id = owner;
  const template = document.getElementById("f-template").value;
  if (template) body.template_id = template;
  if (document.getElementById("f-edit-template").checked) {
    body.invitation_body = document.getElementById("f-invitation_body").value;
  }
  return body;
}

// A meeting keeps the time zone it was planned in (its series, its attendees' copies); a new
// one, or an all-day one becoming timed, takes the browser's.
function keptTimeZone() {
  const time = state.editing && state.editing.time;
  return (time && time.timezone) || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function timeParts() {
  if (!form.all_day.checked) {
    return {
      start: new Date(form.start.value).toISOString(),
      end: new Date(form.end.value).toISOString(),
      timezone: keptTimeZone(),
    };
  }
  const first = form.start.value.slice(0, 10);
  const last = new Date(form.end.value.slice(0, 10) + "T00:00:00Z");
  last.setUTCDate(last.getUTCDate() + 1); // the API's all-day end date is exclusive
  return {all_day: true, start_date: first, end_date: last.toISOString().slice(0, 10)};
}

document.getElementById("f-edit-template").addEventListener("change", async (event) => {
  const text = document.getElementById("f-invitation_body");
  text.hidden = !event.target.checked;
  const template = document.getElementById("f-template").value;
  if (event.target.checked && template && !text.value) {
    text.value = (await api(`/email-templates/${template}/edit`)).body;
  }
});
