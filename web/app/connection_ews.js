// Exchange Server on premises (EWS): the CalDAV form's fields, worded for Exchange. The EWS
// address, the mailbox's address and its password; or, with impersonation, a service account's
// login and password acting for the mailbox (the mailbox's own password is then not asked).
// Testing, picking calendars and saving are the CalDAV form's (connection.js).
// Uses `t`, `TEXTS` (app.js, i18n.js) and `connectionForm` (connection.js).
"use strict";

const EWS_TEXTS = {
  en: {ewsLogin: "Sign-in name, only if it differs", ewsUrl: "EWS address", mailbox: "Email address", impersonate: "Sign in with a service account (impersonation)",
    serviceUsername: "Service account username", servicePassword: "Service account password",
    ewsHint: "Your Exchange administrator knows the EWS address. A service account needs Exchange's ApplicationImpersonation role.",
    httpsRequired: "Use an https:// address, such as https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Enter an email address, such as name@example.com.",
    exchangeServerOnly: "Only for Exchange Server.", verdict_not_caldav_ews: "The address answers, but not as Exchange Web Services (EWS).",
    verdict_wrong_credentials_ews: "Exchange did not accept the sign-in. Check the email address and the password; with a service account, also that it may act for this mailbox (ApplicationImpersonation)."},
  da: {ewsLogin: "Log ind-navn, hvis det ikke er e-mailadressen", ewsUrl: "EWS-adresse", mailbox: "E-mailadresse", impersonate: "Log ind med en tjenestekonto (impersonation)",
    serviceUsername: "Tjenestekontoens brugernavn", servicePassword: "Tjenestekontoens adgangskode",
    ewsHint: "Din Exchange-administrator kender EWS-adressen. En tjenestekonto skal have Exchange-rollen ApplicationImpersonation.",
    httpsRequired: "Brug en https://-adresse, f.eks. https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Indtast en e-mailadresse, f.eks. navn@example.com.",
    exchangeServerOnly: "Kun til Exchange Server.", verdict_not_caldav_ews: "Adressen svarer, men ikke som Exchange Web Services (EWS).",
    verdict_wrong_credentials_ews: "Exchange accepterede ikke log-ind. Kontroller e-mailadressen og adgangskoden; med en tjenestekonto også, at den må handle på vegne af denne postkasse (ApplicationImpersonation)."},
  sv: {ewsLogin: "Inloggningsnamn, om det inte är e-postadressen", ewsUrl: "EWS-adress", mailbox: "E-postadress", impersonate: "Logga in med ett tjänstkonto (impersonation)",
    serviceUsername: "Tjänstkontots användarnamn", servicePassword: "Tjänstkontots lösenord",
    ewsHint: "Din Exchange-administratör känner till EWS-adressen. Ett tjänstkonto behöver Exchange-rollen ApplicationImpersonation.",
    httpsRequired: "Använd en https://-adress, till exempel https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Ange en e-postadress, till exempel namn@example.com.",
    exchangeServerOnly: "Endast för Exchange Server.", verdict_not_caldav_ews: "Adressen svarar, men inte som Exchange Web Services (EWS).",
    verdict_wrong_credentials_ews: "Exchange godtog inte inloggningen. Kontrollera e-postadressen och lösenordet; med ett tjänstkonto även att det får agera för den här postlådan (ApplicationImpersonation)."},
  nl: {ewsLogin: "Aanmeldnaam, als dat niet het e-mailadres is", ewsUrl: "EWS-adres", mailbox: "E-mailadres", impersonate: "Aanmelden met een serviceaccount (impersonation)",
    serviceUsername: "Gebruikersnaam van het serviceaccount", servicePassword: "Wachtwoord van het serviceaccount",
    ewsHint: "Uw Exchange-beheerder kent het EWS-adres. Een serviceaccount heeft de Exchange-rol ApplicationImpersonation nodig.",
    httpsRequired: "Gebruik een https://-adres, zoals https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Vul een e-mailadres in, zoals naam@example.com.",
    exchangeServerOnly: "Alleen voor Exchange Server.", verdict_not_caldav_ews: "Het adres antwoordt, maar niet als Exchange Web Services (EWS).",
    verdict_wrong_credentials_ews: "Exchange heeft de aanmelding niet geaccepteerd. Controleer het e-mailadres en het wachtwoord; bij een serviceaccount ook of het namens dit postvak mag werken (ApplicationImpersonation)."},
  pl: {ewsLogin: "Nazwa logowania, jeśli nie jest to adres e-mail", ewsUrl: "Adres EWS", mailbox: "Adres e-mail", impersonate: "Zaloguj się kontem usługi (personifikacja)",
    serviceUsername: "Nazwa użytkownika konta usługi", servicePassword: "Hasło konta usługi",
    ewsHint: "Adres EWS zna administrator Exchange. Konto usługi musi mieć rolę Exchange ApplicationImpersonation.",
    httpsRequired: "Użyj adresu https://, na przykład https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Wpisz adres e-mail, na przykład imie@example.com.",
    exchangeServerOnly: "Tylko dla Exchange Server.", verdict_not_caldav_ews: "Adres odpowiada, ale nie jako Exchange Web Services (EWS).",
    verdict_wrong_credentials_ews: "Exchange nie zaakceptował logowania. Sprawdź adres e-mail i hasło; w przypadku konta usługi także, czy może działać w imieniu tej skrzynki pocztowej (ApplicationImpersonation)."},
};
for (const [language, texts] of Object.entries(EWS_TEXTS)) Object.assign(TEXTS[language], texts);

const PLACEHOLDERS = {caldav: "https://dav.example.com/", ews: "https://mail.example.com/EWS/Exchange.asmx"};

function relabel(id, key) {
  const label = document.getElementById(id);
  label.dataset.text = key;
  label.textContent = t(key);
}

let typedKind = null; // the kind whose account the typed fields hold (null: emptied)

// Nothing typed stays in the form (another user's account, its password).
function forgetTypedAccount() {
  for (const name of ["server_url", "mailbox", "username", "password"]) connectionForm[name].value = "";
  connectionForm.impersonate.checked = false;
  typedKind = null;
}

// The saved connection's account when it is of `kind`, as reopening the dialog shows it: its
// address, mailbox, impersonation and login; never its password.
function fillSavedAccount(kind) {
  const saved = state.connection;
  if (!saved || kindOf(saved) !== kind || !["caldav", "ews"].includes(kind)) return; // kindOf: connection.js
  connectionForm.server_url.value = saved.server_url || "";
  connectionForm.mailbox.value = saved.mailbox || "";
  connectionForm.impersonate.checked = kind === "ews" && saved.impersonate;
  const ownLogin = kind === "ews" && !saved.impersonate && saved.username === saved.mailbox;
  if (!ownLogin) connectionForm.username.value = saved.username;
}

function forgetField(name) {
  connectionForm[name].value = "";
  connectionForm[name].removeAttribute("aria-invalid");
  document.getElementById(`ce-${name}`).textContent = "";
}

// The typed-account fields for `kind` ("caldav" or "ews"; hidden for the others). Another
// kind's account and its errors go: a CalDAV address is never sent as the EWS address, nor a
// password to another server than the one it was typed for.
function showAccountFields(kind) {
  if (kind !== typedKind) {
    forgetTypedAccount();
    clearConnectionErrors(); // connection.js
    fillSavedAccount(kind);
    typedKind = kind;
  }
  document.getElementById("account-fields").hidden = !["caldav", "ews"].includes(kind);
  const ews = kind === "ews";
  const impersonating = ews && connectionForm.impersonate.checked;
  connectionForm.impersonate.setAttribute("aria-expanded", String(impersonating));
  document.getElementById("ews-hint").hidden = !ews;
  document.getElementById("mailbox-row").hidden = !ews;
  document.getElementById("username-row").hidden = false;
  relabel("c-server_url-label", ews ? "ewsUrl" : "serverUrl");
  // Exchange logins are often not the address (CORP\ann): asked for, optional, without
  // impersonation; the service account's with it.
  relabel("c-username-label", impersonating ? "serviceUsername" : ews ? "ewsLogin" : "username");
  connectionForm.username.placeholder = ews && !impersonating ? "CORP\\ann" : "";
  relabel("c-password-label", impersonating ? "servicePassword" : "password");
  connectionForm.server_url.placeholder = PLACEHOLDERS[ews ? "ews" : "caldav"];
}

// The account as the API takes it: without impersonation, the mailbox's owner signs in with
// its sign-in name, or its address when none is given; with it, the service account does,
// for the mailbox.
function ewsAccount() {
  const mailbox = connectionForm.mailbox.value.trim();
  const impersonate = connectionForm.impersonate.checked;
  const login = connectionForm.username.value.trim();
  return {
    provider: "exchange",
    auth_kind: "basic",
    server_url: connectionForm.server_url.value.trim(),
    username: impersonate ? connectionForm.username.value : login || mailbox,
    password: connectionForm.password.value,
    mailbox: mailbox || null,
    impersonate,
  };
}

// Ticked or unticked, the login and password typed belong to the other way of signing in (the
// mailbox's own, or the service account's): neither is sent for the other.
connectionForm.impersonate.addEventListener("change", () => {
  for (const name of ["username", "password"]) forgetField(name);
  showAccountFields("ews");
});
