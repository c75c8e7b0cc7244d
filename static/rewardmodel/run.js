// The run page: polls status.json every 2 s and draws the metrics as inline SVG line charts.
// Plain JS, no build step, no library.
"use strict";
(function () {
  const root = document.getElementById("run");
  if (!root) return;
  const statusUrl = root.dataset.statusUrl;
  const first = JSON.parse(document.getElementById("run-initial").textContent);
  const specs = JSON.parse(document.getElementById("run-charts").textContent);
  const metrics = first.metrics.slice();
  let lastId = first.last_metric_id;
  const SKIP = new Set(["id", "step", "epoch", "total_flos", "train_runtime", "train_samples_per_second",
    "train_steps_per_second", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second"]);
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  const fmt = (x, digits) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));
  const setText = (id, value) => { const el = $(id); if (el) el.textContent = value; };

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function chartSpecs() {
    if (specs.length) return specs;
    // Kinds without a chart list: one chart per numeric metric they log.
    const keys = new Set();
    for (const m of metrics) for (const [k, v] of Object.entries(m)) if (typeof v === "number" && !SKIP.has(k)) keys.add(k);
    return [...keys].sort().map((k) => ({ title: k, keys: [k] }));
  }

  function drawChart(title, keys) {
    const series = keys
      .map((key) => ({ key, points: metrics.filter((m) => typeof m[key] === "number").map((m) => [m.step, m[key]]) }))
      .filter((s) => s.points.length);
    if (!series.length) return null;
    const W = 380, H = 210, L = 52, R = 12, T = 26, B = 30;
    const xs = series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = series.flatMap((s) => s.points.map((p) => p[1]));
    let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "rm-chart", role: "img", "aria-label": title });
    svg.appendChild(el("text", { x: L, y: 16, class: "rm-chart-title" }, title));
    svg.appendChild(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "rm-axis" }));
    svg.appendChild(el("line", { x1: L, y1: T, x2: L, y2: H - B, class: "rm-axis" }));
    for (const y of [y0, (y0 + y1) / 2, y1]) {
      svg.appendChild(el("text", { x: L - 4, y: sy(y) + 4, class: "rm-tick", "text-anchor": "end" }, Number(y.toPrecision(3))));
    }
    svg.appendChild(el("text", { x: L, y: H - 10, class: "rm-tick" }, `step ${Math.round(x0)}`));
    svg.appendChild(el("text", { x: W - R, y: H - 10, class: "rm-tick", "text-anchor": "end" }, `${Math.round(x1)}`));
    series.forEach((s, i) => {
      const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
      svg.appendChild(el("polyline", { points: pts, class: `rm-line rm-s${i % 4}`, "data-key": s.key }));
      for (const [x, y] of s.points.length < 40 ? s.points : []) {
        svg.appendChild(el("circle", { cx: sx(x), cy: sy(y), r: 2.2, class: `rm-dot rm-s${i % 4}` }));
      }
      const last = s.points[s.points.length - 1][1];
      svg.appendChild(el("text", { x: W - R - 4, y: T + 12 * i, class: `rm-legend rm-s${i % 4}`, "text-anchor": "end" },
        `${s.key} ${Number(last.toPrecision(4))}`));
    });
    return svg;
  }

  function drawCharts() {
    const box = $("charts");
    box.replaceChildren();
    for (const spec of chartSpecs()) {
      const svg = drawChart(spec.title, spec.keys);
      if (svg) box.appendChild(svg);
    }
    if (!box.children.length) box.textContent = "No metrics yet.";
  }

  // Policy runs log a few sampled completions per step under "samples" (and greedy held-out ones
  // under "heldout/samples"); show the newest of each as text.
  function drawSamples(key, boxId, bodyId, stepId) {
    const latest = metrics.filter((m) => Array.isArray(m[key]) && m[key].length).pop();
    const box = $(boxId);
    if (!latest || !box) return;
    box.hidden = false;
    setText(stepId, `step ${latest.step}`);
    $(bodyId).replaceChildren(...latest[key].map((text) => {
      const row = document.createElement("tr");
      const cell = document.createElement("td");
      const pre = document.createElement("pre");
      pre.textContent = String(text);
      cell.appendChild(pre);
      row.appendChild(cell);
      return row;
    }));
  }

  // PPO: the reward-hacking monitor's verdict (final from the summary, else the latest held-out check).
  function drawHacking(h) {
    const box = $("hacking-warning");
    if (!box) return;
    box.hidden = !(h && h.flagged);
    if (!h) return;
    setText("hacking-evidence", h.evidence);
    setText("hacking-when", h.final ? "" : " (live check)");
  }

  function render(s) {
    const status = s.is_lost ? "lost" : s.status;
    const badge = $("run-status");
    badge.textContent = status + (s.cancel_requested && !s.is_finished ? " (cancelling)" : "");
    badge.className = `rm-status rm-status-${status}`;
    $("run-progress").value = s.progress;
    setText("run-percent", `${Math.round(s.progress * 100)} %`);
    setText("run-message", s.is_lost ? "no heartbeat from the worker: it was probably killed" : s.message);
    $("job-waiting").hidden = !s.waiting;
    setText("job-waiting", s.waiting || "");
    setText("run-device", s.device || "–");
    setText("run-wall", s.wall_seconds === null ? "–" : `${s.wall_seconds.toFixed(1)} s`);
    setText("run-examples", s.examples_seen.toLocaleString());
    setText("run-tokens", s.tokens_seen.toLocaleString());
    const sum = s.summary || {};
    setText("eval-accuracy", fmt(sum.eval_accuracy, 3));
    setText("eval-margin", fmt(sum.eval_margin, 3));
    setText("eval-pairs", sum.eval_pairs === undefined ? "–" : sum.eval_pairs);
    setText("output-model", s.output_model ? `${s.output_model.name} (${s.output_model.path})` : "–");
    const note = $("cancel-note");
    if (note) note.hidden = !s.cancel_requested;
    if (s.is_finished) { const form = $("cancel-form"); if (form) form.remove(); }
    if (s.error) {
      $("run-error").hidden = false;
      setText("run-error-text", s.error);
      setText("run-traceback", s.traceback || "");
    }
    drawHacking(s.verdict);
    drawCharts();
    drawSamples("samples", "samples-box", "samples", "samples-step");
    drawSamples("heldout/samples", "heldout-samples-box", "heldout-samples", "heldout-samples-step");
  }

  async function poll() {
    try {
      const response = await fetch(`${statusUrl}?after=${lastId}`, { credentials: "same-origin" });
      if (response.ok) {
        const s = await response.json();
        metrics.push(...s.metrics);
        lastId = s.last_metric_id;
        render(s);
        root.dataset.polls = String(Number(root.dataset.polls || 0) + 1);
        if (s.is_finished) return;
      }
    } catch (err) {
      // The server restarting is no reason to stop watching; try again on the next tick.
    }
    setTimeout(poll, 2000);
  }

  render(first);
  if (!first.is_finished) setTimeout(poll, 2000);
})();
