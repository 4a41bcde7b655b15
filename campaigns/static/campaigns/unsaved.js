/* The leave-page prompt over unsaved edits, on every change form of the admin: once a field of the
   form is edited (typed in, ticked, a file chosen) — or when the page comes back from the server
   with the form's own unsaved data (a form error, a refused stale save) — leaving the page by a
   link, a reload or closing the tab asks first (the browser's own "Leave site?" dialog). Saving
   (submitting the form, Launch included) never asks. Inputs without a name (the composer's
   "Preview as") are not edits: nothing of theirs is saved. */
"use strict";
(function () {
  const form = document.querySelector("#content-main form[id$='_form']");
  if (!form) return;
  let dirty = Boolean(document.querySelector("#content-main .errornote"));
  let submitting = false;

  function edited(event) {
    const field = event.target;
    if (field && field.name && form.contains(field)) {
      dirty = true;
      document.body.dataset.tgcUnsaved = "true";
    }
  }
  form.addEventListener("input", edited);
  form.addEventListener("change", edited);
  form.addEventListener("submit", function () { submitting = true; });
  if (dirty) document.body.dataset.tgcUnsaved = "true";

  window.addEventListener("beforeunload", function (event) {
    if (!dirty || submitting) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers need a value to show the dialog
  });
})();
