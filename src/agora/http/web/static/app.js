// Agora's few browser behaviours: copy buttons and drag & drop uploads with progress per file.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  document.addEventListener("click", (ev) => {
    const btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    navigator.clipboard?.writeText(btn.dataset.copy);
    btn.classList.add("copied");
    btn.title = "Copied";
  });

  document.addEventListener("change", (ev) => {
    const el = ev.target;
    if (el.matches("select[data-autosubmit]")) el.form.submit();
    if (el.matches("select[data-nav-prefix]")) location.href = el.dataset.navPrefix + encodeURIComponent(el.value);
  });
  document.addEventListener("submit", (ev) => {
    const f = ev.target;
    if (f.dataset.confirm && !confirm(f.dataset.confirm)) ev.preventDefault();
  });

  // A Space's build or run log, live: the log's server-sent events (from its first line) fill the <pre>,
  // which htmx keeps across its stage polls (hx-preserve); a log element gone from the page closes its stream.
  function followLogs() {
    document.querySelectorAll("pre[data-log-src]:not([data-following])").forEach((pre) => {
      pre.dataset.following = "1";
      const events = new EventSource(pre.dataset.logSrc);
      let first = true;
      events.onmessage = (ev) => {
        if (!pre.isConnected) { events.close(); return; }
        if (!ev.data) return;  // keep-alive
        const line = JSON.parse(ev.data).data;
        if (first) { pre.textContent = ""; first = false; }
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(line.endsWith("\n") ? line : line + "\n");
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      };
    });
  }
  followLogs();
  document.addEventListener("htmx:load", followLogs);

  const section = document.querySelector("section.upload");
  if (!section) return;
  const base = section.dataset.base, rev = section.dataset.rev;
  const zone = document.getElementById("dropzone"), list = document.getElementById("upload-list");
  const form = document.getElementById("upload-form"), commitBtn = document.getElementById("commit-btn");
  const status = document.getElementById("upload-status");
  const staged = new Map();  // path -> {oid, size, token, exp}
  let pending = 0;

  function filesize(n) {  // as the server's filesize filter: 1000-based, "12 Bytes", "1.5 kB", "62.9 MB"
    if (n < 1000) return n + " Bytes";
    const units = ["kB", "MB", "GB", "TB"];
    let i = -1;
    do { n /= 1000; i++; } while (n >= 1000 && i < units.length - 1);
    return n.toFixed(1).replace(/\.0$/, "") + " " + units[i];
  }

  function row(path, size) {
    const li = document.createElement("li");
    li.dataset.path = path;
    li.innerHTML = "<span class=name></span><span class=size></span><progress max=100 value=0></progress>";
    li.querySelector(".name").textContent = path;
    li.querySelector(".size").textContent = filesize(size);
    list.appendChild(li);
    return li;
  }

  function refresh() {
    commitBtn.disabled = pending > 0 || staged.size === 0;
    status.textContent = pending > 0 ? `Uploading ${countOf(pending, "file")}…` : staged.size ? `${countOf(staged.size, "file")} ready to commit` : "";
  }

  function send(file, path) {
    const li = row(path, file.size), bar = li.querySelector("progress");
    pending++; refresh();
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", base + "/upload-blob");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = () => {
      pending--;
      if (xhr.status === 200) { bar.value = 100; li.classList.add("done"); staged.set(path, JSON.parse(xhr.responseText)); }
      else { li.classList.add("failed"); li.querySelector(".size").textContent = "failed: " + xhr.status; }
      refresh();
    };
    xhr.onerror = () => { pending--; li.classList.add("failed"); refresh(); };
    xhr.send(file);
  }

  async function walk(entry, prefix) {
    if (entry.isFile) {
      const file = await new Promise((ok, ko) => entry.file(ok, ko));
      send(file, prefix + file.name);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch;
      do {
        batch = await new Promise((ok, ko) => reader.readEntries(ok, ko));
        for (const child of batch) await walk(child, prefix + entry.name + "/");
      } while (batch.length);
    }
  }

  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault(); zone.classList.remove("over");
    const items = [...(e.dataTransfer.items || [])];
    const entries = items.map((it) => it.webkitGetAsEntry && it.webkitGetAsEntry()).filter(Boolean);
    if (entries.length) { for (const en of entries) await walk(en, ""); }
    else { for (const f of e.dataTransfer.files) send(f, f.name); }
  });
  for (const id of ["file-input", "dir-input"]) {
    document.getElementById(id).addEventListener("change", (e) => {
      for (const f of e.target.files) send(f, f.webkitRelativePath || f.name);
    });
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    commitBtn.disabled = true; status.textContent = "Committing…";
    const files = [...staged.entries()].map(([path, s]) => ({ path, ...s }));
    const res = await fetch(base + "/upload/" + encodeURIComponent(rev), {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ files, message: document.getElementById("commit-message").value,
                             description: document.getElementById("commit-description").value,
                             pr: !!(document.getElementById("as-pr") || {}).checked }),
    });
    const out = await res.json();
    if (res.ok) { location.href = out.url; } else { status.textContent = out.error || "Commit failed"; commitBtn.disabled = false; }
  });
})();

// The org settings page: the chosen avatar is PUT as it is (the server reads its type from its bytes).
(() => {
  const input = document.getElementById("avatar-input");
  if (!input) return;
  const status = document.getElementById("avatar-status");
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    status.textContent = "Uploading…";
    const res = await fetch(input.dataset.put, { method: "PUT", headers: { "X-CSRF-Token": input.dataset.csrf }, body: file });
    if (res.ok) {
      status.textContent = "Avatar saved";
      document.getElementById("avatar-img").src = input.dataset.put.replace(/^\/organizations\/([^/]+)\/avatar$/, "/avatars/$1") + "?t=" + Date.now();
    } else {
      status.textContent = (await res.json()).error || "Upload failed";
    }
  });
})();

// The card editor (card_edit.html; issue 18, card editor): every change of the README text or of a metadata
// field sends the form, debounced, to /card-preview, whose answer (the server's own rewrite, checks and
// sanitized rendering) updates the text, the fields, the problems shown by each field and the preview.
(function () {
  const form = document.getElementById("card-editor");
  if (!form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const text = form.elements.content, preview = document.getElementById("card-preview");
  const button = document.getElementById("card-commit"), status = document.getElementById("card-status");
  const quiet = new Set(["message", "description", "target", "csrf", "base", "rev"]);
  let timer = null, seq = 0;

  function showErrors(errors) {
    form.querySelectorAll(".field-error").forEach((p) => {
      const name = p.id.slice(4);
      p.textContent = (errors[name] || []).join(" ");
      const input = name === "content" ? text : form.elements[name];
      if (input) input.setAttribute("aria-invalid", errors[name] ? "true" : "false");
    });
    const bad = Object.keys(errors).length > 0;
    button.disabled = bad;
    status.textContent = bad ? "Fix the problems above to commit." : "";
  }

  async function send() {
    const n = ++seq;
    const sent = Object.fromEntries(new FormData(form).entries());
    let answer;
    try {
      const r = await fetch(form.dataset.preview, {
        method: "POST", body: new URLSearchParams(sent), headers: { "X-CSRF-Token": csrf }, credentials: "same-origin",
      });
      if (!r.ok) throw new Error(r.headers.get("x-error-message") || `preview failed (${r.status})`);
      answer = await r.json();
    } catch (e) {
      if (n === seq) { status.textContent = String(e.message || e); button.disabled = false; }  // the commit checks again
      return;
    }
    if (n !== seq) return;  // a newer round is on its way
    if (answer.content !== sent.content && text.value === sent.content) text.value = answer.content;
    for (const [name, value] of Object.entries(answer.fields)) {
      const el = form.elements[name];
      if (el && el !== document.activeElement && el.value === sent[name]) el.value = value;
    }
    form.elements.base.value = JSON.stringify(answer.base);
    for (const [name, note] of Object.entries(answer.notes || {})) {
      const el = document.getElementById("note-" + name);
      if (el) el.textContent = note;
    }
    preview.innerHTML = answer.html;  // sanitized by the server (render.markdown), as on the repo page
    showErrors(answer.errors);
  }

  form.addEventListener("input", (ev) => {
    if (!ev.target.name || quiet.has(ev.target.name)) return;
    button.disabled = true;  // until the checks of this change are back
    clearTimeout(timer);
    timer = setTimeout(send, 300);
  });
  form.addEventListener("submit", (ev) => { if (button.disabled) ev.preventDefault(); });
  if (status.textContent.trim()) button.disabled = true;
})();

// The header search (issue 18, "one search box for everything"): while typing, suggestions from
// /api/quicksearch grouped by type, as an ARIA combobox. Focus stays in the input; the arrow keys move the
// active option (aria-activedescendant), Enter opens it, Enter with none active submits the form to the
// grouped results page (/search?q=), Escape closes the list.
(() => {
  const input = document.getElementById("header-search");
  const box = document.getElementById("header-suggest");
  if (!input || !box) return;
  const GROUPS = [
    ["models", "Models", (x) => ({ href: "/" + x.id, text: x.id, lock: x.private })],
    ["datasets", "Datasets", (x) => ({ href: "/datasets/" + x.id, text: x.id, lock: x.private })],
    ["spaces", "Spaces", (x) => ({ href: "/spaces/" + x.id, text: x.id, lock: x.private })],
    ["users", "Users", (x) => ({ href: "/" + x.user, text: x.fullname || x.user, sub: x.fullname ? x.user : "", avatar: x.user })],
    ["orgs", "Organizations", (x) => ({ href: "/" + x.name, text: x.fullname || x.name, sub: x.fullname ? x.name : "", avatar: x.name })],
    ["collections", "Collections", (x) => ({ href: "/collections/" + x.slug, text: x.title, sub: x.owner, lock: x.private })],
  ];
  const TYPES = ["model", "dataset", "space", "user", "org", "collection"];
  let timer = 0, seq = 0, active = -1;

  const options = () => [...box.querySelectorAll('[role="option"]')];

  function close() {
    box.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function setActive(i) {
    const opts = options();
    if (!opts.length) return;
    active = (i + opts.length) % opts.length;
    opts.forEach((o, k) => o.setAttribute("aria-selected", k === active ? "true" : "false"));
    input.setAttribute("aria-activedescendant", opts[active].id);
    opts[active].scrollIntoView({ block: "nearest" });
  }

  function option(id, item) {
    const a = document.createElement("a");
    a.id = id; a.href = item.href; a.tabIndex = -1;
    a.setAttribute("role", "option"); a.setAttribute("aria-selected", "false");
    a.className = "suggest-option";
    if (item.avatar) {
      const img = document.createElement("img");
      img.src = "/avatars/" + encodeURIComponent(item.avatar); img.alt = ""; img.width = 18; img.height = 18;
      img.className = "avatar";
      a.append(img);
    }
    const main = document.createElement("span");
    main.textContent = item.text;
    a.append(main);
    if (item.sub) { const s = document.createElement("span"); s.className = "muted"; s.textContent = item.sub; a.append(" ", s); }
    if (item.lock) { const b = document.createElement("span"); b.className = "badge"; b.textContent = "private"; a.append(" ", b); }
    return a;
  }

  function show(q, data) {
    box.replaceChildren();
    let n = 0;
    for (const [key, label, view] of GROUPS) {
      const items = data[key] || [];
      if (!items.length) continue;
      const group = document.createElement("div");
      group.setAttribute("role", "group");
      group.className = "suggest-group";
      group.dataset.type = key;
      const head = document.createElement("div");
      head.id = "header-suggest-" + key;
      head.className = "suggest-head";
      head.setAttribute("role", "presentation");
      head.textContent = label;
      group.setAttribute("aria-labelledby", head.id);
      group.append(head);
      for (const x of items) group.append(option("header-suggest-" + n++, view(x)));
      box.append(group);
    }
    const all = option("header-suggest-" + n++, { href: "/search?q=" + encodeURIComponent(q), text: n > 0 ? `See all results for “${q}”` : `No suggestions: search for “${q}”` });
    all.classList.add("suggest-all");
    box.append(all);
    active = -1;
    input.removeAttribute("aria-activedescendant");
    box.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  async function suggest() {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) { close(); return; }
    const params = new URLSearchParams({ q, limit: "4" });
    TYPES.forEach((t) => params.append("type", t));
    try {
      const res = await fetch("/api/quicksearch?" + params, { headers: { Accept: "application/json" } });
      if (!res.ok || mine !== seq) return;
      const data = await res.json();
      if (mine === seq && document.activeElement === input) show(q, data);
    } catch (e) { /* offline or aborted: no suggestions */ }
  }

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 150); });
  input.addEventListener("focus", () => { if (input.value.trim() && box.childElementCount) { box.hidden = false; input.setAttribute("aria-expanded", "true"); } });
  input.addEventListener("keydown", (ev) => {
    const open = !box.hidden;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      if (!open) { if (input.value.trim()) suggest(); return; }
      ev.preventDefault();
      setActive(active < 0 ? (ev.key === "ArrowDown" ? 0 : -1) : active + (ev.key === "ArrowDown" ? 1 : -1));
    } else if (ev.key === "Enter" && open && active >= 0) {
      ev.preventDefault();
      location.href = options()[active].href;
    } else if (ev.key === "Escape" && open) {
      ev.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) close(); }, 150));
  box.addEventListener("mousedown", (ev) => ev.preventDefault());  // a click on a suggestion keeps the focus
})();

// Phone width and accessibility (issue 18). The list pages' "Filters" button folds the facets on a narrow screen
// (without JS the button stays hidden and the facets open); a block scrolled sideways (a code block or a wide
// table in a card) takes the keyboard focus, so that it scrolls without a mouse; the upload drop zone opens the
// file picker from the keyboard.
(() => {
  document.querySelectorAll("button.filters-toggle[aria-controls]").forEach((btn) => {
    const panel = document.getElementById(btn.getAttribute("aria-controls"));
    if (!panel) return;
    const show = (open) => { btn.setAttribute("aria-expanded", String(open)); panel.classList.toggle("folded", !open); };
    show(false);
    btn.hidden = false;
    btn.addEventListener("click", () => show(btn.getAttribute("aria-expanded") !== "true"));
  });
  const reachScrolled = () => document.querySelectorAll("main pre, .markdown table:not(.viewer-table)").forEach((el) => {
    if (el.scrollWidth > el.clientWidth && !el.hasAttribute("tabindex")) el.tabIndex = 0;
  });
  reachScrolled();
  window.addEventListener("resize", reachScrolled);
  document.addEventListener("htmx:load", reachScrolled);
  // The upload drop zone is a button (role, tabindex): Enter, Space or a click beside its links opens the file picker.
  const zone = document.getElementById("dropzone"), picker = document.getElementById("file-input");
  if (!zone || !picker) return;
  zone.addEventListener("click", (ev) => { if (!ev.target.closest("label, input")) picker.click(); });
  zone.addEventListener("keydown", (ev) => {
    if (ev.target === zone && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); picker.click(); }
  });
})();

// First steps and details (issue 18): "1 file", "2 files", as the pages' `plural` filter (render.py) writes.
function countOf(n, word) { return `${n.toLocaleString("en")} ${n === 1 ? word : word + "s"}`; }

// "Use this model" on the model page (issue 18, _use_model.html): a library's button shows its snippet; a copy
// button says "Copied" (the copying itself is the [data-copy] handler above); Escape closes the menu.
(() => {
  const menu = document.getElementById("use-model");
  if (!menu) return;
  menu.addEventListener("click", (ev) => {
    const tab = ev.target.closest("[data-snippet-tab]");
    if (tab) {
      menu.querySelectorAll("[data-snippet-tab]").forEach((b) => b.setAttribute("aria-pressed", String(b === tab)));
      menu.querySelectorAll("[data-snippet-pane]").forEach((p) => { p.hidden = p.dataset.snippetPane !== tab.dataset.snippetTab; });
      return;
    }
    const copy = ev.target.closest(".copy-snippet");
    if (copy) {
      menu.querySelectorAll(".copy-snippet").forEach((b) => { if (b !== copy) b.textContent = "Copy"; });
      copy.textContent = "Copied";
    }
  });
  menu.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && menu.open) { menu.open = false; menu.querySelector("summary").focus(); }
  });
})();
