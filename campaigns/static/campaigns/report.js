/* The campaign page's "After the send" section: the figures and tables (HTML rendered by the
   server from report.json, like the progress block) and the chart of messages sent, read and
   first replies over time (Chart.js from this app's static files: vendor/README.md). Refreshed
   while the campaign is active (data-polling "live"), and every minute once it finished within
   TGC_AFTER_SEND_DAYS ("after": reads and replies keep arriving); not at all later (""). The
   server caches the report until rows are sent or replied, so a refresh is cheap. */
"use strict";
(function () {
  const block = document.getElementById("tgc-report");
  if (!block) return;
  const activeMs = 10000;
  const idleMs = 60000;
  let chart = null;

  function draw(time) {
    const canvas = document.getElementById("tgc-chart-report");
    if (!canvas || typeof window.Chart === "undefined") return;
    const title = time.bucket ? "per " + time.bucket + " (" + time.zone + ")" : "nothing sent yet";
    // Grouped bars side by side: with one bucket (a campaign sent within the hour) lines drawn
    // over a sent bar were a single point hidden inside it; a bar each stays visible.
    const sets = [
      { label: "Sent", data: time.sent, backgroundColor: "#2e7d32", borderColor: "#2e7d32" },
      { label: "Read", data: time.read, backgroundColor: "#1565c0", borderColor: "#1565c0" },
      { label: "Replied", data: time.replied, backgroundColor: "#ef6c00", borderColor: "#ef6c00" },
    ].map((set) => Object.assign(set, { type: "bar", maxBarThickness: 48 }));
    if (!chart) {
      chart = new window.Chart(canvas, {
        type: "bar",
        data: { labels: time.labels, datasets: sets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { title: { display: true, text: title } },
        },
      });
    } else {
      chart.data.labels = time.labels;
      chart.data.datasets = sets;
      chart.options.plugins.title.text = title;
      chart.update();
    }
    block.dataset.points = String(time.labels.length);
    block.dataset.drawn = String((Number(block.dataset.drawn) || 0) + 1);
  }

  async function refresh(first) {
    try {
      const response = await fetch(block.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        if (!first) block.innerHTML = data.html;
        draw(data.over_time);
      }
    } catch (err) {
      // Keep the last figures; try again on the next tick.
    }
    if (!block.dataset.polling) return;
    const progress = document.getElementById("tgc-progress");
    const active = block.dataset.polling === "live" && progress && progress.dataset.active !== "false";
    window.setTimeout(refresh, active ? activeMs : idleMs);
  }
  refresh(true);
})();
