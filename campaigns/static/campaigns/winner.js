// The winner page: a click anywhere on a variant's row (its wording, its figures) chooses that
// variant, as a click on its radio or its label does.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const row of document.querySelectorAll("#tgc-variants tbody tr")) {
    const radio = row.querySelector('input[type="radio"]');
    if (!radio || radio.disabled) continue;
    row.classList.add("tgc-choosable");
    row.addEventListener("click", (event) => {
      if (event.target !== radio) radio.checked = true;
    });
  }
});
