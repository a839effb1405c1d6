// The inference widget of a model page (templates/_widget.html): fills the inputs from the card's examples,
// calls the model's Inference API (POST /models/{id}, or /v1/chat/completions for chat models) and renders
// the answer per task. Audio is recorded as PCM and sent as a WAV file (the server does not decode WebM).
"use strict";
(function () {
  const form = document.querySelector("form.widget-form");
  if (!form) return;
  const kind = form.dataset.kind, url = form.dataset.url;
  const examples = JSON.parse(form.querySelector(".widget-examples").textContent || "[]");
  const cardParams = JSON.parse(form.querySelector(".widget-params").textContent || "{}");
  const status = form.querySelector(".widget-status"), output = form.querySelector(".widget-output");
  const timeEl = form.querySelector(".widget-time"), jsonEl = form.querySelector(".widget-json");
  const jsonToggle = form.querySelector(".widget-json-toggle"), compute = form.querySelector(".widget-compute");
  const field = (name) => form.elements.namedItem(name);
  const GENERATION = ["text-generation", "text2text-generation", "summarization", "translation"];
  let file = null;            // the image / audio to send (a File or a Blob)
  let exampleParams = {};     // the chosen example's own `parameters`
  const chat = [];            // the conversation: {role, content}

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- examples -------------------------------------------------------------------------------------
  function setValue(name, v) {
    const f = field(name);
    if (!f || v === undefined || v === null) return;
    if (f.type === "checkbox") f.checked = !!v; else f.value = String(v);
  }

  function sentenceInputs() { return Array.from(form.querySelectorAll('input[name="sentence"]')); }

  function addSentence(value) {
    const box = form.querySelector("fieldset.sentences");
    const n = sentenceInputs().length + 1;
    const label = el("label", "", `Sentence ${n} `);
    const input = el("input");
    input.name = "sentence"; input.type = "text"; input.autocomplete = "off"; input.value = value || "";
    label.appendChild(input);
    box.appendChild(label);
    return input;
  }

  async function loadExample(i) {
    const ex = examples[i];
    if (!ex) return;
    exampleParams = (ex.parameters && typeof ex.parameters === "object") ? ex.parameters : {};
    if (kind === "conversational") {  // the example's text, or its last user message
      const users = Array.isArray(ex.messages) ? ex.messages.filter((m) => m && m.role === "user") : [];
      setValue("text", ex.text ?? users.at(-1)?.content);
      return;
    }
    setValue("text", ex.text); setValue("context", ex.context);
    setValue("candidate_labels", ex.candidate_labels); setValue("multi_class", ex.multi_class);
    if (kind === "sentence-similarity") {
      setValue("source_sentence", ex.source_sentence);
      const sentences = Array.isArray(ex.sentences) ? ex.sentences : [];
      while (sentenceInputs().length < sentences.length) addSentence("");
      sentenceInputs().forEach((inp, j) => { inp.value = sentences[j] ?? ""; });
    }
    if (typeof ex.src === "string" && ex.src) {
      // a file in this repo (same origin), or a URL the browser fetches itself: never through the server
      const src = /^https?:\/\//.test(ex.src) ? ex.src : `/${form.dataset.model}/resolve/main/${ex.src.replace(/^\/+/, "")}`;
      try {
        const r = await fetch(src);
        if (r.ok) setFile(await r.blob(), ex.src.split("/").pop());
      } catch (e) { /* the user can still drop a file */ }
    }
  }

  const select = form.querySelector(".widget-example");
  if (select) select.addEventListener("change", () => loadExample(Number(select.value)));
  loadExample(0).then(() => {
    // ?text=… in the page URL wins over the example (as on the Hub)
    const q = new URLSearchParams(location.search);
    for (const name of ["text", "context", "candidate_labels", "source_sentence"]) if (q.has(name)) setValue(name, q.get(name));
  });
  const add = form.querySelector(".widget-add-sentence");
  if (add) add.addEventListener("click", () => addSentence("").focus());

  // ---- files: drop, browse, record --------------------------------------------------------------------
  function setFile(blob, name) {
    file = blob;
    const n = form.querySelector(".widget-file-name");
    if (n) n.textContent = name ? `${name} (${blob.size} bytes)` : "";
    const old = form.querySelector(".widget-preview");
    if (old) old.remove();
    if (kind === "image-classification" && blob.type.startsWith("image/")) {
      const reader = new FileReader();
      reader.onload = () => {
        const img = el("img", "widget-preview"); img.alt = name || "the image"; img.src = reader.result;
        form.querySelector(".widget-drop").appendChild(img);
      };
      reader.readAsDataURL(blob);
    }
  }
  const fileInput = form.querySelector(".widget-file"), drop = form.querySelector(".widget-drop");
  if (fileInput) fileInput.addEventListener("change", () => { if (fileInput.files[0]) setFile(fileInput.files[0], fileInput.files[0].name); });
  if (drop) {
    drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault(); drop.classList.remove("over");
      const f = ev.dataTransfer.files[0];
      if (f) setFile(f, f.name);
    });
    drop.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); fileInput.click(); } });
  }

  function wav(samples, rate) {  // 16-bit PCM mono RIFF/WAVE
    const buf = new ArrayBuffer(44 + samples.length * 2), v = new DataView(buf);
    const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
    str(0, "RIFF"); v.setUint32(4, 36 + samples.length * 2, true); str(8, "WAVE");
    str(12, "fmt "); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
    v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
    str(36, "data"); v.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      v.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([buf], { type: "audio/wav" });
  }

  function downsample(chunks, from, to) {
    const total = chunks.reduce((n, c) => n + c.length, 0), all = new Float32Array(total);
    let o = 0;
    for (const c of chunks) { all.set(c, o); o += c.length; }
    if (from === to) return all;
    const ratio = from / to, out = new Float32Array(Math.floor(total / ratio));
    for (let i = 0; i < out.length; i++) {  // average over each output sample's span
      const a = Math.floor(i * ratio), b = Math.min(total, Math.floor((i + 1) * ratio));
      let s = 0;
      for (let j = a; j < b; j++) s += all[j];
      out[i] = b > a ? s / (b - a) : 0;
    }
    return out;
  }

  const recordBtn = form.querySelector(".widget-record");
  let rec = null;  // {stream, ctx, node, chunks}
  async function startRecording() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(stream), node = ctx.createScriptProcessor(4096, 1, 1);
    const mute = ctx.createGain(); mute.gain.value = 0;
    const chunks = [];
    node.onaudioprocess = (ev) => chunks.push(new Float32Array(ev.inputBuffer.getChannelData(0)));
    source.connect(node); node.connect(mute); mute.connect(ctx.destination);
    rec = { stream, ctx, node, chunks };
    recordBtn.textContent = "Stop recording"; recordBtn.setAttribute("aria-pressed", "true");
    status.textContent = "Recording…";
  }
  async function stopRecording() {
    const { stream, ctx, node, chunks } = rec;
    rec = null;
    node.disconnect(); stream.getTracks().forEach((t) => t.stop());
    const rate = ctx.sampleRate;
    await ctx.close();
    setFile(wav(downsample(chunks, rate, 16000), 16000), "recording.wav");
    recordBtn.textContent = "Record from browser"; recordBtn.setAttribute("aria-pressed", "false");
    status.textContent = "";
    form.requestSubmit();
  }
  if (recordBtn) recordBtn.addEventListener("click", async () => {
    try { if (rec) await stopRecording(); else await startRecording(); }
    catch (e) { showError(`Could not record: ${e.message || e}`); }
  });

  // ---- the request ------------------------------------------------------------------------------------
  function splitLabels(s) { return String(s || "").split(",").map((x) => x.trim()).filter(Boolean); }

  function body() {
    const text = field("text") ? field("text").value : "";
    const defaults = kind === "text-generation" ? { max_new_tokens: 20 } : {};
    const parameters = { ...defaults, ...cardParams, ...exampleParams };
    if (kind === "question-answering") return { inputs: { question: text, context: field("context").value }, parameters };
    if (kind === "sentence-similarity") {
      const sentences = sentenceInputs().map((i) => i.value).filter((s) => s.trim());
      return { inputs: { source_sentence: field("source_sentence").value, sentences }, parameters };
    }
    if (kind === "zero-shot-classification") {
      parameters.candidate_labels = field("candidate_labels").value;
      parameters.multi_class = field("multi_class").checked;
    }
    return { inputs: text, parameters };
  }

  function validate(b) {
    if (kind === "image-classification" || kind === "automatic-speech-recognition") return file ? "" : "Choose a file first";
    if (kind === "sentence-similarity") return b.inputs.source_sentence.trim() && b.inputs.sentences.length ? "" : "Give a source sentence and sentences to compare";
    if (kind === "zero-shot-classification" && !splitLabels(b.parameters.candidate_labels).length) return "Give at least one class name";
    if (kind === "question-answering") return b.inputs.question.trim() && b.inputs.context.trim() ? "" : "Give a question and a context";
    return typeof b.inputs === "string" && b.inputs.trim() ? "" : "Type some text first";
  }

  function showError(msg) {
    status.textContent = "";
    output.replaceChildren(el("p", "error-text widget-error", msg));
  }

  function errorOf(data, res) {
    const e = data && data.error;
    if (Array.isArray(e)) return e.join("; ");
    return e ? String(e) : `Error ${res.status}`;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // POST to `target`; a 503 "currently loading" with estimated_time shows a progress bar, then the call is made
  // again with X-Wait-For-Model: true. -> {res, data} (data: the parsed JSON, null for a stream or no JSON)
  async function call(payload, wait, target, streaming) {
    const headers = {};
    let reqBody;
    if (payload instanceof Blob) { reqBody = await payload.arrayBuffer(); headers["Content-Type"] = payload.type || "application/octet-stream"; }
    else { reqBody = JSON.stringify(payload); headers["Content-Type"] = "application/json"; }
    if (GENERATION.includes(kind)) headers["X-Use-Cache"] = "false";
    headers["X-Wait-For-Model"] = wait ? "true" : "false";
    const res = await fetch(target || url, { method: "POST", headers, body: reqBody, credentials: "same-origin" });
    let data = null;
    if (!(streaming && res.ok)) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (res.status === 503 && data && data.estimated_time !== undefined && !wait) {
      const secs = Math.max(0, Number(data.estimated_time) || 0);
      const p = el("progress"); p.max = 100; p.value = 0;
      status.replaceChildren(el("span", "widget-loading", `Model is loading (about ${secs.toFixed(0)} s)… `), p);
      const start = Date.now();
      const timer = setInterval(() => { p.value = Math.min(99, ((Date.now() - start) / 10) / Math.max(secs, 0.1)); }, 200);
      try { await sleep(Math.min(secs, 20) * 1000); return await call(payload, true, target, streaming); }
      finally { clearInterval(timer); }
    }
    return { res, data };
  }

  async function run() {
    if (kind === "conversational") return runChat();
    const b = body(), problem = validate(b);
    if (problem) { showError(problem); return; }
    compute.disabled = true;
    status.textContent = "Computing…"; output.replaceChildren(); timeEl.textContent = ""; jsonEl.textContent = "";
    try {
      const { res, data } = await call(file && (kind === "image-classification" || kind === "automatic-speech-recognition") ? file : b, false);
      if (!res.ok) { showError(errorOf(data, res)); return; }
      status.textContent = "";
      const t = res.headers.get("x-compute-time");
      timeEl.textContent = t ? `Computation time on cpu: ${Number(t).toFixed(3)} s` : "cached";
      jsonEl.textContent = JSON.stringify(data, null, 2);
      render(data, b);
    } catch (e) {
      showError(`The request failed: ${e.message || e}`);
    } finally {
      compute.disabled = false;
    }
  }

  // ---- outputs ----------------------------------------------------------------------------------------
  function bars(items) {  // [{label, score}] -> bar chart, highest first
    const ul = el("ul", "bars");
    items.slice().sort((a, b) => b.score - a.score).forEach((x) => {
      const li = el("li");
      const m = el("meter"); m.min = 0; m.max = 1; m.value = Math.max(0, Math.min(1, x.score));
      li.append(el("span", "bar-label", x.label), m, el("span", "bar-score", Number(x.score).toFixed(3)));
      ul.appendChild(li);
    });
    return ul;
  }

  function spans(text, entities) {  // the input with the entities highlighted
    const p = el("p", "entities");
    const seen = new Set();
    let at = 0;
    entities.filter((e) => Number.isInteger(e.start) && Number.isInteger(e.end))
      .sort((a, b) => a.start - b.start)
      .forEach((e) => {
        const key = `${e.start}:${e.end}`;
        if (seen.has(key) || e.start < at) return;  // duplicates and overlaps are dropped
        seen.add(key);
        p.appendChild(document.createTextNode(text.slice(at, e.start)));
        const label = e.entity_group || e.entity || "";
        const mark = el("mark", `ent ent-${label.replace(/^[BI]-/, "").toLowerCase()}`, text.slice(e.start, e.end));
        mark.title = `${label} ${Number(e.score).toFixed(3)}`;
        mark.appendChild(el("span", "ent-label", label));
        p.appendChild(mark);
        at = e.end;
      });
    p.appendChild(document.createTextNode(text.slice(at)));
    return p;
  }

  function numbers(data) {  // feature-extraction: a vector in 4 columns, or a table
    while (Array.isArray(data) && data.length === 1 && Array.isArray(data[0])) data = data[0];
    const table = el("table", "numbers");
    const rows = Array.isArray(data[0]) ? data : Array.from({ length: Math.ceil(data.length / 4) }, (_, i) => data.slice(i * 4, i * 4 + 4));
    rows.forEach((row, i) => {
      const tr = el("tr");
      tr.appendChild(el("th", "", String(Array.isArray(data[0]) ? i : i * 4)));
      row.forEach((v) => tr.appendChild(el("td", "", typeof v === "number" ? v.toFixed(3) : String(v))));
      table.appendChild(tr);
    });
    return table;
  }

  function render(data, b) {
    const out = [];
    if (kind === "text-generation") {
      const full = (Array.isArray(data) ? data[0] : data)?.generated_text ?? "";
      const prompt = b.inputs, gen = full.startsWith(prompt) ? full.slice(prompt.length) : full;
      const p = el("p", "generated");
      p.append(el("span", "prompt", full.startsWith(prompt) ? prompt : ""), el("strong", "new-text", gen));
      out.push(p);
      if (!gen) out.push(el("p", "muted", "No text was generated"));
    } else if (GENERATION.includes(kind)) {
      const x = Array.isArray(data) ? data[0] : data;
      out.push(el("p", "generated", x?.generated_text ?? x?.summary_text ?? x?.translation_text ?? ""));
    } else if (kind === "fill-mask") {
      out.push(bars(data.map((x) => ({ label: x.token_str ?? x.label, score: x.score }))));
    } else if (kind === "text-classification") {
      out.push(bars(Array.isArray(data[0]) ? data[0] : data));
    } else if (kind === "zero-shot-classification") {
      out.push(bars(Array.isArray(data) ? data : data.labels.map((l, i) => ({ label: l, score: data.scores[i] }))));
    } else if (kind === "image-classification") {
      out.push(bars(data));
    } else if (kind === "token-classification") {
      out.push(spans(b.inputs, data));
    } else if (kind === "sentence-similarity") {
      out.push(bars(data.map((s, i) => ({ label: b.inputs.sentences[i], score: s }))));
    } else if (kind === "feature-extraction") {
      out.push(numbers(data));
    } else if (kind === "question-answering") {
      const x = Array.isArray(data) ? data[0] : data;
      const p = el("p", "answer");
      p.append(el("strong", "", x.answer), el("span", "muted", ` ${Number(x.score).toFixed(3)}`));
      out.push(p);
    } else if (kind === "automatic-speech-recognition") {
      out.push(el("p", "transcription", data.text ?? ""));
    } else {
      out.push(el("pre", "", JSON.stringify(data, null, 2)));
    }
    output.replaceChildren(...out);
  }

  // ---- chat -------------------------------------------------------------------------------------------
  function bubble(role, text) {
    const li = el("li", `bubble ${role}`);
    li.append(el("span", "role", role === "user" ? "You" : "Model"), el("span", "content", text));
    form.querySelector(".chat-log").appendChild(li);
    return li.querySelector(".content");
  }

  async function runChat() {
    const text = field("text").value.trim();
    if (!text) { showError("Type a message first"); return; }
    chat.push({ role: "user", content: text });
    bubble("user", text);
    field("text").value = "";
    compute.disabled = true; output.replaceChildren(); status.textContent = "Computing…"; timeEl.textContent = "";
    const target = bubble("assistant", "");
    const started = performance.now();
    const params = { ...cardParams, ...exampleParams };
    const payload = { model: form.dataset.model, messages: chat, stream: true, max_tokens: params.max_new_tokens || 100 };
    for (const k of ["temperature", "top_p", "seed"]) if (params[k] !== undefined) payload[k] = params[k];
    try {
      const { res, data } = await call(payload, false, `${url}/v1/chat/completions`, true);
      if (!res.ok) {
        target.parentElement.remove(); chat.pop();
        showError(errorOf(data, res));
        return;
      }
      const events = [];
      const reader = res.body.getReader(), dec = new TextDecoder();
      let buf = "", reply = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const line = buf.slice(0, i).trim(); buf = buf.slice(i + 2);
          if (!line.startsWith("data:")) continue;
          const d = line.slice(5).trim();
          if (d === "[DONE]") continue;
          const ev = JSON.parse(d);
          events.push(ev);
          if (ev.error) throw new Error(ev.error);
          const delta = ev.choices?.[0]?.delta?.content;
          if (delta) { reply += delta; target.textContent = reply; }
        }
      }
      chat.push({ role: "assistant", content: reply });
      status.textContent = "";
      const t = res.headers.get("x-compute-time");
      // a stream's headers come before the work: without x-compute-time, say the time the browser saw
      timeEl.textContent = t ? `Computation time on cpu: ${Number(t).toFixed(3)} s`
        : `Answered in ${((performance.now() - started) / 1000).toFixed(3)} s (cpu)`;
      jsonEl.textContent = JSON.stringify(events, null, 2);
    } catch (e) {
      showError(`The request failed: ${e.message || e}`);
    } finally {
      compute.disabled = false;
    }
  }

  // ---- wiring -----------------------------------------------------------------------------------------
  form.addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); if (!compute.disabled) form.requestSubmit(); }
  });
  jsonToggle.addEventListener("change", () => { jsonEl.hidden = !jsonToggle.checked; output.hidden = jsonToggle.checked; });
})();
