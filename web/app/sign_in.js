// Connecting a calendar by signing in at its provider (Google; Exchange Online with Microsoft):
// crm-api gives the provider's consent page's address, the user agrees there, the provider
// sends the browser back to crm-api, which saves the connection and sends it to this page,
// where the user chooses the calendars. The same button reconnects an account whose sign-in
// the provider no longer accepts. Exchange Server (EWS) is a typed account (connection_ews.js).
// Uses `api`, `t`, `state` (app.js) and the dialog's helpers in connection.js.
"use strict";

const SIGNED_IN = ["google", "exchange"]; // kinds connected by signing in (chosenKind)

const CONNECT_TEXTS = {
  en: {googleSignIn: "Sign in with Google and subscribe", googleHint: "Google asks you to allow this CRM to use your calendar, then sends you back here to choose the calendars.",
    microsoftSignIn: "Sign in with Microsoft and subscribe", microsoftHint: "Microsoft asks you to allow this CRM to use your Outlook calendar, then sends you back here to choose the calendars. Exchange mails the invitations.",
    exchangeKind: "Exchange", exchangeOnline: "Exchange Online (Microsoft 365)", exchangeServer: "Exchange Server (on-premises, EWS)",
    signIn_denied: "Access was not given, so nothing was connected.", signIn_expired: "The sign-in took too long or the link is not from this CRM. Start again.",
    signIn_other_browser: "This sign-in was started in another browser. Start it again here.", signIn_refused: "The provider did not accept the sign-in. Start again.",
    signIn_unavailable: "The calendar sync service did not answer. Try again in a moment.", signIn_taken: "A calendar of this account is already synchronised for another user.", signInFailed: "The sign-in did not complete. Try again.",
    verdict_wrong_credentials_google: "Google no longer accepts the saved sign-in: sign in with Google again.", verdict_unreachable_google: "Google could not be reached just now; try again in a moment.", verdict_no_calendar_google: "This Google account has no calendar this CRM may add meetings to.",
    verdict_wrong_credentials_exchange: "Microsoft no longer accepts the saved sign-in: sign in with Microsoft again.", verdict_unreachable_exchange: "Microsoft could not be reached just now; try again in a moment.", verdict_no_calendar_exchange: "This Microsoft account has no calendar this CRM may add meetings to."},
  da: {googleSignIn: "Log ind med Google og abonnér", googleHint: "Google beder dig give dette CRM adgang til din kalender og sender dig derefter tilbage hertil, hvor du vælger kalenderne.",
    microsoftSignIn: "Log ind med Microsoft og abonnér", microsoftHint: "Microsoft beder dig give dette CRM adgang til din Outlook-kalender og sender dig derefter tilbage hertil, hvor du vælger kalenderne. Exchange sender invitationerne.",
    exchangeKind: "Exchange", exchangeOnline: "Exchange Online (Microsoft 365)", exchangeServer: "Exchange Server (lokal, EWS)",
    signIn_denied: "Der blev ikke givet adgang, så intet blev forbundet.", signIn_expired: "Log-ind tog for lang tid, eller linket er ikke fra dette CRM. Start forfra.",
    signIn_other_browser: "Dette log-ind blev startet i en anden browser. Start det igen her.", signIn_refused: "Udbyderen accepterede ikke log-ind. Start forfra.",
    signIn_unavailable: "Kalendersynkroniseringen svarede ikke. Prøv igen om lidt.", signIn_taken: "En kalender fra denne konto synkroniseres allerede for en anden bruger.", signInFailed: "Log-ind blev ikke fuldført. Prøv igen.",
    verdict_wrong_credentials_google: "Google accepterer ikke længere det gemte log-ind: log ind med Google igen.", verdict_unreachable_google: "Google kunne ikke nås lige nu; prøv igen om lidt.", verdict_no_calendar_google: "Denne Google-konto har ingen kalender, som dette CRM må tilføje møder til.",
    verdict_wrong_credentials_exchange: "Microsoft accepterer ikke længere det gemte log-ind: log ind med Microsoft igen.", verdict_unreachable_exchange: "Microsoft kunne ikke nås lige nu; prøv igen om lidt.", verdict_no_calendar_exchange: "Denne Microsoft-konto har ingen kalender, som dette CRM må tilføje møder til."},
  sv: {googleSignIn: "Logga in med Google och prenumerera", googleHint: "Google ber dig ge detta CRM tillgång till din kalender och skickar dig sedan tillbaka hit för att välja kalendrar.",
    microsoftSignIn: "Logga in med Microsoft och prenumerera", microsoftHint: "Microsoft ber dig ge detta CRM tillgång till din Outlook-kalender och skickar dig sedan tillbaka hit för att välja kalendrar. Exchange skickar inbjudningarna.",
    exchangeKind: "Exchange", exchangeOnline: "Exchange Online (Microsoft 365)", exchangeServer: "Exchange Server (lokal, EWS)",
    signIn_denied: "Ingen åtkomst gavs, så inget anslöts.", signIn_expired: "Inloggningen tog för lång tid eller länken kommer inte från detta CRM. Börja om.",
    signIn_other_browser: "Inloggningen startades i en annan webbläsare. Starta den igen här.", signIn_refused: "Leverantören godtog inte inloggningen. Börja om.",
    signIn_unavailable: "Kalendersynkroniseringen svarade inte. Försök igen om en stund.", signIn_taken: "En kalender i det här kontot synkroniseras redan för en annan användare.", signInFailed: "Inloggningen slutfördes inte. Försök igen.",
    verdict_wrong_credentials_google: "Google godtar inte längre den sparade inloggningen: logga in med Google igen.", verdict_unreachable_google: "Google gick inte att nå just nu; försök igen om en stund.", verdict_no_calendar_google: "Det här Google-kontot har ingen kalender som detta CRM får lägga till möten i.",
    verdict_wrong_credentials_exchange: "Microsoft godtar inte längre den sparade inloggningen: logga in med Microsoft igen.", verdict_unreachable_exchange: "Microsoft gick inte att nå just nu; försök igen om en stund.", verdict_no_calendar_exchange: "Det här Microsoft-kontot har ingen kalender som detta CRM får lägga till möten i."},
  nl: {googleSignIn: "Inloggen met Google en abonneren", googleHint: "Google vraagt u dit CRM toegang tot uw agenda te geven en stuurt u daarna hierheen terug om de agenda's te kiezen.",
    microsoftSignIn: "Inloggen met Microsoft en abonneren", microsoftHint: "Microsoft vraagt u dit CRM toegang tot uw Outlook-agenda te geven en stuurt u daarna hierheen terug om de agenda's te kiezen. Exchange verstuurt de uitnodigingen.",
    exchangeKind: "Exchange", exchangeOnline: "Exchange Online (Microsoft 365)", exchangeServer: "Exchange Server (on-premises, EWS)",
    signIn_denied: "Er is geen toegang gegeven, dus er is niets gekoppeld.", signIn_expired: "Het inloggen duurde te lang of de link komt niet van dit CRM. Begin opnieuw.",
    signIn_other_browser: "Dit inloggen is in een andere browser gestart. Start het hier opnieuw.", signIn_refused: "De provider heeft het inloggen niet geaccepteerd. Begin opnieuw.",
    signIn_unavailable: "De agendasynchronisatie antwoordde niet. Probeer het zo opnieuw.", signIn_taken: "Een agenda van dit account wordt al voor een andere gebruiker gesynchroniseerd.", signInFailed: "Het inloggen is niet voltooid. Probeer het opnieuw.",
    verdict_wrong_credentials_google: "Google accepteert de opgeslagen aanmelding niet meer: log opnieuw in met Google.", verdict_unreachable_google: "Google is nu niet bereikbaar; probeer het zo opnieuw.", verdict_no_calendar_google: "Dit Google-account heeft geen agenda waarin dit CRM afspraken mag zetten.",
    verdict_wrong_credentials_exchange: "Microsoft accepteert de opgeslagen aanmelding niet meer: log opnieuw in met Microsoft.", verdict_unreachable_exchange: "Microsoft is nu niet bereikbaar; probeer het zo opnieuw.", verdict_no_calendar_exchange: "Dit Microsoft-account heeft geen agenda waarin dit CRM afspraken mag zetten."},
  pl: {googleSignIn: "Zaloguj się przez Google i subskrybuj", googleHint: "Google poprosi o zgodę na dostęp tego CRM do Twojego kalendarza, a potem odeśle Cię tutaj, aby wybrać kalendarze.",
    microsoftSignIn: "Zaloguj się przez Microsoft i subskrybuj", microsoftHint: "Microsoft poprosi o zgodę na dostęp tego CRM do Twojego kalendarza Outlook, a potem odeśle Cię tutaj, aby wybrać kalendarze. Zaproszenia wysyła Exchange.",
    exchangeKind: "Exchange", exchangeOnline: "Exchange Online (Microsoft 365)", exchangeServer: "Exchange Server (lokalny, EWS)",
    signIn_denied: "Nie udzielono dostępu, więc nic nie połączono.", signIn_expired: "Logowanie trwało zbyt długo albo link nie pochodzi z tego CRM. Zacznij od nowa.",
    signIn_other_browser: "To logowanie rozpoczęto w innej przeglądarce. Rozpocznij je tutaj.", signIn_refused: "Dostawca nie zaakceptował logowania. Zacznij od nowa.",
    signIn_unavailable: "Usługa synchronizacji kalendarza nie odpowiedziała. Spróbuj za chwilę.", signIn_taken: "Kalendarz tego konta jest już synchronizowany dla innego użytkownika.", signInFailed: "Logowanie nie zostało ukończone. Spróbuj ponownie.",
    verdict_wrong_credentials_google: "Google nie akceptuje już zapisanego logowania: zaloguj się ponownie przez Google.", verdict_unreachable_google: "Nie można teraz połączyć się z Google; spróbuj ponownie za chwilę.", verdict_no_calendar_google: "To konto Google nie ma kalendarza, do którego ten CRM może dodawać spotkania.",
    verdict_wrong_credentials_exchange: "Microsoft nie akceptuje już zapisanego logowania: zaloguj się ponownie przez Microsoft.", verdict_unreachable_exchange: "Nie można teraz połączyć się z Microsoft; spróbuj ponownie za chwilę.", verdict_no_calendar_exchange: "To konto Microsoft nie ma kalendarza, do którego ten CRM może dodawać spotkania."},
};
for (const [language, texts] of Object.entries(CONNECT_TEXTS)) Object.assign(TEXTS[language], texts);

function showProviderFields() {
  const provider = chosenProvider();
  const kind = chosenKind(); // connection.js
  for (const name of ["google", "exchange"]) {
    document.getElementById(`${name}-fields`).hidden = provider !== name;
  }
  document.getElementById("exchange-online-fields").hidden = kind !== "exchange";
  showAccountFields(kind); // connection_ews.js
  if (!(state.connection && kindOf(state.connection) === kind)) {
    document.getElementById("calendar-choice").hidden = true;
    document.getElementById("verdict").textContent = "";
    saveButton.disabled = true;
  }
}

async function signIn(provider) {
  clearConnectionErrors();
  let started;
  try {
    started = await api(`/users/${connectionUserId()}/calendar-connection/sign-in`, {
      method: "POST",
      body: JSON.stringify({provider}),
    });
  } catch (error) {
    showConnectionErrors(error);
    return;
  }
  window.location.assign(started.authorization_url);
}

// The saved account's calendars, the synchronised ones ticked.
async function showAccountCalendars() {
  const verdict = document.getElementById("verdict");
  verdict.textContent = "…";
  try {
    const result = await api(`/users/${connectionUserId()}/calendar-connection/calendars`);
    showVerdict(result, state.connection.calendars.map((c) => c.id));
  } catch (error) {
    verdict.textContent = "";
    showConnectionErrors(error);
  }
}

// Back from the provider: crm-api's callback put the outcome in the page's address.
async function resumeSignIn() {
  const query = new URLSearchParams(window.location.search);
  const userId = query.get("connected") || query.get("connect_user");
  const error = query.get("connect_error");
  if (!userId && !error) return;
  window.history.replaceState(null, "", window.location.pathname);
  await openConnection(userId || state.me.id);
  if (error) {
    const worded = `signIn_${error}`; // a code from crm-api's callback, worded here
    document.getElementById("ce-form").textContent = t(worded) !== worded ? t(worded) : t("signInFailed");
    return;
  }
  if (!state.offered.some((u) => u.id === userId)) {
    await loadPeople(); // people.js: a newly connected colleague is now offered
    renderPeople();
  }
  await askForSync(userId);
}

document.getElementById("google-sign-in").addEventListener("click", () => signIn("google"));
document.getElementById("exchange-sign-in").addEventListener("click", () => signIn("exchange"));
for (const radio of connectionForm.querySelectorAll("input[name=exchange_kind]")) {
  radio.addEventListener("change", showProviderFields);
}
