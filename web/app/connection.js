// The signed-in user's calendar connection: choose the provider, test the account (the verdict
// in words), pick calendars, save and subscribe (CalDAV and Exchange Server alike: a typed
// account; connection_ews.js words its fields for Exchange). Providers without a sync service in this
// deployment are shown as such. Administrators set up any user's connection. Once connected:
// which calendar each meeting type goes to, the tenant's sync window, and "synchronise".
// Uses `api`, `t`, `state`, `askForSync` and `showSyncState` from app.js.
"use strict";

const connectionUser = document.getElementById("c-user");

function connectionUserId() {
  return state.me.is_admin && connectionUser.value ? connectionUser.value : state.me.id;
}

const connectionDialog = document.getElementById("connection-dialog");
const connectionForm = document.getElementById("connection-form");
const saveButton = document.getElementById("save-connection");

function chosenProvider() {
  const checked = connectionForm.querySelector("input[name=provider]:checked");
  return checked ? checked.value : "caldav";
}

// How the chosen account signs in: "caldav" and "ews" (Exchange Server) are typed in this
// form; "google" and "exchange" (Exchange Online) sign in at the provider (sign_in.js).
function chosenKind() {
  const provider = chosenProvider();
  if (provider !== "exchange") return provider;
  return connectionForm.querySelector("input[name=exchange_kind]:checked").value === "server" ? "ews" : "exchange";
}

function kindOf(connection) {
  return connection.provider === "exchange" && connection.auth_kind === "basic" ? "ews" : connection.provider;
}

function account() {
  if (chosenKind() === "ews") return ewsAccount(); // connection_ews.js
  return {
    provider: chosenProvider(),
    server_url: connectionForm.server_url.value,
    username: connectionForm.username.value,
    password: connectionForm.password.value,
  };
}

function clearConnectionErrors() {
  for (const error of connectionForm.querySelectorAll(".error")) error.textContent = "";
  for (const input of connectionForm.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// Error types (pydantic's, and the API's own codes) with words of our own in every language;
// others keep the API's message.
const CONNECTION_ERROR_TEXT = {
  missing: "required", string_too_short: "required", https_required: "httpsRequired",
  string_pattern_mismatch: "notAnAddress", exchange_server_only: "exchangeServerOnly",
};

// Each error at its field (`ce-<field>`, the field's input `c-<field>` marked invalid and the
// first focused), the others under the form.
function showConnectionErrors(error) {
  const detail = error.body && error.body.detail;
  const details = Array.isArray(detail) ? detail : [{loc: [], msg: String(detail || error.message)}];
  for (const item of details) {
    const field = item.loc[item.loc.length - 1];
    const target = document.getElementById(`ce-${field}`) || document.getElementById("ce-form");
    // A verdict refusing a save (the account changed since its test) in the user's words too.
    const verdict = String(item.type || "").startsWith("verdict_") && item.type.slice("verdict_".length);
    target.textContent = verdict ? verdictWords(verdict) : CONNECTION_ERROR_TEXT[item.type] ? t(CONNECTION_ERROR_TEXT[item.type]) : item.msg;
    const input = document.getElementById(`c-${field}`);
    if (input && target.id !== "ce-form") input.setAttribute("aria-invalid", "true");
  }
  const first = connectionForm.querySelector("[aria-invalid='true']");
  if (first) first.focus();
}

// `userId`: whose connection to show (an administrator's colleague, coming back from Google).
async function openConnection(userId) {
  connectionUser.replaceChildren(
    ...state.users.map((u) => Object.assign(document.createElement("option"), {value: u.id, textContent: u.name})),
  );
  connectionUser.value = typeof userId === "string" ? userId : state.me.id;
  document.getElementById("c-user-row").hidden = !state.me.is_admin;
  const providers = await api("/calendar-providers").catch((error) => {
    showNotice(`${t("loadFailed")} (${errorText(error)}).`);
    return null;
  });
  if (!providers) return;
  const box = document.getElementById("providers");
  box.replaceChildren();
  for (const provider of providers) {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    Object.assign(radio, {type: "radio", name: "provider", value: provider.provider});
    radio.disabled = !provider.available;
    radio.checked = provider.provider === "caldav";
    radio.addEventListener("change", showProviderFields); // sign_in.js
    const text = t(provider.provider) + (provider.available ? "" : ` (${t("notAvailable")})`);
    label.append(radio, document.createTextNode(" " + text));
    box.append(label);
  }
  await showConnectionOf();
  connectionDialog.showModal();
  if (["caldav", "ews"].includes(chosenKind())) connectionForm.server_url.focus();
}

// The chosen user's current connection, and its settings when there is one.
// The provider choices and the account's fields wait while the user's connection loads: a
// choice made or an address typed meanwhile would be overwritten by the loaded connection.
// Only the latest load (the user chosen last) applies.
let connectionLoads = 0;

async function showConnectionOf() {
  const load = ++connectionLoads;
  const choices = [...connectionForm.querySelectorAll("#providers, input[name=exchange_kind], #account-fields")].map((e) => e.closest("fieldset"));
  clearConnectionErrors();
  document.getElementById("verdict").textContent = "";
  forgetTypedAccount(); // connection_ews.js: nothing of an earlier test stays in the form
  document.getElementById("calendar-list").replaceChildren();
  document.getElementById("calendar-choice").hidden = true;
  saveButton.disabled = true;
  for (const fieldset of choices) fieldset.disabled = true;
  connectionForm.setAttribute("aria-busy", "true");
  const current = await api(`/users/${connectionUserId()}/calendar-connection`).catch(() => null);
  if (load !== connectionLoads) return; // another user was chosen meanwhile
  for (const fieldset of choices) fieldset.disabled = false;
  connectionForm.removeAttribute("aria-busy");
  state.connection = current;
  document.getElementById("connection-current").textContent = current
    ? `${t("connectedTo")} ${current.server_url || t(current.provider)} (${current.mailbox || current.username})`
    : t("notConnected");
  document.getElementById("disconnect").hidden = !current;
  const radio = connectionForm.querySelector(`input[name=provider][value=${current ? current.provider : "caldav"}]`);
  if (radio && !radio.disabled) radio.checked = true;
  const kind = current ? kindOf(current) : "caldav";
  connectionForm.querySelector(`input[name=exchange_kind][value=${kind === "ews" ? "server" : "online"}]`).checked = true;
  showProviderFields(); // sign_in.js; the saved account's fields filled (connection_ews.js)
  await showConnectionSettings(current); // connection_settings.js
  if (current && SIGNED_IN.includes(kind)) await showAccountCalendars(); // sign_in.js
}

connectionUser.addEventListener("change", showConnectionOf);

async function testConnection() {
  clearConnectionErrors();
  const verdict = document.getElementById("verdict");
  verdict.textContent = "…";
  let result;
  try {
    result = await api(`/users/${connectionUserId()}/calendar-connection/test`, {
      method: "POST",
      body: JSON.stringify(account()),
    });
  } catch (error) {
    verdict.textContent = "";
    showConnectionErrors(error);
    return;
  }
  showVerdict(result, []);
}

// A verdict in the chosen provider's terms where it has its own words, else the common ones.
function verdictWords(verdict) {
  const worded = `verdict_${verdict}_${chosenKind()}`;
  return t(worded) !== worded ? t(worded) : t(`verdict_${verdict}`);
}

// A connection test's answer: the verdict in words and the calendars to pick (`chosen` ticked;
// with none chosen yet, the account's first: its default calendar, as servers list it first).
function showVerdict(result, chosen) {
  const verdict = document.getElementById("verdict");
  verdict.textContent = verdictWords(result.verdict);
  verdict.dataset.verdict = result.verdict;
  const list = document.getElementById("calendar-list");
  list.replaceChildren();
  for (const [index, calendar] of result.calendars.entries()) {
    const label = document.createElement("label");
    const box = Object.assign(document.createElement("input"), {type: "checkbox", value: calendar.id});
    box.checked = chosen.length ? chosen.includes(calendar.id) : index === 0;
    label.append(box, document.createTextNode(" " + calendar.name));
    list.append(label);
  }
  document.getElementById("calendar-choice").hidden = !result.calendars.length;
  saveButton.disabled = !result.usable;
}

async function saveConnection() {
  clearConnectionErrors();
  const calendars = [...document.querySelectorAll("#calendar-list input:checked")].map((b) => b.value);
  // An account signed in at its provider is saved already: only its calendars change.
  const signedIn = state.connection && kindOf(state.connection) === chosenKind() && SIGNED_IN.includes(chosenKind());
  try {
    await api(`/users/${connectionUserId()}/calendar-connection`, {
      method: signedIn ? "PATCH" : "PUT",
      body: JSON.stringify(signedIn ? {calendars} : {...account(), calendars}),
    });
  } catch (error) {
    showConnectionErrors(error);
    return;
  }
  connectionDialog.close();
  const userId = connectionUserId();
  if (!state.offered.some((u) => u.id === userId)) {
    await loadPeople(); // people.js: a newly connected colleague is now offered
    renderPeople();
  }
  await askForSync(userId);
}

async function disconnect() {
  if (!window.confirm(t("disconnectQuestion"))) return;
  clearConnectionErrors();
  try {
    await api(`/users/${connectionUserId()}/calendar-connection`, {method: "DELETE"});
  } catch (error) {
    showConnectionErrors(error);
    return;
  }
  connectionDialog.close();
  await loadPeople(); // people.js: a disconnected colleague is no longer offered
  for (const id of [...state.shown]) if (!state.offered.some((u) => u.id === id)) state.shown.delete(id);
  renderPeople();
  refreshCalendar();
  await showSyncState();
}

document.getElementById("open-connection").addEventListener("click", () => openConnection());
document.getElementById("test-connection").addEventListener("click", testConnection);
saveButton.addEventListener("click", saveConnection);
document.getElementById("disconnect").addEventListener("click", disconnect);
document.getElementById("close-connection").addEventListener("click", () => connectionDialog.close());
document.getElementById("banner-connect").addEventListener("click", () => openConnection());
