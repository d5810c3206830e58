// Whose calendars the page offers: the signed-in user's own, and colleagues whose calendar is
// connected (an unconnected colleague has nothing to show but what the CRM holds). Each is drawn
// in the user's display colour; administrators change anyone's, users their own (PATCH /me).
// Uses `api`, `t`, `state`, `refreshCalendar` and `showSyncState` from app.js.
"use strict";

async function loadPeople() {
  const everyone = await allUsers();
  const connected = new Set();
  for (let i = 0; i < everyone.length; i += 50) {
    const states = await syncStates(everyone.slice(i, i + 50).map((u) => u.id));
    for (const s of states) if (s.state !== "not_configured") connected.add(s.user_id);
  }
  state.users = everyone;
  state.offered = everyone.filter((u) => u.id === state.me.id || connected.has(u.id));
}

// Every user of the tenant, page by page (owners, names and colours come from here).
async function allUsers() {
  const users = [];
  for (let total = Infinity; users.length < total; ) {
    const page = await api(`/users?${new URLSearchParams({limit: "200", offset: String(users.length)})}`);
    users.push(...page.items);
    total = page.items.length ? page.total : users.length;
  }
  return users;
}

function renderPeople() {
  const list = document.getElementById("people");
  list.replaceChildren(...state.offered.map(personItem));
}

function personItem(user) {
  const item = document.createElement("li");
  const label = document.createElement("label");
  const box = Object.assign(document.createElement("input"), {type: "checkbox"});
  box.checked = state.shown.has(user.id);
  box.dataset.userId = user.id;
  box.addEventListener("change", () => {
    box.checked ? state.shown.add(user.id) : state.shown.delete(user.id);
    refreshCalendar();
    showSyncState();
  });
  label.append(box, document.createTextNode(" " + user.name));
  const colour = Object.assign(document.createElement("input"), {type: "color", value: user.display_colour});
  colour.className = "swatch";
  colour.setAttribute("aria-label", `${t("colourOf")} ${user.name}`);
  colour.disabled = !(state.me.is_admin || user.id === state.me.id);
  colour.addEventListener("change", () => changeColour(user, colour));
  item.append(colour, label);
  return item;
}

async function changeColour(user, input) {
  const path = user.id === state.me.id ? "/me" : `/users/${user.id}`;
  try {
    const saved = await api(path, {method: "PATCH", body: JSON.stringify({display_colour: input.value})});
    user.display_colour = saved.display_colour;
  } catch (error) {
    input.value = user.display_colour; // refused: show the colour that is still in force
  }
  refreshCalendar();
}

function colourOf(userId) {
  return (state.users.find((u) => u.id === userId) || {}).display_colour || "#3366cc";
}

function nameOf(userId) {
  return (state.users.find((u) => u.id === userId) || {}).name || "";
}
