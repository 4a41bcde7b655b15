/* The campaign page's charts (Chart.js, served from this app's static files: vendor/README.md).
   Data comes from the charts JSON view, built from the maintained tallies; while the campaign is
   active the charts refresh every few seconds, like the progress block. The table under the
   failures chart explains each error code in plain words and links to those results. */
"use strict";
(function () {
  const box = document.getElementById("tgc-charts");
  if (!box || typeof window.Chart === "undefined") return;
  const intervalMs = 5000;
  let active = box.dataset.active === "true";
  const charts = {};

  function make(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas) return null;
    return new window.Chart(canvas, config);
  }

  function errorsTable(errors) {
    const body = document.querySelector("#tgc-errors tbody");
    if (!body) return;
    body.replaceChildren(...errors.map(function (e) {
      const tr = document.createElement("tr");
      const code = document.createElement("td");
      const c = document.createElement("code");
      c.textContent = e.code;
      code.append(c);
      const count = document.createElement("td");
      if (e.url) {
        const a = document.createElement("a");
        a.href = e.url;
        a.textContent = e.count + " →";
        a.title = "These results";
        count.append(a);
      } else {
        count.textContent = e.count;
      }
      const what = document.createElement("td");
      what.textContent = e.explanation + (e.retry === "retryable" ? "" : " (permanent)");
      tr.append(code, count, what);
      return tr;
    }));
  }

  function draw(data) {
    const time = data.over_time;
    const sets = time.datasets.map(function (d) {
      return { label: d.label, data: d.data, backgroundColor: d.colour, stack: "sent" };
    });
    const perSession = data.per_session;
    const sessionSets = [
      { label: "Sent", data: perSession.sent, backgroundColor: "#2e7d32" },
      { label: "Failed", data: perSession.failed, backgroundColor: "#c62828" },
    ];
    const errors = data.errors;
    const errorSet = [{ label: "Failed", data: errors.map(function (e) { return e.count; }), backgroundColor: "#c62828" }];
    const timeTitle = time.bucket ? "messages sent per " + time.bucket + " (" + time.zone + ")" : "nothing sent yet";
    if (!charts.time) {
      const common = { animation: false, responsive: true, maintainAspectRatio: false };
      charts.time = make("tgc-chart-time", {
        type: "bar",
        data: { labels: time.labels, datasets: sets },
        options: Object.assign({}, common, {
          scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { title: { display: true, text: timeTitle } },
        }),
      });
      charts.sessions = make("tgc-chart-sessions", {
        type: "bar",
        data: { labels: perSession.labels, datasets: sessionSets },
        options: Object.assign({}, common, { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }),
      });
      charts.errors = make("tgc-chart-errors", {
        type: "bar",
        data: { labels: errors.map(function (e) { return e.code; }), datasets: errorSet },
        options: Object.assign({}, common, {
          indexAxis: "y",
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { legend: { display: false } },
        }),
      });
    } else {
      charts.time.data.labels = time.labels;
      charts.time.data.datasets = sets;
      charts.time.options.plugins.title.text = timeTitle;
      charts.time.update();
      charts.sessions.data.labels = perSession.labels;
      charts.sessions.data.datasets = sessionSets;
      charts.sessions.update();
      charts.errors.data.labels = errors.map(function (e) { return e.code; });
      charts.errors.data.datasets = errorSet;
      charts.errors.update();
    }
    errorsTable(errors);
    // Chart.js styles its canvas (display: block), so the box around it is what is hidden.
    const errorBox = document.getElementById("tgc-chart-errors-box");
    if (errorBox) errorBox.style.display = errors.length ? "" : "none";
    const none = document.getElementById("tgc-no-errors");
    if (none) none.hidden = errors.length > 0;
    box.dataset.drawn = String((Number(box.dataset.drawn) || 0) + 1);
  }

  async function refresh() {
    try {
      const response = await fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) draw(await response.json());
    } catch (err) {
      // Keep the last charts; try again on the next tick.
    }
    const progress = document.getElementById("tgc-progress");
    if (progress) active = progress.dataset.active !== "false";
    if (active) window.setTimeout(refresh, intervalMs);
  }
  refresh();
})();
