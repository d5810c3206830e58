// Connecting a Google calendar: the user signs in at Google (crm-api gives the consent page's
// address and, on the way back, saves the connection), comes back to this page and chooses
// the calendars. The same button reconnects an account whose sign-in Google no longer accepts.
// Uses `api`, `t`, `state` (app.js) and the dialog's helpers in connection.js.
"use strict";

const CONNECT_TEXTS = {
  en: {googleSignIn: "Sign in with Google and subscribe", googleHint: "Google asks you to allow this CRM to use your calendar, then sends you back here to choose the calendars.",
    signIn_denied: "Google was not given access, so nothing was connected.", signIn_expired: "The sign-in took too long or the link is not from this CRM. Start again.",
    signIn_other_browser: "This sign-in was started in another browser. Start it again here.", signIn_refused: "Google did not accept the sign-in. Start again.",
    signIn_unavailable: "The calendar sync service did not answer. Try again in a moment.", signIn_taken: "A calendar of this account is already synchronised for another user.", signInFailed: "The sign-in at Google did not complete. Try again.",
    verdict_wrong_credentials_google: "Google no longer accepts the saved sign-in: sign in with Google again.", verdict_unreachable_google: "Google could not be reached just now; try again in a moment.", verdict_no_calendar_google: "This Google account has no calendar this CRM may add meetings to."},
  da: {googleSignIn: "Log ind med Google og abonnér", googleHint: "Google beder dig give dette CRM adgang til din kalender og sender dig derefter tilbage hertil, hvor du vælger kalenderne.",
    signIn_denied: "Google fik ikke adgang, så intet blev forbundet.", signIn_expired: "Log-ind tog for lang tid, eller linket er ikke fra dette CRM. Start forfra.",
    signIn_other_browser: "Dette log-ind blev startet i en anden browser. Start det igen her.", signIn_refused: "Google accepterede ikke log-ind. Start forfra.",
    signIn_unavailable: "Kalendersynkroniseringen svarede ikke. Prøv igen om lidt.", signIn_taken: "En kalender fra denne konto synkroniseres allerede for en anden bruger.", signInFailed: "Log-ind hos Google blev ikke fuldført. Prøv igen.",
    verdict_wrong_credentials_google: "Google accepterer ikke længere det gemte log-ind: log ind med Google igen.", verdict_unreachable_google: "Google kunne ikke nås lige nu; prøv igen om lidt.", verdict_no_calendar_google: "Denne Google-konto har ingen kalender, som dette CRM må tilføje møder til."},
  sv: {googleSignIn: "Logga in med Google och prenumerera", googleHint: "Google ber dig ge detta CRM tillgång till din kalender och skickar dig sedan tillbaka hit för att välja kalendrar.",
    signIn_denied: "Google fick inte tillgång, så inget anslöts.", signIn_expired: "Inloggningen tog för lång tid eller länken kommer inte från detta CRM. Börja om.",
    signIn_other_browser: "Inloggningen startades i en annan webbläsare. Starta den igen här.", signIn_refused: "Google godtog inte inloggningen. Börja om.",
    signIn_unavailable: "Kalendersynkroniseringen svarade inte. Försök igen om en stund.", signIn_taken: "En kalender i det här kontot synkroniseras redan för en annan användare.", signInFailed: "Inloggningen hos Google slutfördes inte. Försök igen.",
    verdict_wrong_credentials_google: "Google godtar inte längre den sparade inloggningen: logga in med Google igen.", verdict_unreachable_google: "Google gick inte att nå just nu; försök igen om en stund.", verdict_no_calendar_google: "Det här Google-kontot har ingen kalender som detta CRM får lägga till möten i."},
  nl: {googleSignIn: "Inloggen met Google en abonneren", googleHint: "Google vraagt u dit CRM toegang tot uw agenda te geven en stuurt u daarna hierheen terug om de agenda's te kiezen.",
    signIn_denied: "Google heeft geen toegang gekregen, dus er is niets gekoppeld.", signIn_expired: "Het inloggen duurde te lang of de link komt niet van dit CRM. Begin opnieuw.",
    signIn_other_browser: "Dit inloggen is in een andere browser gestart. Start het hier opnieuw.", signIn_refused: "Google heeft het inloggen niet geaccepteerd. Begin opnieuw.",
    signIn_unavailable: "De agendasynchronisatie antwoordde niet. Probeer het zo opnieuw.", signIn_taken: "Een agenda van dit account wordt al voor een andere gebruiker gesynchroniseerd.", signInFailed: "Het inloggen bij Google is niet voltooid. Probeer het opnieuw.",
    verdict_wrong_credentials_google: "Google accepteert de opgeslagen aanmelding niet meer: log opnieuw in met Google.", verdict_unreachable_google: "Google is nu niet bereikbaar; probeer het zo opnieuw.", verdict_no_calendar_google: "Dit Google-account heeft geen agenda waarin dit CRM afspraken mag zetten."},
  pl: {googleSignIn: "Zaloguj się przez Google i subskrybuj", googleHint: "Google poprosi o zgodę na dostęp tego CRM do Twojego kalendarza, a potem odeśle Cię tutaj, aby wybrać kalendarze.",
    signIn_denied: "Google nie otrzymał dostępu, więc nic nie połączono.", signIn_expired: "Logowanie trwało zbyt długo albo link nie pochodzi z tego CRM. Zacznij od nowa.",
    signIn_other_browser: "To logowanie rozpoczęto w innej przeglądarce. Rozpocznij je tutaj.", signIn_refused: "Google nie zaakceptował logowania. Zacznij od nowa.",
    signIn_unavailable: "Usługa synchronizacji kalendarza nie odpowiedziała. Spróbuj za chwilę.", signIn_taken: "Kalendarz tego konta jest już synchronizowany dla innego użytkownika.", signInFailed: "Logowanie w Google nie zostało ukończone. Spróbuj ponownie.",
    verdict_wrong_credentials_google: "Google nie akceptuje już zapisanego logowania: zaloguj się ponownie przez Google.", verdict_unreachable_google: "Nie można teraz połączyć się z Google; spróbuj ponownie za chwilę.", verdict_no_calendar_google: "To konto Google nie ma kalendarza, do którego ten CRM może dodawać spotkania."},
};
for (const [language, texts] of Object.entries(CONNECT_TEXTS)) Object.assign(TEXTS[language], texts);

function showProviderFields() {
  const provider = chosenProvider();
  document.getElementById("caldav-fields").hidden = provider !== "caldav";
  document.getElementById("google-fields").hidden = provider !== "google";
  if (!(state.connection && state.connection.provider === provider)) {
    document.getElementById("calendar-choice").hidden = true;
    document.getElementById("verdict").textContent = "";
    saveButton.disabled = true;
  }
}

async function signInWithGoogle() {
  clearConnectionErrors();
  let started;
  try {
    started = await api(`/users/${connectionUserId()}/calendar-connection/sign-in`, {
      method: "POST",
      body: JSON.stringify({provider: "google"}),
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

// Back from Google: crm-api's callback put the outcome in the page's address.
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

document.getElementById("google-sign-in").addEventListener("click", signInWithGoogle);
