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

// First steps and details (issue 18): "1 file", "2 files", as the pages' `plural` filter (render.py) writes.
function countOf(n, word) { return `${n.toLocaleString("en")} ${n === 1 ? word : word + "s"}`; }
