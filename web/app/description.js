// The meeting form's description as formatted text, edited with Quill (BSD-3, from npm). The API
// sanitises it and keeps its plain text for the providers. Tab leaves the editor, as in any other
// field (Quill would indent or insert a tab), so the form stays usable from the keyboard.
// Uses `t` from app.js.
"use strict";

const KEEP_TAB_FOR_FOCUS = {key: "Tab", handler: () => true}; // true: the browser handles it
const descriptionEditor = new Quill("#f-description", {
  theme: "snow",
  modules: {
    toolbar: [["bold", "italic", "underline"], [{list: "ordered"}, {list: "bullet"}], ["link", "clean"]],
    keyboard: {
      bindings: {
        tab: KEEP_TAB_FOR_FOCUS,
        indent: {...KEEP_TAB_FOR_FOCUS, format: ["blockquote", "indent", "list"]},
        outdent: {...KEEP_TAB_FOR_FOCUS, shiftKey: true, format: ["blockquote", "indent", "list"]},
      },
    },
  },
});

const TOOL_WORDS = {
  ".ql-bold": "bold", ".ql-italic": "italic", ".ql-underline": "underline",
  ".ql-list[value=ordered]": "numberedList", ".ql-list[value=bullet]": "bulletList",
  ".ql-link": "link", ".ql-clean": "clearFormat",
};

// Names for the editor and its buttons in the user's language (the page calls this on start).
function labelDescriptionEditor() {
  const toolbar = descriptionEditor.getModule("toolbar").container;
  for (const [selector, word] of Object.entries(TOOL_WORDS)) {
    const button = toolbar.querySelector(selector);
    if (button) button.setAttribute("aria-label", t(word));
  }
  const root = descriptionEditor.root;
  root.setAttribute("role", "textbox");
  root.setAttribute("aria-multiline", "true");
  root.setAttribute("aria-label", t("description"));
  const linkInput = descriptionEditor.container.querySelector(".ql-tooltip input");
  if (linkInput) linkInput.setAttribute("aria-label", t("link"));
  // Quill's link tooltip takes its words from CSS `content` (app.css reads these properties).
  for (const word of ["linkVisit", "linkEdit", "linkRemove", "linkSave", "linkEnter"]) {
    document.documentElement.style.setProperty(`--${word}`, JSON.stringify(t(word)));
  }
}

let descriptionEdited = false;
descriptionEditor.on("text-change", (delta, old, source) => {
  if (source === "user") descriptionEdited = true;
});

function setDescription(meeting) {
  descriptionEdited = false;
  if (meeting && meeting.description_html) {
    descriptionEditor.setContents(descriptionEditor.clipboard.convert({html: meeting.description_html}), "silent");
  } else {
    descriptionEditor.setText(meeting ? meeting.description : "", "silent");
  }
}

// What the form sends: the formatted text once edited (an untouched description stays as the
// API has it, plain text from a calendar program included), or "" to clear it.
function descriptionParts() {
  if (!descriptionEdited) return {};
  const empty = descriptionEditor.getText().trim() === "";
  // Quill 2.0 writes every space as &nbsp; in its semantic HTML; plain spaces wrap as text should.
  const html = descriptionEditor.getSemanticHTML().replaceAll("&nbsp;", " ");
  return {description_html: empty ? "" : html};
}
