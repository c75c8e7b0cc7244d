// A job's page (templates/rewardmodel/_job_panel.html): polls the job's status.json every 2 s and
// shows its progress, and why it waits when no worker serves its queue; when the job has
// finished, reloads the page, which then shows how it ended and its links.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root || root.dataset.finished === "1") return;
  const $ = (id) => document.getElementById(id);

  function show(s) {
    $("job-progress").value = s.progress;
    $("job-percent").textContent = Math.round(s.progress * 100) + "%";
    $("job-status").textContent = s.status_display;
    $("job-status").className = "job-status-" + s.status;
    $("job-message").textContent = s.message || "-";
    $("job-lost").hidden = !s.is_lost;
    $("job-waiting").hidden = !s.waiting;
    $("job-waiting").textContent = s.waiting || "";
    const cancel = $("job-cancel");
    if (cancel) cancel.hidden = s.cancel_requested;
    const note = $("job-cancel-note");
    if (note) note.hidden = !s.cancel_requested;
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const s = await response.json();
        if (s.is_finished) {
          window.location.reload();
          return;
        }
        show(s);
      }
    } catch (e) {
      // Network hiccup: try again on the next tick.
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
