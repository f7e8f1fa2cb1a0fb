// The dashboard's only script (served by the app; the Content-Security-Policy allows nothing else).
// It calls the JSON API for review changes and bulk dismiss, and writes only text (textContent), never HTML.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {status: response.status, data: data || {}};
      });
    });
  }

  function say(el, text, kind) {
    if (!el) { return; }
    el.textContent = text;
    el.className = "message " + (kind || "");
  }

  // Item page: status, assignee and note through PATCH /api/items/{id}/review.
  var form = document.getElementById("review-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var message = document.getElementById("review-message");
      var data = new FormData(form);
      var body = {version: data.get("version")};
      var assignee = form.querySelector("[name=assignee]");
      if (assignee && assignee.value !== assignee.getAttribute("data-initial")) { body.assignee = assignee.value; }
      if (data.get("status")) { body.status = data.get("status"); }
      if (data.get("note")) { body.note = data.get("note"); }
      var button = document.getElementById("review-save");
      button.disabled = true;
      say(message, "Saving…", "");
      api("PATCH", form.getAttribute("data-endpoint"), body).then(function (r) {
        button.disabled = false;
        if (r.status === 200) {
          say(message, "Saved.", "ok");
          window.location.reload();
        } else if (r.status === 409) {
          var current = r.data.current && r.data.current.review;
          var who = current && current.updated_by ? " (" + current.updated_by + " changed it to " +
            String(current.status).replace("_", " ") + ")" : "";
          say(message, "Not saved: " + (r.data.message || "the item changed") + who +
            ". Reload the page to see the change; copy your note first.", "error conflict");
        } else if (r.status === 401) {
          say(message, "Your session ended; sign in again.", "error");
        } else {
          say(message, "Not saved: " + (r.data.message || ("error " + r.status)), "error");
        }
      }, function () {
        button.disabled = false;
        say(message, "Not saved: the server could not be reached.", "error");
      });
    });
  }

  // Search page: select items, then dismiss them in one request (two clicks, no pop-up).
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.select"));
  var bulk = document.getElementById("bulk-dismiss");
  var confirmButton = document.getElementById("bulk-confirm");
  var all = document.getElementById("select-all");
  function selected() { return boxes.filter(function (b) { return b.checked; }); }
  function refresh() {
    if (!bulk) { return; }
    var n = selected().length;
    bulk.disabled = n === 0;
    confirmButton.hidden = true;
    document.getElementById("bulk-n").textContent = String(n);
  }
  boxes.forEach(function (b) { b.addEventListener("change", refresh); });
  if (all) {
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
  }
  if (bulk) {
    bulk.addEventListener("click", function () { confirmButton.hidden = false; confirmButton.focus(); });
    confirmButton.addEventListener("click", function () {
      var items = {};
      selected().forEach(function (b) { items[b.value] = b.getAttribute("data-version"); });
      var message = document.getElementById("bulk-message");
      confirmButton.disabled = true;
      api("POST", "/api/items/bulk-dismiss", {items: items}).then(function (r) {
        confirmButton.disabled = false;
        if (r.status === 200) {
          var d = r.data;
          var text = d.dismissed.length + " dismissed";
          if (d.conflicts.length) { text += ", " + d.conflicts.length + " changed by someone else (not dismissed)"; }
          if (d.invalid.length) { text += ", " + d.invalid.length + " could not be dismissed from their status"; }
          if (d.not_found.length) { text += ", " + d.not_found.length + " gone"; }
          say(message, text + ". Reloading…", "ok");
          window.setTimeout(function () { window.location.reload(); }, 800);
        } else {
          say(message, "Not dismissed: " + (r.data.message || ("error " + r.status)), "error");
        }
      });
    });
    refresh();
  }
})();
