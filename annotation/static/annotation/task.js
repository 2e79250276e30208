// The rater's task page: keyboard-first answering, preloaded next task,
// idempotent submission (one submission id per assignment, kept across reloads).
(function () {
  "use strict";

  const urls = JSON.parse(document.getElementById("task-urls").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const el = (id) => document.getElementById(id);
  const PAIR = [["left", "Left", "1"], ["right", "Right", "2"], ["none", "No preference", "3"]];
  const YESNO = [["yes", "Yes", "y"], ["no", "No", "n"]];

  let task = JSON.parse(el("task-data").textContent);
  let next = null; // the preloaded next task
  let fetches = 0; // numbers the requests for a task to preload; only the latest one counts
  let answers = {};
  let shownAt = 0;
  let busy = false;

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // The same assignment always submits with the same id, even after a reload,
  // so a double submit records one judgment.
  function submissionId(assignment) {
    const key = `editbench:submission:${assignment}`;
    let id = sessionStorage.getItem(key);
    if (!id) {
      id = uuid4();
      sessionStorage.setItem(key, id);
    }
    return id;
  }

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

  function scaleFor(width, count) {
    // Whole factors only, so pixels stay sharp and undistorted: small images are
    // upscaled by an integer, large ones (1024 px benchmarks) shrunk by an integer
    // divisor; as large as the window allows for the images side by side.
    const room = Math.max(256, Math.min(640, (window.innerWidth - 40 * count) / count));
    if (width > room) return 1 / Math.ceil(width / room);
    return Math.max(1, Math.floor(room / width));
  }

  function setImage(img, src, width, height) {
    const s = scaleFor(width, 1 + task.outputs.length);
    img.src = src;
    img.width = Math.round(width * s);
    img.height = Math.round(height * s);
    // Nearest-neighbour keeps upscaled pixels crisp but aliases a shrunk image.
    img.style.imageRendering = s < 1 ? "auto" : "";
  }

  function currentQuestion() {
    return task.questions.findIndex((q) => !(q.id in answers));
  }

  function refresh() {
    const current = currentQuestion();
    task.questions.forEach((q, i) => {
      const row = el(`q-${q.id}`);
      row.classList.toggle("current", i === current);
      row.querySelectorAll("button").forEach((b) => {
        b.classList.toggle("chosen", answers[q.id] === b.dataset.value);
      });
    });
    el("submit").disabled = current !== -1 || busy;
  }

  // Show task t. `following` is the task to preload after it when the caller already has it
  // (the answer to a submit: a task, or null when none is left); otherwise it is asked for.
  function render(t, following) {
    task = t;
    answers = {};
    document.body.dataset.assignment = String(t.assignment);
    document.body.dataset.kind = t.kind;
    el("status").textContent = "";
    el("prompt").textContent = `“${t.prompt}”`;
    setImage(el("input"), t.input, t.width, t.height);
    const outputs = el("outputs");
    outputs.replaceChildren();
    const labels = t.kind === "pairwise" ? ["left", "right"] : ["edited image"];
    t.outputs.forEach((src, i) => {
      const fig = document.createElement("figure");
      const img = document.createElement("img");
      img.alt = labels[i];
      img.className = "output";
      setImage(img, src, t.width, t.height);
      const cap = document.createElement("figcaption");
      cap.textContent = labels[i];
      fig.append(img, cap);
      outputs.append(fig);
    });
    const list = el("questions");
    list.replaceChildren();
    t.questions.forEach((q) => {
      const row = document.createElement("div");
      row.className = "q";
      row.id = `q-${q.id}`;
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = q.text;
      row.append(text);
      for (const [value, label, key] of q.kind === "pair" ? PAIR : YESNO) {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.value = value;
        b.innerHTML = `${label} <kbd>${key}</kbd>`;
        b.addEventListener("click", () => { answers[q.id] = value; refresh(); });
        row.append(b);
      }
      list.append(row);
    });
    shownAt = performance.now();
    refresh();
    if (following === undefined) prefetch();
    else preload(following);
  }

  function preload(t) {
    fetches += 1; // an older request's answer must not replace this one
    next = t;
    if (t) for (const src of [t.input, ...t.outputs]) { const i = new Image(); i.src = src; }
  }

  async function prefetch() {
    next = null;
    const mine = ++fetches;
    const { status, data } = await post(urls.next, { exclude: [task.assignment] });
    if (mine === fetches && status === 200 && data.task) preload(data.task);
  }

  async function advance() {
    if (next) { render(next); return; }
    const { status, data } = await post(urls.next, { exclude: [] });
    if (status === 200 && data.task) render(data.task);
    else window.location.assign(urls.done);
  }

  async function submit() {
    if (busy || currentQuestion() !== -1) return;
    busy = true;
    refresh();
    const assignment = task.assignment;
    // One round trip: the answers, and the task to preload after the one already preloaded
    // (a preload still in flight is superseded: the server hands its lease back here).
    const preloaded = next;
    fetches += 1;
    const { status, data } = await post(urls.submit, {
      assignment,
      answers,
      time_on_task_ms: Math.round(performance.now() - shownAt),
      client_submission_id: submissionId(assignment),
      next: { exclude: preloaded ? [preloaded.assignment] : [] },
    });
    busy = false;
    if (status === 200) {
      sessionStorage.removeItem(`editbench:submission:${assignment}`);
      const p = data.progress;
      el("progress").textContent = p.total ? `${p.done} of ${p.total}` : `${p.done} done`;
      if (preloaded) render(preloaded, data.next || null);
      else if (data.next) render(data.next);
      else window.location.assign(urls.done);
    } else if (status === 409) {
      // Already recorded, or the lease ran out: either way, move on.
      sessionStorage.removeItem(`editbench:submission:${assignment}`);
      el("status").textContent = data.error || "";
      await advance();
    } else {
      el("status").textContent = data.error || "Something went wrong; please try again.";
      refresh();
    }
  }

  el("submit").addEventListener("click", submit);
  el("broken").addEventListener("click", async () => {
    const note = window.prompt("What is wrong with this item? (optional)") || "";
    await post(urls.broken, { assignment: task.assignment, note });
    await advance();
  });

  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
    const i = currentQuestion();
    const key = event.key.toLowerCase();
    if (key === "enter") { event.preventDefault(); submit(); return; }
    if (key === "backspace") {
      // Undo the last answer, so a slip of the finger can be fixed from the keyboard.
      const answered = task.questions.filter((q) => q.id in answers);
      if (answered.length) { delete answers[answered[answered.length - 1].id]; refresh(); }
      event.preventDefault();
      return;
    }
    if (i === -1) return;
    const q = task.questions[i];
    const options = q.kind === "pair" ? PAIR : YESNO;
    const hit = options.find(([, , k]) => k === key);
    if (hit) { answers[q.id] = hit[0]; refresh(); event.preventDefault(); }
  });

  render(task);
})();
