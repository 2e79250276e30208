// The rater's task page, and the practice that uses the same page.
// Keyboard-first answering; images at the largest whole-pixel scale that keeps the caption,
// every question and Submit on screen; a preloaded next task; idempotent submission (one
// submission id per assignment, kept across reloads and network errors).
(function () {
  "use strict";

  const el = (id) => document.getElementById(id);
  const urls = JSON.parse(el("task-urls").textContent);
  const practiceData = el("practice-data");
  const practice = practiceData ? JSON.parse(practiceData.textContent) : null;
  // Staff's preview: the study's tasks as raters see them; nothing is sent.
  const previewData = el("preview-data");
  const preview = previewData ? JSON.parse(previewData.textContent) : null;
  let previewAt = 0;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const root = el("rater");
  const PAIR = [["left", "Left", "1"], ["right", "Right", "2"], ["none", "No preference", "3"]];
  const YESNO = [["yes", "Yes", "y"], ["no", "No", "n"]];
  const LABELS = { yes: "yes", no: "no", left: "left", right: "right", none: "no preference" };
  const touch = window.matchMedia("(hover: none) and (pointer: coarse)").matches;

  let task = JSON.parse(el("task-data").textContent);
  let next = null; // the preloaded next task
  let fetches = 0; // numbers the requests for a task to preload; only the latest one counts
  let answers = {};
  let shownAt = 0;
  let busy = false;
  let view = 0; // in the compact layout: which image is shown (0 = the input)
  let practiceAt = 0; // the practice task on screen
  let checked = false; // a practice task's answers have been checked

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // The same assignment always submits with the same id, even after a reload or a failed
  // request, so a repeated submit records one judgment.
  function submissionId(assignment) {
    const key = `editbench:submission:${assignment}`;
    let id = sessionStorage.getItem(key);
    if (!id) {
      id = uuid4();
      sessionStorage.setItem(key, id);
    }
    return id;
  }

  // Rejects when the request never got an answer (network error, aborted).
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* no body */ }
    return { status: response.status, data };
  }

  function say(text, ok) {
    el("status").textContent = text;
    el("status").classList.toggle("ok", Boolean(ok));
  }

  // --- Layout: the largest whole scale at which everything that matters is on screen ---------

  function pictures() {
    return Array.from(document.querySelectorAll("#images .frame img"));
  }

  function apply(mode, scale) {
    root.classList.toggle("layout-beside", mode === "beside");
    root.classList.toggle("layout-below", mode !== "beside");
    root.classList.toggle("compact", mode === "compact");
    for (const img of pictures()) {
      img.width = Math.round(task.width * scale);
      img.height = Math.round(task.height * scale);
      // Nearest-neighbour keeps upscaled pixels crisp but aliases a shrunk image.
      img.style.imageRendering = scale < 1 ? "auto" : "";
    }
    root.dataset.scale = String(scale);
    root.dataset.layout = mode;
  }

  function inView(node) {
    const r = node.getBoundingClientRect();
    const width = document.documentElement.clientWidth;
    return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= width;
  }

  function fits() {
    const shown = pictures().filter((img) => img.offsetParent !== null && img.classList.contains("pic"));
    const needed = [el("caption"), el("submit"), ...document.querySelectorAll("fieldset.q"), ...shown];
    return needed.every(inView);
  }

  function layout() {
    window.scrollTo(0, 0);
    const width = document.documentElement.clientWidth;
    const most = Math.max(1, Math.floor(Math.min(width / task.width, window.innerHeight / task.height)));
    // All images side by side at any scale before one image at a time.
    const tries = [];
    // Below 1, whole divisors (1/2, 1/3, 1/4) for large images (1024 px benchmarks).
    const scales = [];
    for (let s = most; s >= 1; s--) scales.push(s);
    const large = task.width > width || task.height > window.innerHeight;
    for (let d = 2; large && d <= 4; d++) scales.push(1 / d);
    for (const s of scales) tries.push(["beside", s], ["below", s]);
    for (const s of scales) tries.push(["compact", s]);
    for (const [mode, scale] of tries) {
      apply(mode, scale);
      if (fits()) return;
    }
    // Nothing fits whole (a phone scrolls): 1, or for an image wider than the screen the
    // divisor that fits its width.
    apply("compact", task.width > width ? 1 / Math.min(4, Math.ceil(task.width / width)) : 1);
  }

  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(layout, 100);
  });

  // --- The compact layout's image switch (buttons and swipes) ---------------------------------

  function showView(i) {
    const shots = Array.from(document.querySelectorAll("#images .shot"));
    view = (i + shots.length) % shots.length;
    shots.forEach((shot, k) => shot.classList.toggle("shown", k === view));
    el("view-switch").querySelectorAll("button").forEach((b, k) => {
      b.setAttribute("aria-pressed", String(k === view));
    });
  }

  function buildSwitch(names) {
    const bar = el("view-switch");
    bar.replaceChildren();
    names.forEach((name, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = name;
      b.addEventListener("click", () => showView(i));
      bar.append(b);
    });
    showView(0);
  }

  let swipeX = null;
  el("images").addEventListener("touchstart", (e) => { swipeX = e.touches[0].clientX; }, { passive: true });
  el("images").addEventListener("touchend", (e) => {
    if (swipeX === null || !root.classList.contains("compact")) return;
    const dx = e.changedTouches[0].clientX - swipeX;
    swipeX = null;
    if (Math.abs(dx) > 40) showView(view + (dx < 0 ? 1 : -1));
  });

  // --- The outline of the edit region: always on the input, on the edits by choice -----------

  function setOutline(on) {
    root.classList.toggle("outline-off", !on);
    el("outline-toggle").setAttribute("aria-pressed", String(on));
    sessionStorage.setItem("editbench:outline", on ? "1" : "0");
  }
  el("outline-toggle").addEventListener("click", () => setOutline(root.classList.contains("outline-off")));

  // --- Rendering a task ---------------------------------------------------------------------

  function figure(src, mask, alt, caption) {
    const fig = document.createElement("figure");
    fig.className = "shot output";
    const frame = document.createElement("div");
    frame.className = "frame";
    const img = document.createElement("img");
    img.className = "pic";
    img.alt = alt;
    img.src = src;
    const outline = document.createElement("img");
    outline.className = "outline";
    outline.alt = "";
    outline.src = mask;
    const cap = document.createElement("figcaption");
    cap.textContent = caption;
    frame.append(img, outline);
    fig.append(frame, cap);
    return fig;
  }

  function questionRow(q, index) {
    const row = document.createElement("fieldset");
    row.className = q.kind === "pair" ? "q pair" : "q yes-no";
    row.id = `q-${q.id}`;
    const legend = document.createElement("legend");
    legend.id = `q-${q.id}-text`;
    legend.textContent = `${index + 1}. ${q.text}`;
    const choices = document.createElement("div");
    choices.className = "choices";
    choices.setAttribute("role", "radiogroup");
    choices.setAttribute("aria-labelledby", legend.id);
    for (const [value, label, key] of q.kind === "pair" ? PAIR : YESNO) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.value = value;
      b.setAttribute("role", "radio");
      b.setAttribute("aria-checked", "false");
      b.setAttribute("aria-keyshortcuts", key);
      b.append(label + " ");
      const k = document.createElement("kbd");
      k.setAttribute("aria-hidden", "true");
      k.textContent = key;
      b.append(k);
      b.addEventListener("click", () => choose(q, value));
      choices.append(b);
    }
    row.append(legend, choices);
    return row;
  }

  function render(t, following) {
    task = t;
    answers = {};
    checked = false;
    document.body.dataset.assignment = String(t.assignment);
    document.body.dataset.kind = t.kind;
    say("");
    el("feedback").hidden = true;
    el("prompt").textContent = `“${t.prompt}”`;
    el("input").src = t.input;
    el("input").nextElementSibling.src = t.mask;
    const images = el("images");
    images.querySelectorAll(".output").forEach((node) => node.remove());
    const pair = t.kind === "pairwise";
    const labels = pair ? ["left", "right"] : ["edited image"];
    t.outputs.forEach((src, i) => {
      const alt = pair ? `${labels[i] === "left" ? "Left" : "Right"} edit` : "Edited image";
      images.append(figure(src, t.mask, alt, labels[i]));
    });
    buildSwitch(pair ? ["Input", "Left", "Right"] : ["Input", "Edit"]);
    const list = el("questions");
    list.replaceChildren(...t.questions.map(questionRow));
    el("submit").firstChild.textContent = "Submit ";
    shownAt = performance.now();
    refresh();
    layout();
    el("caption").focus({ preventScroll: true });
    const n = t.questions.length;
    el("announce").textContent =
      `${practice ? "Practice task" : "New task"}: ${pair ? "two edits side by side" : "one edited image"}, ` +
      `${n} question${n === 1 ? "" : "s"}. Caption: ${t.prompt}`;
    if (practice || preview) return;
    if (following === undefined) prefetch();
    else preload(following);
  }

  function currentQuestion() {
    return task.questions.findIndex((q) => !(q.id in answers));
  }

  function refresh() {
    const current = currentQuestion();
    task.questions.forEach((q, i) => {
      const row = el(`q-${q.id}`);
      row.classList.toggle("current", i === current && !checked);
      row.querySelectorAll("button").forEach((b) => {
        b.setAttribute("aria-checked", String(answers[q.id] === b.dataset.value));
      });
    });
    el("submit").disabled = busy;
  }

  function choose(q, value) {
    if (checked || busy) return;
    answers[q.id] = value;
    refresh();
  }

  // --- Preloading (real tasks only) ---------------------------------------------------------

  function preload(t) {
    fetches += 1; // an older request's answer must not replace this one
    next = t;
    if (t) for (const src of [t.input, t.mask, ...t.outputs]) { const i = new Image(); i.src = src; }
  }

  async function prefetch() {
    next = null;
    const mine = ++fetches;
    try {
      const { status, data } = await post(urls.next, { exclude: [task.assignment] });
      if (mine === fetches && status === 200 && data.task) preload(data.task);
    } catch (e) {
      // No preload: the submit asks for the next task instead.
    }
  }

  async function advance() {
    if (next) { render(next); return; }
    try {
      const { status, data } = await post(urls.next, { exclude: [] });
      if (status === 200 && data.task) render(data.task);
      else window.location.assign(urls.done);
    } catch (e) {
      say("Could not reach the server. Check your connection, then reload the page.");
    }
  }

  // --- Submitting ---------------------------------------------------------------------------

  function unanswered() {
    const left = task.questions.filter((q) => !(q.id in answers)).length;
    if (!left) return false;
    say(`${left} question${left === 1 ? "" : "s"} left: please answer ${left === 1 ? "it" : "them"} first (the highlighted one is next).`);
    const first = el(`q-${task.questions[currentQuestion()].id}`).querySelector("button");
    if (first) first.focus();
    return true;
  }

  function onRecorded(data, assignment, preloaded) {
    sessionStorage.removeItem(`editbench:submission:${assignment}`);
    const p = data.progress;
    el("progress").textContent = p.total ? `${p.done} of ${p.total}` : `${p.done} done`;
    if (preloaded) render(preloaded, data.next || null);
    else if (data.next) render(data.next);
    else window.location.assign(urls.done);
  }

  async function submit() {
    if (busy) return;
    if (practice) { practiceStep(); return; }
    if (unanswered()) return;
    if (preview) { previewStep(); return; }
    busy = true;
    refresh();
    const assignment = task.assignment;
    // One round trip: the answers, and the task to preload after the one already preloaded
    // (a preload still in flight is superseded: the server hands its lease back here).
    const preloaded = next;
    fetches += 1;
    let reply;
    try {
      reply = await post(urls.submit, {
        assignment,
        answers,
        time_on_task_ms: Math.round(performance.now() - shownAt),
        client_submission_id: submissionId(assignment),
        next: { exclude: preloaded ? [preloaded.assignment] : [] },
      });
    } catch (e) {
      // Nothing came back: the answers may or may not have been recorded. They stay on
      // screen, and a retry sends the same submission id, so it records them at most once.
      busy = false;
      next = preloaded;
      refresh();
      say("Could not reach the server, so your answers may not be saved yet. They are kept here: press Submit (Enter) to try again.");
      return;
    }
    busy = false;
    const { status, data } = reply;
    if (status === 200) onRecorded(data, assignment, preloaded);
    else if (status === 409) {
      // Already recorded, or the lease ran out: either way, move on.
      sessionStorage.removeItem(`editbench:submission:${assignment}`);
      next = preloaded;
      say(data.error || "");
      await advance();
    } else {
      next = preloaded;
      say(data.error || "Something went wrong; your answers are kept: press Submit (Enter) to try again.");
      refresh();
    }
  }

  // --- Preview: staff see each task as raters do; nothing is sent -------------------------

  function previewStep() {
    if (previewAt + 1 < preview.length) {
      previewAt += 1;
      el("progress").textContent = `preview ${previewAt + 1} of ${preview.length}`;
      render(preview[previewAt]);
      say("Preview: nothing was recorded.");
    } else {
      say("End of the preview: nothing was recorded.", true);
      busy = true; // no more tasks: Submit stays off
      refresh();
    }
  }

  // --- Practice: answers checked in the page, nothing sent ----------------------------------

  function practiceStep() {
    if (!checked) {
      if (!unanswered()) check();
      return;
    }
    if (practiceAt + 1 < practice.length) {
      practiceAt += 1;
      el("progress").textContent = `practice ${practiceAt + 1} of ${practice.length}`;
      render(practice[practiceAt]);
    }
  }

  function check() {
    checked = true;
    let right = 0;
    for (const q of task.questions) {
      const row = el(`q-${q.id}`);
      const ok = q.expected === null || answers[q.id] === q.expected;
      right += ok ? 1 : 0;
      row.classList.add(ok ? "right" : "wrong");
      const verdict = document.createElement("span");
      verdict.className = "verdict";
      verdict.textContent = ok
        ? `✓ Right${q.expected === null ? " (either answer is fine here)" : ""}.`
        : `✗ The expected answer is “${LABELS[q.expected]}”.`;
      row.append(verdict);
    }
    refresh();
    const feedback = el("feedback");
    feedback.textContent = `${right} of ${task.questions.length} right. ${task.why}`;
    feedback.hidden = false;
    el("announce").textContent = feedback.textContent;
    const last = practiceAt + 1 >= practice.length;
    if (last) {
      el("submit").hidden = true;
      el("begin").hidden = false;
      el("begin-button").focus();
    } else {
      el("submit").firstChild.textContent = "Next practice task ";
      el("submit").focus();
    }
  }

  // --- Buttons and keys ---------------------------------------------------------------------

  el("submit").addEventListener("click", submit);
  if (el("broken")) {
    el("broken").addEventListener("click", async () => {
      const note = window.prompt("What is wrong with this item? (optional)");
      if (note === null) return;
      try {
        await post(urls.broken, { assignment: task.assignment, note });
        await advance();
      } catch (e) {
        say("Could not reach the server; please try again.");
      }
    });
  }
  el("help").addEventListener("click", () => el("help-dialog").showModal());
  if (el("begin")) {
    // Posted by fetch, not as a form: the pages send no referrer, and a form's POST then
    // carries no usable Origin for the CSRF check.
    el("begin").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const response = await fetch(urls.start, {
          method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf },
        });
        if (response.ok) window.location.assign(urls.task);
        else say("Something went wrong; please try again.");
      } catch (e) {
        say("Could not reach the server; please try again.");
      }
    });
  }

  // Enter submits from anywhere but the buttons that do something else.
  const OWN_ENTER = ["broken", "help", "begin-button", "outline-toggle"];

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || el("help-dialog").open) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
    const key = event.key.toLowerCase();
    if (key === "enter") {
      if (OWN_ENTER.includes(target.id) || target.closest("#view-switch")) return;
      event.preventDefault();
      if (!el("submit").hidden) submit();
      return;
    }
    if (key === "m") { setOutline(root.classList.contains("outline-off")); return; }
    if (checked) return;
    if (key === "backspace") {
      // Undo the last answer, so a slip of the finger can be fixed from the keyboard.
      const answered = task.questions.filter((q) => q.id in answers);
      if (answered.length) { delete answers[answered[answered.length - 1].id]; refresh(); }
      event.preventDefault();
      return;
    }
    const i = currentQuestion();
    if (i === -1) return;
    const q = task.questions[i];
    const hit = (q.kind === "pair" ? PAIR : YESNO).find(([, , k]) => k === key);
    if (hit) { choose(q, hit[0]); event.preventDefault(); }
  });

  // A desktop-only study on a phone: the page says so (CSS) and nothing is preloaded.
  if (touch && root.classList.contains("desktop-only")) return;
  setOutline(sessionStorage.getItem("editbench:outline") === "1");
  if (practice && !practice.length) {
    // The benchmark had nothing to practise on: straight to the real tasks.
    el("submit").hidden = true;
    el("begin").hidden = false;
    return;
  }
  if (practice) el("progress").textContent = `practice 1 of ${practice.length}`;
  if (preview && !preview.length) {
    say("Nothing to preview yet: generate the study's edits first.");
    el("submit").disabled = true;
    return;
  }
  render(task);
})();
