// Polls the job's status.json every 2 s and updates the page until the job has finished.
(function () {
  "use strict";
  const root = document.getElementById("gen-job");
  if (!root || root.dataset.finished === "1") return;
  const $ = (id) => document.getElementById(id);

  function show(s) {
    $("gen-progress").value = s.progress;
    $("gen-percent").textContent = Math.round(s.progress * 100) + "%";
    $("gen-status").textContent = s.status_display;
    $("gen-status").className = "gen-status-" + s.status;
    $("gen-message").textContent = s.message || "-";
    $("gen-created").textContent = s.responses_created;
    $("gen-device").textContent = s.device || "-";
    $("gen-lost").hidden = !s.is_lost;
    $("job-waiting").hidden = !s.waiting;
    $("job-waiting").textContent = s.waiting || "";
    $("gen-error").hidden = !s.error;
    $("gen-error").textContent = s.error;
    const cancel = $("gen-cancel");
    if (cancel) cancel.hidden = s.is_finished || s.cancel_requested;
    const note = $("gen-cancel-note");
    if (note) note.hidden = s.is_finished || !s.cancel_requested;
    root.dataset.polls = String(Number(root.dataset.polls || 0) + 1);
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const s = await response.json();
        show(s);
        if (s.is_finished) return;
      }
    } catch (e) {
      // Network hiccup: try again on the next tick.
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
