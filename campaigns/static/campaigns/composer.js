/* The campaign page's composer: a live preview of the message as one types it (saved or not), for
   a recipient picked by row, identity or name (Enter previews as the first match, never saves); the one-click default for a field some recipients
   lack; a thumbnail of the media; and the guard that keeps Launch and Send test from running over
   unsaved edits (they send what was saved). The server does every check (the preview endpoint
   runs the launch's own checks); this script only sends what is on screen and shows the answer. */
"use strict";
(function () {
  const panel = document.getElementById("tgc-composer");
  if (!panel) return;
  const form = document.getElementById("campaign_form");
  const csrf = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  let recipientId = "";
  let timer = null;
  let sequence = 0;

  // Unsaved edits: Launch and Send test are held back until the page is saved.
  let dirty = false;
  function markDirty() {
    if (dirty) return;
    dirty = true;
    document.body.dataset.tgcDirty = "true";
    const note = document.getElementById("tgc-unsaved");
    if (note) note.hidden = false;
    document.querySelectorAll("[data-needs-saved]").forEach(function (el) {
      el.setAttribute("aria-disabled", "true");
      el.classList.add("tgc-disabled");
      if (el.tagName === "BUTTON") el.disabled = true;
    });
  }
  document.querySelectorAll("a[data-needs-saved]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (dirty) event.preventDefault();
    });
  });

  function draftData() {
    const data = new FormData();
    data.append("csrfmiddlewaretoken", csrf());
    data.append("campaign", panel.dataset.campaign || "");
    data.append("recipient", recipientId);
    const message = document.getElementById("id_message");
    if (message) {
      data.append("message", message.value);
      const mode = document.getElementById("id_parse_mode");
      data.append("parse_mode", mode ? mode.value : "plain");
      document.querySelectorAll("input[name=lists]:checked").forEach(function (box) {
        data.append("lists", box.value);
      });
      document.querySelectorAll("input[name=segments]:checked").forEach(function (box) {
        data.append("segments", box.value);
      });
      const file = document.getElementById("id_media");
      const clear = document.getElementById("media-clear_id");
      const hasNew = file && file.files && file.files.length > 0;
      const hasOld = panel.dataset.mediaUrl && !(clear && clear.checked);
      data.append("has_media", hasNew || hasOld ? "1" : "0");
    }
    return data;
  }

  function fill(id, items) {
    const list = document.getElementById(id);
    if (!list) return;
    list.replaceChildren(...items.map(function (text) {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
    list.hidden = items.length === 0;
  }

  function showMissing(missing) {
    const box = document.getElementById("tgc-missing");
    if (!box) return;
    box.replaceChildren(...missing.map(function (m) {
      const p = document.createElement("p");
      p.className = "tgc-missing-row";
      p.dataset.name = m.name;
      p.append(m.sentence + ". ");
      if (panel.dataset.defaultUrl) {
        const input = document.createElement("input");
        input.type = "text";
        input.className = "tgc-default-value";
        input.value = "there";
        input.setAttribute("aria-label", "Default for " + m.name);
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button tgc-use-default";
        button.dataset.name = m.name;
        button.textContent = "Use as default";
        p.append(input, " ", button);
      }
      return p;
    }));
    box.hidden = missing.length === 0;
  }

  function showVariables(names) {
    const p = document.getElementById("tgc-variables");
    if (!p) return;
    p.hidden = names === null;
    if (names === null) return;
    if (!names.length) {
      p.textContent = "The chosen lists have no columns besides the recipient, so nothing can personalise the message.";
      return;
    }
    p.replaceChildren("Columns you can use: ", ...names.flatMap(function (name, i) {
      const code = document.createElement("code");
      code.textContent = "{{ " + name + " }}";
      return i ? [", ", code] : [code];
    }));
  }

  async function refresh() {
    const mine = ++sequence;
    panel.dataset.state = "loading";
    try {
      const response = await fetch(panel.dataset.previewUrl, { method: "POST", body: draftData(), credentials: "same-origin" });
      if (!response.ok || mine !== sequence) return;
      const data = await response.json();
      document.getElementById("tgc-bubble").innerHTML = data.html; // escaped by the server
      document.getElementById("tgc-preview-who").textContent = data.who;
      document.getElementById("tgc-length-n").textContent = data.length;
      document.getElementById("tgc-length-limit").textContent = data.limit;
      document.getElementById("tgc-length-what").textContent = data.what;
      document.getElementById("tgc-length").classList.toggle("tgc-over", data.length > data.limit);
      fill("tgc-problems", data.problems);
      fill("tgc-warnings", data.warnings);
      showMissing(data.missing);
      showVariables(data.variables);
      if (data.recipient_id) {
        recipientId = String(data.recipient_id);
        document.querySelectorAll("a.tgc-op-test").forEach(function (link) {
          const url = new URL(link.href, window.location.href);
          url.searchParams.set("recipient", recipientId);
          link.href = url.toString();
        });
      }
    } catch (err) {
      // A network blip: the next keystroke tries again.
    } finally {
      if (mine === sequence) panel.dataset.state = "ready";
    }
  }

  function soon() {
    window.clearTimeout(timer);
    panel.dataset.state = "pending";
    timer = window.setTimeout(refresh, 250);
  }

  function showThumbnail(file) {
    const thumb = document.getElementById("tgc-thumb");
    if (!thumb) return;
    if (!file) {
      thumb.hidden = !panel.dataset.mediaUrl;
      return;
    }
    let element;
    if (file.type.startsWith("image/")) {
      element = document.createElement("img");
      element.alt = "The chosen media";
    } else if (file.type.startsWith("video/")) {
      element = document.createElement("video");
      element.muted = true;
    } else {
      element = document.createElement("span");
      element.className = "tgc-file";
      element.textContent = "📎 " + file.name;
    }
    if (element.tagName !== "SPAN") element.src = URL.createObjectURL(file);
    thumb.replaceChildren(element);
    thumb.hidden = false;
  }

  // "Media details" describe the saved file: once another is chosen, say so until the save
  // checks it (the details of the old file beside the new one misled staff, issue 19.6).
  function describeUnsavedMedia(file) {
    const details = document.querySelector(".field-media_summary .readonly");
    if (!details) return;
    if (!details.dataset.saved) details.dataset.saved = details.textContent;
    if (!file) {
      details.textContent = details.dataset.saved;
      return;
    }
    const size = file.size >= 1048576 ? (file.size / 1048576).toFixed(1) + " MiB" : Math.ceil(file.size / 1024) + " KiB";
    details.textContent =
      "New file, not saved yet: " + file.name + " (" + (file.type || "unknown type") + ", " + size + ")" +
      " — its type, size and duration are checked against Telegram's limits when you save.";
  }

  // The picker: search the lists' recipients, click one to preview as them.
  const query = document.getElementById("tgc-pick-q");
  const results = document.getElementById("tgc-pick-results");
  let pickTimer = null;
  let searches = 0;
  async function search() {
    const mine = ++searches; // an older answer arriving late never replaces a newer one
    const data = draftData();
    const params = new URLSearchParams({ q: query.value, campaign: data.get("campaign") || "" });
    if (data.has("message")) params.append("message", "");
    data.getAll("lists").forEach(function (id) { params.append("lists", id); });
    data.getAll("segments").forEach(function (id) { params.append("segments", id); });
    const response = await fetch(panel.dataset.recipientsUrl + "?" + params.toString(), { credentials: "same-origin" });
    if (!response.ok) return;
    const found = (await response.json()).recipients;
    if (mine !== searches) return;
    results.replaceChildren(...found.map(function (r) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tgc-pick";
      button.dataset.id = r.id;
      button.textContent = r.label + (r.fields ? " — " + r.fields : "");
      li.append(button);
      return li;
    }));
    if (!found.length) {
      const li = document.createElement("li");
      li.textContent = "No recipient matches.";
      results.replaceChildren(li);
    }
    results.hidden = false;
  }
  if (query && results) {
    query.addEventListener("input", function () {
      window.clearTimeout(pickTimer);
      pickTimer = window.setTimeout(search, 250);
    });
    query.addEventListener("focus", function () { if (!results.children.length) search(); });
    // Enter in "Preview as" previews as the first match; it never submits (saves) the campaign.
    query.addEventListener("keydown", async function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      window.clearTimeout(pickTimer);
      await search();
      const first = results.querySelector("button.tgc-pick");
      if (first) first.click();
    });
    results.addEventListener("click", function (event) {
      const button = event.target.closest("button.tgc-pick");
      if (!button) return;
      recipientId = button.dataset.id;
      results.hidden = true;
      refresh();
    });
  }

  // The one-click default: the server rewrites the message, the page puts it in the box.
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button.tgc-use-default");
    const message = document.getElementById("id_message");
    if (!button || !message || !panel.dataset.defaultUrl) return;
    const row = button.closest(".tgc-missing-row");
    const data = new FormData();
    data.append("csrfmiddlewaretoken", csrf());
    data.append("message", message.value);
    data.append("name", button.dataset.name);
    data.append("default", row.querySelector(".tgc-default-value").value);
    const response = await fetch(panel.dataset.defaultUrl, { method: "POST", body: data, credentials: "same-origin" });
    if (!response.ok) return;
    message.value = (await response.json()).message;
    message.dispatchEvent(new Event("input", { bubbles: true }));
  });

  if (form) {
    form.addEventListener("input", function (event) {
      if (event.target.closest && event.target.closest("#tgc-composer")) return;
      markDirty();
      soon();
    });
    form.addEventListener("change", function (event) {
      if (event.target.closest && event.target.closest("#tgc-composer")) return;
      markDirty();
      if (event.target.id === "id_media") {
        showThumbnail(event.target.files[0]);
        describeUnsavedMedia(event.target.files[0]);
      }
      soon();
    });
  }
  panel.dataset.state = "ready";
  // A save refused for an edit conflict (tgcampaigns/edit_conflicts.py) comes back with the other
  // person's message in the box, while the server previewed the message this page posted: preview
  // what the box holds now.
  if (document.querySelector(".tgc-conflict")) refresh();
})();
