// Exchange Server on premises (EWS): the CalDAV form's fields, worded for Exchange. The EWS
// address, the mailbox's address and its password; or, with impersonation, a service account's
// login and password acting for the mailbox (the mailbox's own password is then not asked).
// Testing, picking calendars and saving are the CalDAV form's (connection.js).
// Uses `t`, `TEXTS` (app.js, i18n.js) and `connectionForm` (connection.js).
"use strict";

const EWS_TEXTS = {
  en: {ewsUrl: "EWS address", mailbox: "Email address", impersonate: "Sign in with a service account (impersonation)",
    serviceUsername: "Service account username", servicePassword: "Service account password",
    ewsHint: "Your Exchange administrator knows the EWS address. A service account needs Exchange's ApplicationImpersonation role.",
    httpsRequired: "Use an https:// address, such as https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Enter an email address, such as name@example.com.",
    exchangeServerOnly: "Only for Exchange Server.", verdict_not_caldav_ews: "The address answers, but not as Exchange Web Services (EWS)."},
  da: {ewsUrl: "EWS-adresse", mailbox: "E-mailadresse", impersonate: "Log ind med en tjenestekonto (impersonation)",
    serviceUsername: "Tjenestekontoens brugernavn", servicePassword: "Tjenestekontoens adgangskode",
    ewsHint: "Din Exchange-administrator kender EWS-adressen. En tjenestekonto skal have Exchange-rollen ApplicationImpersonation.",
    httpsRequired: "Brug en https://-adresse, f.eks. https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Indtast en e-mailadresse, f.eks. navn@example.com.",
    exchangeServerOnly: "Kun til Exchange Server.", verdict_not_caldav_ews: "Adressen svarer, men ikke som Exchange Web Services (EWS)."},
  sv: {ewsUrl: "EWS-adress", mailbox: "E-postadress", impersonate: "Logga in med ett tjänstkonto (impersonation)",
    serviceUsername: "Tjänstkontots användarnamn", servicePassword: "Tjänstkontots lösenord",
    ewsHint: "Din Exchange-administratör känner till EWS-adressen. Ett tjänstkonto behöver Exchange-rollen ApplicationImpersonation.",
    httpsRequired: "Använd en https://-adress, till exempel https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Ange en e-postadress, till exempel namn@example.com.",
    exchangeServerOnly: "Endast för Exchange Server.", verdict_not_caldav_ews: "Adressen svarar, men inte som Exchange Web Services (EWS)."},
  nl: {ewsUrl: "EWS-adres", mailbox: "E-mailadres", impersonate: "Aanmelden met een serviceaccount (impersonation)",
    serviceUsername: "Gebruikersnaam van het serviceaccount", servicePassword: "Wachtwoord van het serviceaccount",
    ewsHint: "Uw Exchange-beheerder kent het EWS-adres. Een serviceaccount heeft de Exchange-rol ApplicationImpersonation nodig.",
    httpsRequired: "Gebruik een https://-adres, zoals https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Vul een e-mailadres in, zoals naam@example.com.",
    exchangeServerOnly: "Alleen voor Exchange Server.", verdict_not_caldav_ews: "Het adres antwoordt, maar niet als Exchange Web Services (EWS)."},
  pl: {ewsUrl: "Adres EWS", mailbox: "Adres e-mail", impersonate: "Zaloguj się kontem usługi (personifikacja)",
    serviceUsername: "Nazwa użytkownika konta usługi", servicePassword: "Hasło konta usługi",
    ewsHint: "Adres EWS zna administrator Exchange. Konto usługi musi mieć rolę Exchange ApplicationImpersonation.",
    httpsRequired: "Użyj adresu https://, na przykład https://mail.example.com/EWS/Exchange.asmx.", notAnAddress: "Wpisz adres e-mail, na przykład imie@example.com.",
    exchangeServerOnly: "Tylko dla Exchange Server.", verdict_not_caldav_ews: "Adres odpowiada, ale nie jako Exchange Web Services (EWS)."},
};
for (const [language, texts] of Object.entries(EWS_TEXTS)) Object.assign(TEXTS[language], texts);

const PLACEHOLDERS = {caldav: "https://dav.example.com/", ews: "https://mail.example.com/EWS/Exchange.asmx"};

function relabel(id, key) {
  const label = document.getElementById(id);
  label.dataset.text = key;
  label.textContent = t(key);
}

// The typed-account fields for `kind` ("caldav" or "ews"; hidden for the others).
function showAccountFields(kind) {
  document.getElementById("account-fields").hidden = !["caldav", "ews"].includes(kind);
  const ews = kind === "ews";
  const impersonating = ews && connectionForm.impersonate.checked;
  document.getElementById("ews-hint").hidden = !ews;
  document.getElementById("mailbox-row").hidden = !ews;
  document.getElementById("username-row").hidden = ews && !impersonating;
  relabel("c-server_url-label", ews ? "ewsUrl" : "serverUrl");
  relabel("c-username-label", impersonating ? "serviceUsername" : "username");
  relabel("c-password-label", impersonating ? "servicePassword" : "password");
  connectionForm.server_url.placeholder = PLACEHOLDERS[ews ? "ews" : "caldav"];
}

// The account as the API takes it: without impersonation, the mailbox's owner signs in with
// its address; with it, the service account does, for the mailbox.
function ewsAccount() {
  const mailbox = connectionForm.mailbox.value.trim();
  const impersonate = connectionForm.impersonate.checked;
  return {
    provider: "exchange",
    auth_kind: "basic",
    server_url: connectionForm.server_url.value.trim(),
    username: impersonate ? connectionForm.username.value : mailbox,
    password: connectionForm.password.value,
    mailbox: mailbox || null,
    impersonate,
  };
}

connectionForm.impersonate.addEventListener("change", () => showAccountFields("ews"));
