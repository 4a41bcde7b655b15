/* Refreshes a running campaign's progress block from its JSON view.
   The server renders the block's HTML (the same template as the first page load), so this script
   only swaps it in; when the campaign's status changes it reloads the page once, to update the
   buttons and the status reason. It stops polling when the campaign is no longer active. */
"use strict";
(function () {
  const block = document.getElementById("tgc-progress");
  if (!block) return;
  const url = block.dataset.url;
  const initialStatus = block.dataset.status;
  const intervalMs = 2000;
  let active = block.dataset.active === "true";

  async function refresh() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      block.innerHTML = data.html;
      active = data.active;
      block.dataset.active = String(active);
      block.dataset.refreshed = String((Number(block.dataset.refreshed) || 0) + 1);
      if (data.status !== initialStatus) {
        window.location.reload();
        return;
      }
    } catch (err) {
      // A network blip: keep the last numbers and try again on the next tick.
    }
    if (active) window.setTimeout(refresh, intervalMs);
  }

  if (active) window.setTimeout(refresh, intervalMs);
})();
