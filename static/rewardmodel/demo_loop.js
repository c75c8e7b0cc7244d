// The home page's demo loop card: polls its status.json every 2.5 s until the loop has finished.
(function () {
  "use strict";
  const root = document.getElementById("demo-loop");
  if (!root) return;
  const finished = ["succeeded", "failed", "cancelled", "lost"];
  if (finished.includes(root.dataset.status)) return;

  function numbers(n) {
    return Object.entries(n || {})
      .map(([k, v]) => k + " " + (typeof v === "number" ? +v.toFixed(3) : v))
      .join(", ");
  }

  // A worker killed mid-loop writes nothing more: its heartbeat goes stale (demo_loop --again).
  const statusOf = (s) => (s.is_lost ? "lost" : s.status);

  function show(s) {
    document.getElementById("demo-loop-status").textContent = statusOf(s);
    for (const step of s.steps) {
      const li = root.querySelector('[data-step="' + step.name + '"]');
      if (!li) continue;
      let status = step.status;
      if (step.progress !== undefined) status += " " + Math.round(step.progress * 100) + "%";
      li.querySelector(".demo-step-status").textContent = status;
      if (step.url && !li.querySelector("a")) {
        const title = li.querySelector(".demo-step-title");
        const a = document.createElement("a");
        a.href = step.url;
        a.textContent = step.title;
        title.replaceWith(a);
      }
      li.querySelector(".demo-step-detail").textContent = step.message || numbers(step.numbers);
    }
    const error = document.getElementById("demo-loop-error");
    error.hidden = !s.error;
    error.textContent = s.error || "";
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const s = await response.json();
        show(s);
        if (finished.includes(statusOf(s))) return;
      }
    } catch (e) {
      // Network hiccup: try again on the next tick.
    }
    setTimeout(poll, 2500);
  }
  setTimeout(poll, 2500);
})();
