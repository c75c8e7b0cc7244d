/* The ranking screen. Plain JS, no build step.
 *
 * - A queue of leased pairs lives in the page: the first is on screen, the next ones are leased
 *   and rendered HTML is already here, so a choice paints the next pair at once.
 * - Every judgment (and skip) gets a client id and goes to an outbox in localStorage before the
 *   next pair is shown; the outbox is sent in order in the background and an item leaves it only
 *   when the server has answered for it. Network errors and 5xx are retried with the same id
 *   (the server stores a client id once), also after a reload.
 * - Seconds on task count only while the tab is visible.
 */
(function () {
  "use strict";

  var boot = JSON.parse(document.getElementById("screen-data").textContent);
  var DEPTH = 3; // pairs kept ready: the one on screen and two ahead
  var OUTBOX_KEY = "pairwise:outbox:" + boot.user.id + ":" + boot.project.id;
  // What the labeler last did with the guidelines panel. A new name: the old one also held the state
  // the screen had opened the panel in by itself, which was no choice of theirs.
  var GUIDE_KEY = "pairwise:guidelines-left:" + boot.project.id;
  var STRENGTH_NAMES = { 1: "slightly", 2: "clearly", 3: "much" };
  var CHOICE_NAMES = { A: "A better", B: "B better", tie: "Tie", both_bad: "Both bad" };
  var DEFAULT_STRENGTH = Number(document.querySelector('.strength [aria-checked="true"]').dataset.strength);
  var RETRY_STEPS = [1000, 2000, 4000, 8000, 15000, 30000];
  var REQUEST_TIMEOUT = 15000;

  function $(id) { return document.getElementById(id); }
  var els = {
    pair: $("pair"), prompt: $("prompt"), turns: $("prompt-turns"),
    bodyA: $("body-a"), bodyB: $("body-b"), countsA: $("counts-a"), countsB: $("counts-b"),
    rationale: $("rationale"), hint: $("rationale-hint"), timer: $("timer"), timerValue: $("timer-value"),
    sync: $("sync"), banner: $("banner"), bannerText: $("banner-text"), bannerRetry: $("banner-retry"),
    bannerLogin: $("banner-login"), empty: $("empty"), emptyTitle: $("empty-title"), emptyText: $("empty-text"),
    emptyActions: $("empty-actions"), guidelines: $("guidelines"), guideBtn: $("btn-guidelines"),
    help: $("help"), skipDialog: $("skip-dialog"), skipForm: $("skip-form"), skipOther: $("skip-other"),
    notices: $("notices"), toast: $("toast"), workspace: document.querySelector(".workspace"),
    today: $("stat-today"), total: $("stat-total"), mine: $("stat-mine"), project: $("stat-project"),
  };

  var state = {
    queue: [],            // leased pairs not yet judged; queue[0] is on screen
    strength: DEFAULT_STRENGTH,
    undoStack: [],        // {payload, clientId, seconds, rationale, strength}
    pendingChoice: null,  // a tie/both-bad waiting for its required rationale
    busy: false,          // an undo is on its way: keys wait
    leasing: false,
    exhausted: false,     // the server had nothing more to lease
    limited: false,       // the server said: too many leases held (judgments not through yet)
    sending: false,
    retryIndex: 0,
    retryTimer: null,
    offline: false,
    authProblem: null,    // {message} when logged out or the CSRF token went stale
    stats: boot.stats,
    idleWaiters: [],
  };

  // --- outbox (localStorage, shared by tabs: read-modify-write every time) --------------------

  var memoryOutbox = [];
  var storageOk = true;
  function readOutbox() {
    if (!storageOk) return memoryOutbox.slice();
    try {
      var raw = window.localStorage.getItem(OUTBOX_KEY);
      return raw ? JSON.parse(raw) : [];
    } catch (e) {
      storageOk = false;
      return memoryOutbox.slice();
    }
  }
  function writeOutbox(items) {
    memoryOutbox = items.slice();
    if (!storageOk) return;
    try {
      if (items.length) window.localStorage.setItem(OUTBOX_KEY, JSON.stringify(items));
      else window.localStorage.removeItem(OUTBOX_KEY);
    } catch (e) {
      storageOk = false;
      notice("This browser refuses to store data (private mode or full). Judgments are sent at once but would be lost on a reload while offline.", "error");
    }
  }
  function outboxAdd(item) { var items = readOutbox(); items.push(item); writeOutbox(items); }
  function outboxRemove(clientId) {
    writeOutbox(readOutbox().filter(function (i) { return i.client_id !== clientId; }));
  }
  function outboxHasAssignment(id) {
    return readOutbox().some(function (i) { return i.assignment_id === id; });
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    // Plain-http deployments are not a secure context: build a v4 UUID from getRandomValues.
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // --- HTTP -----------------------------------------------------------------------------------

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Resolves to {status, data} (data null when the answer was not our JSON); rejects on a network error.
  function post(url, body) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT) : null;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json", "Accept": "application/json",
        "X-CSRFToken": csrfToken(), "X-Pairwise-User": String(boot.user.id),
      },
      body: JSON.stringify(body || {}),
      signal: controller ? controller.signal : undefined,
    }).then(function (res) {
      clearTimeout(timer);
      var type = res.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) return { status: res.status, data: null };
      return res.json().then(
        function (data) { return { status: res.status, data: data }; },
        function () { return { status: res.status, data: null }; }
      );
    }, function (err) { clearTimeout(timer); throw err; });
  }

  function isAuthProblem(res) {
    return res.status === 401 || (res.status === 403 && res.data && (res.data.code === "csrf" || res.data.code === "wrong_user"));
  }

  function urlFor(template, id) { return template.replace("{id}", String(id)); }

  // --- sending the outbox ---------------------------------------------------------------------

  function flush() {
    if (state.sending) return;
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    var item = readOutbox()[0];
    if (!item) {
      state.offline = false;
      state.retryIndex = 0;
      renderSync();
      var waiters = state.idleWaiters; state.idleWaiters = [];
      waiters.forEach(function (fn) { fn(); });
      if (state.limited) { state.limited = false; topUp(); }
      return;
    }
    state.sending = true;
    renderSync();
    var url = urlFor(item.kind === "skip" ? boot.urls.skip : boot.urls.judgment, item.assignment_id);
    // A judgment asks for the next lease in the same request (one round trip per judgment); the
    // flag is not stored in the outbox: a retry asks again only if the queue still wants a pair.
    // Not while sending fails: then `lease` goes on its own, as it may get through where the
    // judgment does not, and the labeler keeps working from the queue.
    var withLease = item.kind === "judgment" && !state.offline && wantsLease();
    if (withLease) state.leasing = true;
    post(url, withLease ? Object.assign({}, item.body, { next: true }) : item.body).then(function (res) {
      state.sending = false;
      var next = withLease && res.data ? res.data.next : null;
      if (withLease) state.leasing = false;
      if (next) takeLease(next.error ? { status: next.status, data: next } : { status: 200, data: next });
      handleAnswer(item, res);
      if (withLease && !next) topUp();
    }, function () {
      state.sending = false;
      state.offline = true;
      scheduleRetry();
      if (withLease) { state.leasing = false; topUp(); }
    });
  }

  function handleAnswer(item, res) {
    var data = res.data;
    if (res.status >= 200 && res.status < 300 && data) {
      outboxRemove(item.client_id);
      var wasBlocked = state.offline || state.authProblem;
      state.offline = false;
      state.authProblem = null;
      state.retryIndex = 0;
      if (item.kind === "judgment" && data.created) bumpCounts(1);
      flush();
      if (wasBlocked) topUp(); // leasing waited for the connection or the login too
      return;
    }
    if (isAuthProblem(res)) {
      // Not the judgment's fault: keep it and wait for the labeler to log in again.
      state.authProblem = { message: data.error };
      scheduleRetry(10000);
      return;
    }
    if (!data || res.status >= 500 || res.status === 429 || res.status === 408) {
      state.offline = true; // a proxy page, a crash, overload: the same id is safe to send again
      scheduleRetry();
      return;
    }
    // The server answered for this item and refused it for good: say so, keep nothing silently.
    outboxRemove(item.client_id);
    dropFromUndo(item.client_id);
    explainRefusal(item, data);
    flush();
  }

  function explainRefusal(item, data) {
    var what = item.kind === "skip" ? "A skip" : "A judgment (" + (CHOICE_NAMES[item.body.choice] || item.body.choice) + ")";
    var title, text;
    if (data.code === "lease_expired") {
      title = what + " was not needed";
      text = "You held that pair longer than the project's lease (" + Math.round(boot.project.lease_seconds / 60) +
        " min) and others judged it in the meantime, so it already has all the judgments it needs. Nothing else was lost.";
    } else if (data.code === "already_judged") {
      title = what + " was not stored";
      text = "That pair had already been judged from another tab or window: " + data.error;
    } else {
      title = what + " was not stored";
      text = data.error || "The server refused it.";
    }
    notice(text, "error", title);
  }

  function scheduleRetry(delay) {
    renderSync();
    if (state.retryTimer) return;
    var wait = delay || RETRY_STEPS[Math.min(state.retryIndex, RETRY_STEPS.length - 1)];
    state.retryIndex += 1;
    state.retryTimer = setTimeout(function () { state.retryTimer = null; flush(); }, wait);
  }

  // Resolves true once the outbox is through, false if that takes longer than `ms`.
  function whenIdle(ms) {
    return new Promise(function (resolve) {
      if (!readOutbox().length && !state.sending) { resolve(true); return; }
      var done = false;
      var finish = function (ok) { if (!done) { done = true; resolve(ok); } };
      state.idleWaiters.push(function () { finish(true); });
      setTimeout(function () { finish(false); }, ms);
    });
  }

  // --- leasing ahead --------------------------------------------------------------------------

  function wantsLease() {
    return !(state.leasing || state.exhausted || state.limited || state.authProblem) && state.queue.length < DEPTH;
  }

  function topUp() {
    if (!wantsLease()) return;
    state.leasing = true;
    post(boot.urls.lease, {}).then(function (res) {
      state.leasing = false;
      takeLease(res);
    }, function () {
      state.leasing = false;
      state.offline = true;
      renderSync();
      setTimeout(topUp, 3000);
    });
  }

  // A lease answer, from `lease` or riding on a judgment's answer: {status, data}.
  function takeLease(res) {
    var data = res.data;
    if (res.status === 200 && data) {
      setRemaining(data.stats);
      if (data.assignment) {
        var a = data.assignment;
        var known = state.queue.some(function (q) { return q.id === a.id; });
        if (!known && !outboxHasAssignment(a.id)) {
          a.receivedAt = performance.now();
          state.queue.push(a);
          if (state.queue.length === 1) render();
          else prepare(a);
        }
        topUp();
      } else {
        state.exhausted = true;
        if (!state.queue.length) render();
      }
      return;
    }
    if (data && data.code === "lease_limit") {
      state.limited = true; // flush() leases again once the outbox is through
      if (!state.queue.length) render();
      return;
    }
    if (isAuthProblem(res)) {
      state.authProblem = { message: data.error };
      renderSync();
      return;
    }
    if (data && res.status < 500) {
      notice(data.error, "error", "Could not get the next pair");
      return;
    }
    setTimeout(topUp, 3000);
  }

  // --- rendering ------------------------------------------------------------------------------

  function fmtInt(n) { return Number(n).toLocaleString("en-US"); }

  // The HTML was sanitized on the server (annotate/markdown.py). Parsing it into inert <template>
  // fragments ahead of time takes that work off the keypress: showing a pair is a node swap.
  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  }
  function prepare(a) {
    if (!a.dom) a.dom = { prompt: fragment(a.prompt_html), a: fragment(a.a.html), b: fragment(a.b.html) };
  }
  function prepareQueued() {
    for (var i = 1; i < state.queue.length; i++) prepare(state.queue[i]);
  }

  // Work that must not hold up the next pair's paint: run it once the frame is out (and soon
  // anyway, as a hidden tab draws no frames).
  function afterPaint(fn) {
    var done = false;
    var run = function () { if (!done) { done = true; fn(); } };
    requestAnimationFrame(function () { setTimeout(run, 0); });
    setTimeout(run, 100);
  }

  function render() {
    var a = state.queue[0];
    if (!a) { renderEmpty(); return; }
    els.empty.hidden = true;
    els.pair.hidden = false;
    prepare(a);
    els.prompt.replaceChildren(a.dom.prompt);
    els.bodyA.replaceChildren(a.dom.a);
    els.bodyB.replaceChildren(a.dom.b);
    a.dom = null; // the fragments are in the page now; a re-render (undo) parses again
    els.turns.textContent = a.turns > 1 ? "· conversation, " + a.turns + " turns" : "";
    els.countsA.textContent = fmtInt(a.a.chars) + " characters · ≈ " + fmtInt(a.a.tokens) + " tokens";
    els.countsB.textContent = fmtInt(a.b.chars) + " characters · ≈ " + fmtInt(a.b.tokens) + " tokens";
    els.prompt.scrollTop = 0; els.bodyA.scrollTop = 0; els.bodyB.scrollTop = 0;
    els.pair.dataset.assignmentId = String(a.id);
    els.rationale.value = a.restored ? a.restored.rationale : "";
    setStrength(a.restored ? a.restored.strength : DEFAULT_STRENGTH);
    setPending(null);
    timer.start(a.restored ? a.restored.seconds : 0);
    a.restored = null;
    if (document.activeElement && els.pair.contains(document.activeElement) &&
        document.activeElement.classList.contains("response-body")) {
      document.activeElement.blur();
    }
    tick();
    if (a.turns > 1) {
      // A conversation taller than its box opens at the last turn, the one the responses answer;
      // the earlier turns are a scroll up.
      var last = els.prompt.lastElementChild;
      if (els.prompt.scrollHeight > els.prompt.clientHeight) {
        els.prompt.scrollTop = last.getBoundingClientRect().top - els.prompt.getBoundingClientRect().top;
      }
    }
  }

  function renderEmpty() {
    els.pair.hidden = true;
    els.empty.hidden = false;
    delete els.pair.dataset.assignmentId;
    timer.stop();
    var pending = readOutbox().length;
    if (state.exhausted) {
      els.emptyTitle.textContent = "Nothing left for you right now";
      els.emptyText.textContent = "You judged " + fmtInt(state.stats.today) + " pairs today. Pairs others let go of come back here: check again later." +
        (pending ? " " + pending + " still to send." : "");
      els.emptyActions.hidden = false;
    } else if (state.limited || (pending && state.offline)) {
      els.emptyTitle.textContent = "Waiting for the connection";
      els.emptyText.textContent = pending + " judgment" + (pending === 1 ? "" : "s") +
        " saved in this browser will be sent first; new pairs follow.";
      els.emptyActions.hidden = true;
    } else {
      els.emptyTitle.textContent = "Loading the next pair…";
      els.emptyText.textContent = "";
      els.emptyActions.hidden = true;
    }
  }

  // Today / total move with this page's acknowledged judgments; a lease answer only brings what is
  // left (its counts may predate a judgment acknowledged since, so they would step back).
  function setRemaining(stats) {
    if (!stats) return;
    setStats({ today: state.stats.today, total: state.stats.total, remaining_for_me: stats.remaining_for_me, project_remaining: stats.project_remaining, capped_at: stats.capped_at });
  }
  // The server counts what is left only up to capped_at (big projects): at the cap it means "or more".
  function fmtLeft(n, cap) {
    return cap != null && n >= cap ? fmtInt(cap) + "+" : fmtInt(n);
  }
  function setStats(stats) {
    if (!stats) return;
    state.stats = stats;
    els.today.textContent = fmtInt(stats.today);
    els.total.textContent = fmtInt(stats.total);
    els.mine.textContent = fmtLeft(stats.remaining_for_me, stats.capped_at);
    els.project.textContent = fmtLeft(stats.project_remaining, stats.capped_at);
  }
  function bumpCounts(n) {
    var s = state.stats;
    var atCap = s.capped_at != null && s.remaining_for_me >= s.capped_at;  // "1,000+" stays so
    setStats({ today: s.today + n, total: s.total + n, remaining_for_me: atCap ? s.remaining_for_me : Math.max(0, s.remaining_for_me - n), project_remaining: s.project_remaining, capped_at: s.capped_at });
  }

  function renderSync() {
    var pending = readOutbox().length;
    var cls = "sync", icon = "✓", text = "All saved";
    if (state.authProblem) {
      cls += " is-auth"; icon = "⚠"; text = pending + " waiting: log in again";
    } else if (state.offline && pending) {
      cls += " is-offline"; icon = "⚠"; text = "Offline: " + pending + " waiting";
    } else if (pending) {
      cls += " is-sending"; icon = "↻"; text = "Saving " + pending + "…";
    }
    els.sync.className = cls;
    els.sync.firstElementChild.textContent = icon;
    els.sync.lastElementChild.textContent = text;
    els.sync.dataset.pending = String(pending);
    // The banner: only when something is wrong, and then it says what is safe.
    if (state.authProblem) {
      showBanner(state.authProblem.message + " " + pending + " judgment" + (pending === 1 ? " is" : "s are") + " kept in this browser.", true);
    } else if (state.offline && pending) {
      showBanner("No connection to the server. " + pending + " judgment" + (pending === 1 ? " is" : "s are") +
        " saved in this browser and will be sent automatically (also after a reload). You can keep working.", false);
    } else {
      els.banner.hidden = true;
    }
    if (!state.queue.length) renderEmpty();
  }
  function showBanner(text, login) {
    els.bannerText.textContent = text;
    els.bannerLogin.hidden = !login;
    els.banner.hidden = false;
  }

  var toastTimer = null;
  function toast(text) {
    els.toast.textContent = text;
    els.toast.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { els.toast.classList.remove("show"); }, 1800);
  }

  function notice(text, kind, title) {
    var box = document.createElement("div");
    box.className = "notice" + (kind === "error" ? " error" : "");
    box.setAttribute("role", "alert");
    var p = document.createElement("p");
    if (title) { var s = document.createElement("strong"); s.textContent = title; p.appendChild(s); }
    p.appendChild(document.createTextNode(text));
    var close = document.createElement("button");
    close.type = "button"; close.className = "btn btn-small"; close.textContent = "Dismiss";
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(p); box.appendChild(close);
    els.notices.appendChild(box);
    while (els.notices.children.length > 4) els.notices.firstElementChild.remove();
    if (kind !== "error") setTimeout(function () { box.remove(); }, 6000);
  }

  // --- the per-pair timer (visible time only) -------------------------------------------------

  var timer = {
    base: 0, since: null, running: false,
    start: function (base) { this.base = base || 0; this.running = true; this.since = document.hidden ? null : performance.now(); },
    stop: function () { this.running = false; this.since = null; },
    pause: function () { if (this.since !== null) { this.base += (performance.now() - this.since) / 1000; this.since = null; } },
    resume: function () { if (this.running && this.since === null) this.since = performance.now(); },
    seconds: function () { return this.base + (this.since !== null ? (performance.now() - this.since) / 1000 : 0); },
  };
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) timer.pause();
    else { timer.resume(); flush(); }
  });

  function clock(s) { s = Math.max(0, Math.floor(s)); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }
  function tick() {
    var a = state.queue[0];
    if (!a) return;
    els.timerValue.textContent = clock(timer.seconds());
    var left = a.expires_in - (performance.now() - (a.receivedAt || 0)) / 1000;
    var warn = left < 60;
    els.timer.classList.toggle("lease-warn", warn);
    if (warn) {
      els.timerValue.textContent = clock(timer.seconds()) + (left > 0 ? " · lease ends in " + clock(left) : " · lease ended");
      els.timer.title = "After the lease ends your judgment still counts if the pair needs one; otherwise the server says so.";
    } else {
      els.timer.title = "";
    }
  }
  setInterval(tick, 1000);

  // --- actions --------------------------------------------------------------------------------

  function setStrength(n) {
    state.strength = n;
    document.querySelectorAll(".strength [data-strength]").forEach(function (b) {
      b.setAttribute("aria-checked", String(Number(b.dataset.strength) === n));
    });
  }

  function setPending(choice) {
    state.pendingChoice = choice;
    document.querySelectorAll(".choice").forEach(function (b) { b.classList.toggle("pending", b.dataset.choice === choice); });
    els.rationale.classList.toggle("needed", !!choice);
    els.hint.textContent = choice
      ? "This project asks why for “" + CHOICE_NAMES[choice] + "”. Write it, then press Enter to send (Shift+Enter: new line, Esc: cancel)."
      : "";
  }

  function choose(choice) {
    var a = state.queue[0];
    if (!a || state.busy) return;
    var rationale = els.rationale.value.trim();
    if (boot.project.require_rationale_for_tie && (choice === "tie" || choice === "both_bad") && !rationale) {
      setPending(choice);
      els.rationale.focus();
      return;
    }
    var clientId = uuid();
    var seconds = timer.seconds();
    var strength = state.strength;
    var body = {
      client_id: clientId,
      choice: choice,
      strength: choice === "A" || choice === "B" ? strength : null,
      rationale: rationale,
      seconds_on_task: Math.round(seconds * 10) / 10,
    };
    // Stored before the next pair shows: from here on a reload or a crash cannot lose it.
    outboxAdd({ kind: "judgment", client_id: clientId, assignment_id: a.id, body: body, at: Date.now() });
    state.undoStack.push({ payload: a, clientId: clientId, seconds: seconds, rationale: els.rationale.value, strength: strength });
    if (state.undoStack.length > 50) state.undoStack.shift();
    state.queue.shift();
    if (document.activeElement === els.rationale) els.rationale.blur();
    render();
    afterPaint(function () {
      toast("Saved: " + CHOICE_NAMES[choice] + (body.strength ? " (" + STRENGTH_NAMES[strength] + ")" : "") + " · u to undo");
      state.retryIndex = 0; // a new judgment is a good moment to try the connection again
      flush();
      topUp();
      prepareQueued();
    });
  }

  function skip(reason) {
    var a = state.queue[0];
    if (!a || state.busy) return;
    var clientId = uuid();
    outboxAdd({ kind: "skip", client_id: clientId, assignment_id: a.id, body: { reason: reason }, at: Date.now() });
    state.queue.shift();
    render();
    afterPaint(function () {
      toast("Skipped");
      flush();
      topUp();
      prepareQueued();
    });
  }

  function dropFromUndo(clientId) {
    state.undoStack = state.undoStack.filter(function (u) { return u.clientId !== clientId; });
  }

  function undo() {
    if (state.busy) return;
    var last = state.undoStack[state.undoStack.length - 1];
    if (!last) { toast("Nothing to undo"); return; }
    var items = readOutbox();
    var index = items.findIndex(function (i) { return i.client_id === last.clientId; });
    var inFlight = state.sending && index === 0;
    if (index !== -1 && !inFlight) {
      // Not sent yet: take it back here; the server never saw it and the lease is still held.
      outboxRemove(last.clientId);
      state.undoStack.pop();
      restore(last);
      renderSync();
      toast("Undone");
      return;
    }
    if (state.offline) {
      notice("No connection to the server, so the last judgment cannot be taken back now.", "error", "Could not undo");
      return;
    }
    state.busy = true;
    els.pair.setAttribute("aria-busy", "true");
    toast("Undoing…");
    // Judgments still on their way go first: undo on the server releases the other leases.
    whenIdle(5000).then(function (idle) {
      if (!idle) throw new Error("outbox busy");
      return post(boot.urls.undo, { client_id: last.clientId });
    }).then(function (res) {
      state.busy = false;
      els.pair.setAttribute("aria-busy", "false");
      var data = res.data;
      if (res.status === 200 && data) {
        state.undoStack.pop();
        // The server gave the pair back and let go of the pairs leased ahead: lease new ones.
        var payload = data.assignment;
        payload.receivedAt = performance.now();
        state.queue = [];
        state.exhausted = false;
        setStats(data.stats);
        restore({ payload: payload, seconds: last.seconds, rationale: last.rationale, strength: last.strength });
        toast("Undone");
        topUp();
        return;
      }
      if (data && (data.code === "too_late" || data.code === "not_found")) dropFromUndo(last.clientId);
      notice(data ? data.error : "The server did not answer; try again.", "error", "Could not undo");
    }, function () {
      state.busy = false;
      els.pair.setAttribute("aria-busy", "false");
      notice("No connection to the server, so the last judgment cannot be taken back now.", "error", "Could not undo");
    });
  }

  function restore(entry) {
    var payload = entry.payload;
    payload.restored = { seconds: entry.seconds, rationale: entry.rationale, strength: entry.strength };
    state.queue = state.queue.filter(function (q) { return q.id !== payload.id; });
    state.queue.unshift(payload);
    render();
  }

  // --- guidelines, help, skip dialog ----------------------------------------------------------

  // `remember`: the labeler opened or closed the panel, so the next visit shows it the same way.
  function setGuidelines(open, remember) {
    els.guidelines.hidden = !open;
    els.workspace.classList.toggle("with-guidelines", open);
    els.guideBtn.setAttribute("aria-expanded", String(open));
    if (!remember) return;
    try { window.localStorage.setItem(GUIDE_KEY, open ? "open" : "closed"); } catch (e) { /* fine */ }
  }
  function toggleGuidelines() { setGuidelines(els.guidelines.hidden, true); }

  function openHelp() { if (!els.help.open) els.help.showModal(); }

  function openSkip() {
    if (!state.queue[0] || state.busy) return;
    els.skipForm.reset();
    els.skipDialog.returnValue = "";
    els.skipDialog.showModal();
    var first = els.skipForm.querySelector("input[type=radio]");
    first.focus();
  }
  els.skipDialog.addEventListener("keydown", function (e) {
    var typing = e.target === els.skipOther;
    if (!typing && /^[1-4]$/.test(e.key)) {
      var radios = els.skipForm.querySelectorAll("input[type=radio]");
      var r = radios[Number(e.key) - 1];
      r.checked = true; r.focus();
      if (e.key === "4") els.skipOther.focus();
      e.preventDefault();
    } else if (e.key === "Enter" && e.target.type === "radio") {
      e.preventDefault();
      confirmSkip();
    }
  });
  els.skipOther.addEventListener("input", function () {
    els.skipForm.querySelector("input[value=other]").checked = true;
  });
  els.skipForm.addEventListener("submit", function (e) {
    // Handled here rather than on the dialog's (asynchronous) close event: the next pair shows now.
    e.preventDefault();
    if (e.submitter && e.submitter.value === "cancel") els.skipDialog.close();
    else confirmSkip();
  });
  function confirmSkip() {
    var picked = els.skipForm.querySelector("input[name=reason]:checked");
    var reason = picked ? picked.value : "";
    if (reason === "other") reason = els.skipOther.value.trim() || "Other";
    els.skipDialog.close();
    skip(reason);
  }
  els.help.addEventListener("keydown", function (e) {
    if (ACTION_KEYS[e.key] === "help") { e.preventDefault(); els.help.close(); }
  });

  // --- keyboard -------------------------------------------------------------------------------

  // The keys are those the page's buttons announce (aria-keyshortcuts): the template has them from
  // annotate/keys.py's table, so this script keeps no list of its own.
  function keyMap(selector, read) {
    var map = {};
    document.querySelectorAll(selector).forEach(function (el) {
      el.getAttribute("aria-keyshortcuts").split(" ").forEach(function (key) { map[key] = read(el); });
    });
    return map;
  }
  var CHOICE_KEYS = keyMap(".choice[data-choice]", function (el) { return el.dataset.choice; });
  var STRENGTH_KEYS = keyMap(".strength [data-strength]", function (el) { return Number(el.dataset.strength); });
  var ACTION_KEYS = keyMap("[data-key-action]", function (el) { return el.dataset.keyAction; });
  var KEY_ACTIONS = {
    skip: function (repeat) { if (!repeat) openSkip(); },
    undo: function (repeat) { if (!repeat) undo(); },
    rationale: function () { els.rationale.focus(); },
    guidelines: function () { toggleGuidelines(); },
    help: function () { openHelp(); },
  };

  function isTyping(el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "radio" && el.type !== "checkbox") ||
      el.tagName === "SELECT" || el.isContentEditable);
  }
  function dialogOpen() { return els.help.open || els.skipDialog.open; }

  function scrollResponses(fraction) {
    [els.bodyA, els.bodyB].forEach(function (b) {
      b.scrollBy({ top: b.clientHeight * fraction, behavior: "auto" });
    });
  }

  els.rationale.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.preventDefault();
      setPending(null);
      els.rationale.blur();
    } else if (e.key === "Enter" && !e.shiftKey && state.pendingChoice) {
      e.preventDefault();
      var choice = state.pendingChoice;
      if (els.rationale.value.trim()) choose(choice);
    }
  });

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (isTyping(e.target) || dialogOpen()) return; // keys typed in a box are text, nothing else
    var key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key in CHOICE_KEYS) {
      e.preventDefault();
      if (!e.repeat) choose(CHOICE_KEYS[key]); // holding a key down must not judge a run of pairs
    } else if (key in STRENGTH_KEYS) {
      e.preventDefault();
      setStrength(STRENGTH_KEYS[key]);
    } else if (key in ACTION_KEYS && KEY_ACTIONS[ACTION_KEYS[key]]) {
      e.preventDefault();
      KEY_ACTIONS[ACTION_KEYS[key]](e.repeat);
    } else if (key === "Escape" && !els.guidelines.hidden && window.matchMedia("(max-width: 62rem), (max-height: 36rem)").matches) {
      setGuidelines(false, true);
    } else if (!e.target.closest || !e.target.closest(".response-body, .prompt-body, .guidelines-body")) {
      // Nothing scrollable focused: arrows and page keys scroll both responses together.
      var step = { ArrowDown: 0.2, ArrowUp: -0.2, PageDown: 0.85, PageUp: -0.85, " ": 0.85 }[e.key];
      if (step && e.target.tagName !== "BUTTON") {
        e.preventDefault();
        scrollResponses(e.key === " " && e.shiftKey ? -step : step);
      }
    }
  });

  // --- mouse ----------------------------------------------------------------------------------

  document.querySelectorAll(".choice").forEach(function (b) {
    b.addEventListener("click", function () { choose(b.dataset.choice); });
  });
  document.querySelectorAll(".strength [data-strength]").forEach(function (b) {
    b.addEventListener("click", function () { setStrength(Number(b.dataset.strength)); });
  });
  $("btn-skip").addEventListener("click", openSkip);
  $("btn-undo").addEventListener("click", undo);
  $("btn-help").addEventListener("click", openHelp);
  els.guideBtn.addEventListener("click", toggleGuidelines);
  $("btn-guidelines-close").addEventListener("click", function () { setGuidelines(false, true); });
  $("btn-check").addEventListener("click", function () { state.exhausted = false; els.emptyTitle.textContent = "Looking…"; topUp(); });
  els.bannerRetry.addEventListener("click", function () { state.retryIndex = 0; state.authProblem = null; flush(); topUp(); });
  window.addEventListener("online", function () { state.retryIndex = 0; flush(); topUp(); });
  window.addEventListener("storage", function (e) { if (e.key === OUTBOX_KEY) renderSync(); });

  // --- start ----------------------------------------------------------------------------------

  var stored = null;
  try { stored = window.localStorage.getItem(GUIDE_KEY); } catch (e) { storageOk = false; }
  // The panel opens as the labeler left it; on a first visit only where the project asks for it
  // (Project.guidelines_open_first). On a narrow window it would cover the pair: it waits for `g`.
  var narrow = window.matchMedia("(max-width: 62rem), (max-height: 36rem)").matches;
  var openFirst = els.guidelines.dataset.openFirst === "true";
  setGuidelines(!narrow && (stored ? stored === "open" : openFirst), false);

  var now = performance.now();
  // Pairs already judged here but not yet acknowledged are not shown again.
  state.queue = boot.assignments.filter(function (a) { a.receivedAt = now; return !outboxHasAssignment(a.id); });
  if (!state.queue.length && !boot.assignments.length) state.exhausted = true;
  render();
  renderSync();
  prepareQueued();
  flush();
  topUp();

  // For tests and the latency bench: read-only views of the state.
  window.pairwise = {
    pending: function () { return readOutbox().length; },
    queued: function () { return state.queue.length; },
  };
})();
