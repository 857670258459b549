/* Document Q&A web page: chat with cited answers, and draft checking.
 * Plain ES2020, no dependencies, no network access beyond the service's own /v1/ API.
 */
"use strict";

(() => {
  const KEY_STORAGE = "qa_api_key";
  const CONVERSATION_STORAGE = "qa_conversation_id";
  const ABSTAIN_TEXT = "The documents do not answer this question.";

  const apiBaseMeta = document.querySelector('meta[name="qa-api-base"]');
  const API_BASE = ((apiBaseMeta && apiBaseMeta.content) || "").replace(/\/+$/, "");

  const $ = (id) => document.getElementById(id);
  const el = {
    messages: $("messages"),
    chatScroll: $("chat-scroll"),
    chatEmpty: $("chat-empty"),
    askForm: $("ask-form"),
    question: $("question"),
    ask: $("ask"),
    newConversation: $("new-conversation"),
    error: $("error"),
    modeChat: $("mode-chat"),
    modeCheck: $("mode-check"),
    chatPanel: $("chat-panel"),
    checkPanel: $("check-panel"),
    checkForm: $("check-form"),
    draft: $("draft"),
    check: $("check"),
    checkStatus: $("check-status"),
    claims: $("claims"),
    claimsSummary: $("claims-summary"),
    docPanel: $("document-panel"),
    docTitle: $("document-title"),
    docMeta: $("document-meta"),
    docExcerptInfo: $("document-excerpt-info"),
    docBody: $("document-body"),
    closeDoc: $("close-document"),
    keyDialog: $("key-dialog"),
    keyForm: $("key-form"),
    keyInput: $("api-key-input"),
    keyText: $("key-dialog-text"),
    keyCancel: $("key-cancel"),
    keyForget: $("key-forget"),
    apiKeyButton: $("api-key-button"),
    modeDocs: $("mode-docs"),
    docsPanel: $("docs-panel"),
    dropZone: $("drop-zone"),
    fileInput: $("file-input"),
    uploadStatus: $("upload-status"),
    uploadResults: $("upload-results"),
    docList: $("doc-list"),
    docEmpty: $("doc-empty"),
    scope: $("scope"),
  };

  /** The completed turns shown: [{role, content}, ...]. */
  let history = [];
  /** The server's conversation, kept across reloads. */
  let conversationId = localStorage.getItem(CONVERSATION_STORAGE) || null;
  /** doc_ids chosen to ask about; empty means all. */
  const chosenDocs = new Set();
  let busy = false;
  let currentAbort = null;
  let checkBusy = false;
  /** doc_id -> Promise<document> */
  const docCache = new Map();
  let docRequestToken = 0;
  let docReturnFocus = null;

  // ---------------------------------------------------------------------------
  // Small helpers

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k === "dataset") Object.assign(node.dataset, v);
        else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  const SURROGATE = /[\uD800-\uDFFF]/;

  /** UTF-16 index of the code point at code-point offset `cp` (clamped to the string). */
  function codePointToUtf16(text, cp) {
    if (cp <= 0) return 0;
    let i = 0;
    let count = 0;
    const n = text.length;
    while (i < n && count < cp) {
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        i += d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
      } else {
        i += 1;
      }
      count += 1;
    }
    return i;
  }

  /** Slice `text` by Python-style code-point offsets. Returns [utf16Start, utf16End]. */
  function codePointRange(text, start, end) {
    if (!SURROGATE.test(text)) {
      const s = Math.max(0, Math.min(start, text.length));
      const e = Math.max(s, Math.min(end, text.length));
      return [s, e];
    }
    const s = codePointToUtf16(text, start);
    const e = Math.max(s, codePointToUtf16(text, end));
    return [s, e];
  }

  function codePointSlice(text, start, end) {
    const [s, e] = codePointRange(text, start, end);
    return text.slice(s, e);
  }

  function formatScore(score) {
    const n = Number(score);
    return Number.isFinite(n) ? n.toFixed(2) : "–";
  }

  // ---------------------------------------------------------------------------
  // Error area

  function showError(message) {
    el.error.replaceChildren(
      h("span", { class: "error-icon", "aria-hidden": "true" }, "!"),
      h("span", { class: "error-text" }, message || "Something went wrong."),
      h("button", {
        type: "button",
        class: "error-dismiss",
        "aria-label": "Dismiss error",
        onclick: clearError,
      }, h("span", { "aria-hidden": "true" }, "✕")),
    );
    el.error.classList.add("visible");
  }

  function clearError() {
    el.error.replaceChildren();
    el.error.classList.remove("visible");
  }

  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.name = "ApiError";
      this.status = status;
      this.code = code;
    }
  }

  // ---------------------------------------------------------------------------
  // API key handling

  function getKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch (_) {
      return "";
    }
  }

  function setKey(key) {
    try {
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      /* storage unavailable: the key lives only for this request */
    }
    el.apiKeyButton.hidden = !getKey();
  }

  let keyPrompt = null; // shared Promise while the dialog is open

  /** Show the key dialog; resolves with the entered key, or null if cancelled. */
  function askForKey(message, { allowForget = false } = {}) {
    if (keyPrompt) return keyPrompt;
    keyPrompt = new Promise((resolve) => {
      const dlg = el.keyDialog;
      const returnFocus = document.activeElement;
      el.keyText.textContent = message;
      el.keyInput.value = "";
      el.keyForget.hidden = !allowForget;
      let result = null;

      const finish = () => {
        dlg.removeEventListener("close", onClose);
        el.keyForm.removeEventListener("submit", onSubmit);
        el.keyCancel.removeEventListener("click", onCancel);
        el.keyForget.removeEventListener("click", onForget);
        keyPrompt = null;
        if (returnFocus && typeof returnFocus.focus === "function" && document.contains(returnFocus)) {
          returnFocus.focus();
        }
        resolve(result);
      };
      const onClose = () => finish();
      const onSubmit = (ev) => {
        ev.preventDefault();
        const key = el.keyInput.value.trim();
        if (!key) {
          el.keyInput.focus();
          return;
        }
        result = key;
        dlg.close();
      };
      const onCancel = () => dlg.close();
      const onForget = () => {
        setKey("");
        result = null;
        dlg.close();
      };

      dlg.addEventListener("close", onClose);
      el.keyForm.addEventListener("submit", onSubmit);
      el.keyCancel.addEventListener("click", onCancel);
      el.keyForget.addEventListener("click", onForget);
      if (typeof dlg.showModal === "function") dlg.showModal();
      else dlg.setAttribute("open", "");
      el.keyInput.focus();
    });
    return keyPrompt;
  }

  // ---------------------------------------------------------------------------
  // HTTP

  async function errorFromResponse(res) {
    let message = "";
    let code;
    try {
      const body = await res.json();
      if (body && body.error) {
        message = body.error.message || "";
        code = body.error.code;
      } else if (body && typeof body.detail === "string") {
        message = body.detail;
      }
    } catch (_) {
      /* not JSON */
    }
    if (!message) message = `The server answered with an error (HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}).`;
    return new ApiError(message, res.status, code);
  }

  /**
   * fetch() for /v1/ routes: adds the API key, asks for a key on 401 and retries once,
   * turns HTTP errors and network failures into Errors with a readable message.
   */
  async function apiFetch(path, init = {}) {
    const doFetch = async () => {
      const headers = new Headers(init.headers || {});
      const key = getKey();
      if (key) headers.set("Authorization", `Bearer ${key}`);
      try {
        return await fetch(API_BASE + path, { ...init, headers });
      } catch (err) {
        if (err && err.name === "AbortError") throw err;
        throw new ApiError(
          "Could not reach the server. Check your connection and that the service is running, then try again.",
          0,
          "network_error",
        );
      }
    };

    let res = await doFetch();
    if (res.status === 401) {
      const hadKey = Boolean(getKey());
      const serverErr = await errorFromResponse(res);
      const key = await askForKey(
        hadKey
          ? "The saved API key was not accepted. Enter a valid key to continue."
          : "This service needs an API key. It is kept in this browser only.",
      );
      if (!key) {
        throw new ApiError(
          `An API key is required to use this service (${serverErr.message.replace(/\.$/, "")}).`,
          401,
          serverErr.code,
        );
      }
      setKey(key);
      res = await doFetch();
      if (res.status === 401) {
        const err = await errorFromResponse(res);
        setKey("");
        throw new ApiError(`The API key was not accepted: ${err.message}`, 401, err.code);
      }
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }

  async function apiJson(path, init) {
    const res = await apiFetch(path, init);
    try {
      return await res.json();
    } catch (_) {
      throw new ApiError("The server sent a response that could not be read.", res.status);
    }
  }

  // ---------------------------------------------------------------------------
  // Chat rendering

  function updateEmptyState() {
    el.chatEmpty.hidden = el.messages.children.length > 0;
  }

  function nearBottom() {
    const s = el.chatScroll;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function scrollToBottom() {
    el.chatScroll.scrollTop = el.chatScroll.scrollHeight;
  }

  function addUserMessage(text) {
    const li = h("li", { class: "message user" },
      h("span", { class: "visually-hidden" }, "You asked: "),
      h("div", { class: "message-body" }, text));
    el.messages.append(li);
    updateEmptyState();
    return li;
  }

  /** Render answer text with [n] markers turned into citation buttons. */
  function renderAnswerText(container, text, citations) {
    const byN = new Map((citations || []).map((c) => [Number(c.n), c]));
    const frag = document.createDocumentFragment();
    const re = /\[(\d+)\]/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      const n = Number(m[1]);
      const cit = byN.get(n);
      if (!cit) continue;
      if (m.index > last) frag.append(text.slice(last, m.index));
      frag.append(h("button", {
        type: "button",
        class: "cite-ref",
        "data-n": n,
        "aria-label": `Source ${n}: ${cit.doc_id}`,
        title: `${cit.doc_id}`,
      }, String(n)));
      last = m.index + m[0].length;
    }
    if (last < text.length) frag.append(text.slice(last));
    container.replaceChildren(frag);
  }

  function renderCitationList(citations) {
    const list = h("ol", { class: "citations", "aria-label": "Sources" });
    for (const c of citations) {
      list.append(h("li", null,
        h("button", {
          type: "button",
          class: "citation",
          "data-n": c.n,
          "aria-label": `Source ${c.n}: ${c.doc_id}. Open the document at this excerpt.`,
        },
        h("span", { class: "citation-n", "aria-hidden": "true" }, String(c.n)),
        h("span", { class: "citation-main" },
          h("span", { class: "citation-doc" }, c.doc_id),
          h("span", { class: "citation-text" }, c.text)),
        )));
    }
    return list;
  }

  /** Create an assistant message and return a controller to feed it. */
  function createAssistantMessage() {
    const li = h("li", { class: "message assistant", "aria-busy": "true" });
    const label = h("span", { class: "visually-hidden" }, "Answer: ");
    const notice = h("p", { class: "abstain-notice", hidden: true },
      h("span", { class: "abstain-icon", "aria-hidden": "true" }, "i"),
      h("span", null, ABSTAIN_TEXT));
    const body = h("div", { class: "message-body" });
    const typing = h("span", { class: "typing", "aria-hidden": "true" }, h("span"), h("span"), h("span"));
    const sources = h("div", { class: "sources" });
    li.append(label, notice, body, typing, sources);
    el.messages.append(li);
    updateEmptyState();

    const state = { text: "", citations: [], answered: null, gotMeta: false, renderQueued: false };

    const render = () => {
      state.renderQueued = false;
      const stick = nearBottom();
      renderAnswerText(body, state.text, state.citations);
      if (stick) scrollToBottom();
    };
    const queueRender = () => {
      if (state.renderQueued) return;
      state.renderQueued = true;
      requestAnimationFrame(render);
    };

    const controller = {
      li,
      state,
      setMeta(citations, answered) {
        if (state.gotMeta) return;
        state.gotMeta = true;
        state.citations = Array.isArray(citations) ? citations : [];
        if (answered === false) {
          state.answered = false;
          li.classList.add("abstained");
          notice.hidden = false;
        } else if (answered === true) {
          state.answered = true;
        }
        if (state.citations.length) {
          sources.replaceChildren(
            h("h3", { class: "sources-title" }, "Sources"),
            renderCitationList(state.citations),
          );
        }
        queueRender();
      },
      append(piece) {
        if (!piece) return;
        state.text += piece;
        typing.hidden = true;
        queueRender();
      },
      finish({ failed = false, message = "" } = {}) {
        typing.remove();
        renderAnswerText(body, state.text, state.citations);
        if (state.answered === false && state.text.trim() === ABSTAIN_TEXT) body.hidden = true;
        if (failed) {
          li.classList.add("failed");
          if (!state.text) body.hidden = true;
          li.append(h("p", { class: "message-error" }, message || "The answer could not be completed."));
        } else if (!state.text.trim() && state.answered !== false) {
          body.replaceChildren(h("em", null, "The service returned an empty answer."));
        }
        li.setAttribute("aria-busy", "false");
        li.dataset.done = "true";
        scrollToBottom();
      },
    };
    li._controller = controller; // used to look up citations for clicked buttons
    return controller;
  }

  function setBusy(value) {
    busy = value;
    el.ask.disabled = value;
    el.ask.textContent = value ? "Answering…" : "Ask";
    el.messages.setAttribute("aria-busy", value ? "true" : "false");
  }

  async function ask() {
    if (busy) return;
    const text = el.question.value.trim();
    if (!text) {
      el.question.focus();
      return;
    }
    clearError();
    el.question.value = "";
    autoGrow(el.question);

    addUserMessage(text);
    const msg = createAssistantMessage();
    scrollToBottom();
    setBusy(true);

    const abort = new AbortController();
    currentAbort = abort;
    try {
      // /v1/ask keeps the conversation on the server: its id (kept in localStorage) is all a
      // reload needs to show the turns again, and follow-ups are read in their light.
      const body = { question: text };
      if (conversationId) body.conversation_id = conversationId;
      if (chosenDocs.size) body.doc_ids = [...chosenDocs];
      const data = await apiJson("/v1/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: abort.signal,
      });
      if (currentAbort !== abort) return; // a new conversation was started meanwhile
      setConversation(data.conversation_id);
      msg.setMeta(data.citations, data.answered);
      msg.append(data.answer);
      msg.finish();
      history = [...history, { role: "user", content: text }, { role: "assistant", content: data.answer }];
    } catch (err) {
      if (err && err.name === "AbortError") {
        msg.finish({ failed: true, message: "Stopped." });
      } else {
        const message = (err && err.message) || "The answer could not be loaded.";
        msg.finish({ failed: true, message });
        showError(message);
        scrollToBottom(); // the error area took some height

        // Give the question back so it can be retried.
        if (!el.question.value.trim()) {
          el.question.value = text;
          autoGrow(el.question);
        }
      }
    } finally {
      if (currentAbort === abort) {
        currentAbort = null;
        setBusy(false);
      }
    }
  }

  function setConversation(id) {
    conversationId = id || null;
    if (conversationId) localStorage.setItem(CONVERSATION_STORAGE, conversationId);
    else localStorage.removeItem(CONVERSATION_STORAGE);
  }

  /** Show the stored conversation's turns again (after a reload). */
  async function restoreConversation() {
    if (!conversationId) return;
    let data;
    try {
      data = await apiJson(`/v1/conversations/${encodeURIComponent(conversationId)}`);
    } catch (err) {
      if (err && (err.status === 404 || err.status === 422)) setConversation(null);
      else showError((err && err.message) || "The conversation could not be loaded.");
      return;
    }
    for (const turn of data.turns) {
      addUserMessage(turn.question);
      const msg = createAssistantMessage();
      msg.setMeta(turn.citations, turn.answered);
      msg.append(turn.answer);
      msg.finish();
      history.push({ role: "user", content: turn.question }, { role: "assistant", content: turn.answer });
    }
  }

  // ---------------------------------------------------------------------------
  // Documents: upload (drop or choose several files), list, delete, choose what to ask about

  function updateScope() {
    const n = chosenDocs.size;
    el.scope.textContent = n
      ? `Asking about ${n} chosen document${n === 1 ? "" : "s"}`
      : "Asking about all documents";
    el.scope.dataset.count = String(n);
  }

  async function loadDocuments() {
    let data;
    try {
      data = await apiJson("/v1/documents");
    } catch (err) {
      showError((err && err.message) || "The documents could not be listed.");
      return;
    }
    const known = new Set(data.documents.map((d) => d.doc_id));
    for (const id of [...chosenDocs]) if (!known.has(id)) chosenDocs.delete(id);
    updateScope();
    el.docList.replaceChildren(...data.documents.map((d) => {
      const box = h("input", { type: "checkbox", class: "doc-choose", "aria-label": `Ask about ${d.doc_id}` });
      box.checked = chosenDocs.has(d.doc_id);
      box.addEventListener("change", () => {
        if (box.checked) chosenDocs.add(d.doc_id);
        else chosenDocs.delete(d.doc_id);
        updateScope();
      });
      const remove = h("button", { type: "button", class: "btn btn-ghost doc-delete", "aria-label": `Delete ${d.doc_id}` }, "Delete");
      remove.addEventListener("click", () => deleteDocument(d.doc_id, remove));
      return h("li", { class: "doc-item", "data-doc-id": d.doc_id },
        h("label", { class: "doc-label" }, box,
          h("span", { class: "doc-title" }, d.title || d.doc_id),
          h("span", { class: "doc-meta" }, ` ${d.doc_id} · ${d.chunks} chunks · ${d.chars.toLocaleString()} characters`)),
        remove);
    }));
    el.docEmpty.hidden = data.documents.length > 0;
  }

  async function deleteDocument(docId, button) {
    if (!window.confirm(`Delete ${docId}? It will not be cited again.`)) return;
    button.disabled = true;
    try {
      await apiJson(`/v1/documents/${encodeURIComponent(docId)}`, { method: "DELETE" });
      chosenDocs.delete(docId);
      docCache.delete(docId);
    } catch (err) {
      showError((err && err.message) || "The document could not be deleted.");
      button.disabled = false;
      return;
    }
    await loadDocuments();
  }

  async function uploadFiles(files) {
    if (!files.length) return;
    clearError();
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    el.uploadStatus.textContent = `Uploading ${files.length} file${files.length === 1 ? "" : "s"}…`;
    el.uploadResults.replaceChildren();
    let data;
    try {
      data = await apiJson("/v1/documents", { method: "POST", body: form });
    } catch (err) {
      el.uploadStatus.textContent = "";
      showError((err && err.message) || "The upload failed.");
      return;
    }
    el.uploadStatus.textContent = "";
    el.uploadResults.replaceChildren(...data.results.map((r) => {
      const failed = r.outcome === "error";
      const what = failed
        ? (r.error && r.error.message) || "could not be indexed"
        : `${r.outcome} as ${r.doc_id} (${r.chunks} chunk${r.chunks === 1 ? "" : "s"})`;
      for (const id of [r.doc_id]) if (id) docCache.delete(id);
      return h("li", { class: `upload-result ${failed ? "failed" : "ok"}`, "data-outcome": r.outcome },
        h("strong", null, r.file || r.doc_id || "file"), `: ${what}`);
    }));
    await loadDocuments();
  }

  function newConversation() {
    if (currentAbort) {
      currentAbort.abort();
      currentAbort = null;
    }
    setBusy(false);
    history = [];
    setConversation(null);
    el.messages.replaceChildren();
    updateEmptyState();
    clearError();
    closeDocument({ restoreFocus: false });
    el.question.value = "";
    autoGrow(el.question);
    selectMode("chat");
    el.question.focus();
  }

  function autoGrow(ta) {
    ta.style.height = "auto";
    const max = Math.round(window.innerHeight * 0.35);
    ta.style.height = Math.min(ta.scrollHeight + 2, max) + "px";
  }

  // ---------------------------------------------------------------------------
  // Document panel

  function loadDocument(docId) {
    let p = docCache.get(docId);
    if (!p) {
      p = apiJson(`/v1/documents/${encodeURIComponent(docId)}`);
      docCache.set(docId, p);
      p.catch(() => docCache.delete(docId));
    }
    return p;
  }

  /** Find [utf16Start, utf16End] of the excerpt in the document text, or null. */
  function locateExcerpt(text, cit) {
    const start = Number(cit.start);
    const end = Number(cit.end);
    if (Number.isFinite(start) && Number.isFinite(end) && end >= start) {
      const range = codePointRange(text, start, end);
      const slice = text.slice(range[0], range[1]);
      if (!cit.text || slice === cit.text) return range;
      // Offsets may have been computed on UTF-16 units; try them literally.
      if (text.slice(start, end) === cit.text) return [start, end];
    }
    if (cit.text) {
      const i = text.indexOf(cit.text);
      if (i !== -1) return [i, i + cit.text.length];
    }
    return null;
  }

  function isDocumentOpen() {
    return !el.docPanel.hidden;
  }

  async function openDocument(cit, invoker) {
    if (!cit || !cit.doc_id) return;
    const token = ++docRequestToken;
    if (!isDocumentOpen()) docReturnFocus = invoker || document.activeElement;
    else if (invoker) docReturnFocus = invoker;

    document.querySelectorAll(".is-active-source").forEach((b) => b.classList.remove("is-active-source"));
    if (invoker) invoker.classList.add("is-active-source");

    el.docPanel.hidden = false;
    document.body.classList.add("doc-open");
    el.docTitle.textContent = cit.doc_id;
    el.docMeta.textContent = "";
    el.docExcerptInfo.textContent = cit.n != null ? `Showing source ${cit.n}` : "Showing the cited excerpt";
    el.docBody.replaceChildren(h("p", { class: "doc-loading" }, "Loading document…"));
    el.docBody.setAttribute("aria-busy", "true");
    el.docTitle.focus({ preventScroll: true });

    let doc;
    try {
      doc = await loadDocument(cit.doc_id);
    } catch (err) {
      if (token !== docRequestToken) return;
      const message = (err && err.message) || "The document could not be loaded.";
      el.docBody.replaceChildren(h("p", { class: "doc-error" }, `Could not load ${cit.doc_id}: ${message}`));
      el.docBody.setAttribute("aria-busy", "false");
      showError(message);
      return;
    }
    if (token !== docRequestToken || !isDocumentOpen()) return;

    const text = typeof doc.text === "string" ? doc.text : "";
    const title = doc.title && doc.title !== doc.doc_id ? doc.title : (doc.doc_id || cit.doc_id);
    el.docTitle.textContent = title;
    const metaParts = [];
    if (doc.doc_id && doc.doc_id !== title) metaParts.push(doc.doc_id);
    if (Number.isFinite(Number(doc.chars))) metaParts.push(`${Number(doc.chars).toLocaleString()} characters`);
    el.docMeta.textContent = metaParts.join(" · ");

    const range = locateExcerpt(text, cit);
    if (range) {
      const mark = h("mark", { id: "highlight", tabindex: "-1" }, text.slice(range[0], range[1]));
      el.docBody.replaceChildren(text.slice(0, range[0]), mark, text.slice(range[1]));
      const where = cit.n != null ? `Source ${cit.n} is highlighted` : "The excerpt is highlighted";
      el.docExcerptInfo.textContent = `${where}${cit.score != null ? ` · relevance ${formatScore(cit.score)}` : ""}`;
      el.docBody.setAttribute("aria-busy", "false");
      // Wait one frame so layout is done (panel may just have become visible).
      requestAnimationFrame(() => {
        if (document.getElementById("highlight") === mark) scrollHighlightIntoView(mark);
      });
    } else {
      el.docBody.replaceChildren(text);
      el.docExcerptInfo.textContent = "The cited excerpt could not be located in this version of the document.";
      el.docBody.setAttribute("aria-busy", "false");
      el.docBody.scrollTop = 0;
    }
  }

  /** Scroll only the document body so the excerpt sits in its upper third. */
  function scrollHighlightIntoView(mark) {
    const body = el.docBody;
    const bodyRect = body.getBoundingClientRect();
    const markRect = mark.getBoundingClientRect();
    const room = body.clientHeight;
    const offset = markRect.height < room * 0.6 ? room * 0.3 : 16;
    body.scrollTop += markRect.top - bodyRect.top - offset;
  }

  function closeDocument({ restoreFocus = true } = {}) {
    if (!isDocumentOpen()) return;
    docRequestToken++;
    el.docPanel.hidden = true;
    document.body.classList.remove("doc-open");
    el.docBody.replaceChildren();
    document.querySelectorAll(".is-active-source").forEach((b) => b.classList.remove("is-active-source"));
    const target = docReturnFocus;
    docReturnFocus = null;
    if (restoreFocus && target && document.contains(target) && typeof target.focus === "function") {
      target.focus();
    }
  }

  /** Look up the citation object for a button inside a chat message or a claim. */
  function citationForButton(btn) {
    if (btn._citation) return btn._citation;
    const msg = btn.closest(".message.assistant");
    if (!msg || !msg._controller) return null;
    const n = Number(btn.dataset.n);
    return msg._controller.state.citations.find((c) => Number(c.n) === n) || null;
  }

  // ---------------------------------------------------------------------------
  // Check mode

  const VERDICTS = {
    supported: { label: "Supported", icon: "✓" },
    contradicted: { label: "Contradicted", icon: "✗" },
    not_found: { label: "Not found", icon: "?" },
  };

  function renderClaims(claims) {
    el.claims.replaceChildren();
    const counts = { supported: 0, contradicted: 0, not_found: 0 };
    claims.forEach((claim, idx) => {
      const verdict = Object.prototype.hasOwnProperty.call(VERDICTS, claim.verdict) ? claim.verdict : "not_found";
      counts[verdict] += 1;
      const v = VERDICTS[verdict];
      const evidence = Array.isArray(claim.evidence) ? claim.evidence : [];

      const li = h("li", { class: `claim claim-${verdict}`, "data-verdict": claim.verdict || verdict });
      const head = h("div", { class: "claim-head" },
        h("span", { class: `verdict verdict-${verdict}` },
          h("span", { class: "verdict-icon", "aria-hidden": "true" }, v.icon),
          h("span", { class: "verdict-label" }, v.label)),
        h("span", { class: "claim-score", title: "Confidence score" }, `score ${formatScore(claim.score)}`));
      li.append(head);
      if (claim.reason) li.append(h("p", { class: "claim-reason" }, claim.reason));
      li.append(h("p", { class: "claim-text" },
        h("span", { class: "visually-hidden" }, `Claim ${idx + 1}: `), claim.text || ""));

      if (evidence.length) {
        const list = h("ol", { class: "evidence-list", "aria-label": `Evidence for claim ${idx + 1}` });
        evidence.forEach((ev, j) => {
          const n = ev.n != null ? ev.n : j + 1;
          const btn = h("button", {
            type: "button",
            class: "evidence citation-like",
            "data-n": n,
            "aria-label": `Evidence ${n}: ${ev.doc_id}. Open the document at this excerpt.`,
          },
          h("span", { class: "citation-n", "aria-hidden": "true" }, String(n)),
          h("span", { class: "citation-main" },
            h("span", { class: "citation-doc" }, ev.doc_id,
              ev.score != null ? h("span", { class: "citation-score" }, ` · ${formatScore(ev.score)}`) : null),
            h("span", { class: "citation-text" }, ev.text || "")));
          btn._citation = { ...ev, n };
          list.append(h("li", null, btn));
        });
        li.append(h("h4", { class: "evidence-title" }, "Evidence"), list);
      } else {
        li.append(h("p", { class: "no-evidence" }, "No evidence passages were returned."));
      }
      el.claims.append(li);
    });

    if (!claims.length) {
      el.claimsSummary.textContent = "No checkable claims were found in this text.";
    } else {
      const parts = [];
      if (counts.supported) parts.push(`${counts.supported} supported`);
      if (counts.contradicted) parts.push(`${counts.contradicted} contradicted`);
      if (counts.not_found) parts.push(`${counts.not_found} not found`);
      el.claimsSummary.textContent =
        `${claims.length} claim${claims.length === 1 ? "" : "s"}: ${parts.join(", ")}.`;
    }
  }

  async function checkDraft() {
    if (checkBusy) return;
    const text = el.draft.value.trim();
    if (!text) {
      el.draft.focus();
      return;
    }
    clearError();
    checkBusy = true;
    el.check.disabled = true;
    el.check.textContent = "Checking…";
    el.checkStatus.textContent = "Checking claims…";
    el.claims.setAttribute("aria-busy", "true");
    try {
      const data = await apiJson("/v1/check", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text }),
      });
      renderClaims(Array.isArray(data && data.claims) ? data.claims : []);
      el.checkStatus.textContent = "";
    } catch (err) {
      const message = (err && err.message) || "The draft could not be checked.";
      el.checkStatus.textContent = "Check failed.";
      showError(message);
    } finally {
      checkBusy = false;
      el.check.disabled = false;
      el.check.textContent = "Check claims";
      el.claims.setAttribute("aria-busy", "false");
    }
  }

  // ---------------------------------------------------------------------------
  // Tabs

  const MODES = ["chat", "check", "docs"];

  function selectMode(mode, { focus = false } = {}) {
    const tabs = { chat: el.modeChat, check: el.modeCheck, docs: el.modeDocs };
    const panels = { chat: el.chatPanel, check: el.checkPanel, docs: el.docsPanel };
    for (const m of MODES) {
      tabs[m].setAttribute("aria-selected", String(m === mode));
      tabs[m].tabIndex = m === mode ? 0 : -1;
      panels[m].hidden = m !== mode;
    }
    el.newConversation.hidden = mode !== "chat";
    document.body.dataset.mode = mode;
    if (mode === "docs") loadDocuments();
    if (focus) tabs[mode].focus();
  }

  // ---------------------------------------------------------------------------
  // Wiring

  el.askForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ask();
  });

  el.question.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey) {
      ev.preventDefault();
      ask();
    }
  });
  el.question.addEventListener("input", () => autoGrow(el.question));

  el.newConversation.addEventListener("click", newConversation);

  el.checkForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    checkDraft();
  });
  el.draft.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      checkDraft();
    }
  });

  el.modeChat.addEventListener("click", () => selectMode("chat"));
  el.modeCheck.addEventListener("click", () => selectMode("check"));
  el.modeDocs.addEventListener("click", () => selectMode("docs"));
  for (const tab of [el.modeChat, el.modeCheck, el.modeDocs]) {
    tab.addEventListener("keydown", (ev) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) {
        ev.preventDefault();
        const current = MODES.indexOf(document.body.dataset.mode || "chat");
        let next;
        if (ev.key === "Home") next = 0;
        else if (ev.key === "End") next = MODES.length - 1;
        else next = (current + (ev.key === "ArrowRight" ? 1 : MODES.length - 1)) % MODES.length;
        selectMode(MODES[next], { focus: true });
      }
    });
  }

  el.fileInput.addEventListener("change", () => {
    uploadFiles([...el.fileInput.files]);
    el.fileInput.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    el.dropZone.addEventListener(type, (ev) => {
      ev.preventDefault();
      el.dropZone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    el.dropZone.addEventListener(type, () => el.dropZone.classList.remove("dragging"));
  }
  el.dropZone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    uploadFiles([...((ev.dataTransfer && ev.dataTransfer.files) || [])]);
  });

  // Citation buttons (answer markers, source list, claim evidence) — one delegated handler.
  // <button> elements already turn Enter/Space into click events.
  document.addEventListener("click", (ev) => {
    const btn = ev.target.closest && ev.target.closest(".cite-ref[data-n], .citation[data-n], .evidence[data-n]");
    if (!btn || btn.classList.contains("cite-ref-demo")) return;
    const cit = citationForButton(btn);
    if (cit) openDocument(cit, btn);
  });

  el.closeDoc.addEventListener("click", () => closeDocument());

  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" || ev.defaultPrevented) return;
    if (el.keyDialog.open) return; // the dialog handles its own Escape
    if (isDocumentOpen()) {
      ev.preventDefault();
      closeDocument();
    }
  });

  el.apiKeyButton.addEventListener("click", async () => {
    const key = await askForKey("Replace the saved API key, or forget it.", { allowForget: true });
    if (key) setKey(key);
  });

  setKey(getKey()); // sync the API key button
  selectMode("chat");
  updateEmptyState();
  updateScope();
  autoGrow(el.question);
  restoreConversation();

  // Exposed for debugging and tests.
  window.qaPage = {
    codePointSlice,
    codePointRange,
    history: () => history.slice(),
    conversationId: () => conversationId,
    chosenDocs: () => [...chosenDocs],
  };
})();
