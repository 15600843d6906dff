// Progressive enhancement only: every page works without this file. On the inbox, new alerts
// arrive over the organisation's server-sent-events stream (GET /v1/alerts/stream, the same
// stream API clients read, admitted by the session cookie) and are put at the top of the list.
"use strict";
(function () {
  const list = document.querySelector("[data-alert-stream]");
  if (!list || !("EventSource" in window)) {
    return;
  }
  const note = document.querySelector("[data-live-note]");
  const seen = new Set(Array.from(list.querySelectorAll("[data-alert-id]"), (li) => li.dataset.alertId));
  const source = new EventSource(list.dataset.alertStream);
  source.addEventListener("open", () => { if (note) { note.hidden = false; } });
  source.addEventListener("alert", (event) => {
    let alert;
    try {
      alert = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (seen.has(alert.alert_id)) {
      return;
    }
    seen.add(alert.alert_id);
    const empty = list.querySelector(".empty");
    if (empty) {
      empty.remove();
    }
    const item = document.createElement("li");
    item.className = "alert live severity-" + alert.severity;
    item.dataset.alertId = alert.alert_id;
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = alert.text;
    const meta = document.createElement("p");
    meta.className = "meta";
    const link = document.createElement("a");
    link.href = "/go/" + encodeURIComponent(alert.about);
    const code = document.createElement("code");
    code.textContent = alert.about;
    link.append(code);
    meta.append(link);
    if (alert.due_on) {
      meta.append(" · " + alert.due_on);
    }
    item.append(text, meta);
    list.prepend(item);
  });
})();
