// okno operator UI: fragments swapped in place, the live stream, shortcuts. No build step.
"use strict";

// strings from the page (a JSON block, not an inline script: the CSP allows no inline script)
const pageData = (id) => { try { return JSON.parse(document.getElementById(id)?.textContent || "{}"); } catch (e) { return {}; } };
const T = pageData("okno-i18n");
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

async function call(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Okno-Client": "web" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  if (response.status === 204) return null; // no content (a FastAPI 204 may still say it is JSON)
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error = refusal(response.status, problem(data) || T.error || "error");
    if (data && typeof data.path === "string") error.path = data.path; // the field a translated refusal is about
    throw error;
  }
  return data;
}

// an Error that keeps the HTTP status and the server's reason as it was given
function refusal(status, reason, message = reason) {
  const error = new Error(message);
  error.status = status;
  error.reason = reason;
  return error;
}

// What a refused request says: okno's own errors carry one sentence in ``detail``; a body that
// failed the schema carries FastAPI's list of {loc, msg}, shown as "field: reason" lines.
function problem(data) {
  // a refusal okno words in both languages is shown in the page's
  const lang = (document.documentElement.lang || "en").slice(0, 2);
  if (data && data.detail_i18n && data.detail_i18n[lang]) return data.detail_i18n[lang];
  const detail = data && data.detail;
  if (!Array.isArray(detail)) return detail;
  return detail.map((d) => {
    const where = (d.loc || []).filter((part) => part !== "body").join(".");
    return where ? `${where}: ${d.msg}` : d.msg;
  }).join("\n");
}

async function fragment(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { "X-Okno-Client": "web" } });
  if (response.status === 401) { location.href = "/login"; return null; }
  if (!response.ok) throw refusal(response.status, `${response.status}`);
  return response.text();
}

function toast(text, isError = false) {
  const el = $("#toast");
  if (!el) return;
  el.textContent = text;
  el.className = "toast" + (isError ? " error" : "");
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 3500);
}

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// Runs ``fn`` ``wait`` ms after a call, and at most once per ``every`` ms: calls while a run is
// pending join it (it reads the state when it runs), a call after it schedules the next one.
function spaced(fn, wait, every) {
  let timer = 0;
  let last = -Infinity;
  return () => {
    if (timer) return;
    const at = Math.max(Date.now() + wait, last + every);
    timer = setTimeout(() => { timer = 0; last = Date.now(); fn(); }, at - Date.now());
  };
}

// ---- login / header ---------------------------------------------------------------------------

function initLogin() {
  const form = $("#login-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/ui/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: form.email.value, password: form.password.value }),
    });
    if (response.ok) { location.href = (await response.json()).next; return; }
    $("#login-error").hidden = response.status === 429;
    $("#login-throttled").hidden = response.status !== 429;
    form.password.select();
  });
}

function initHeader() {
  $("#logout")?.addEventListener("click", async () => {
    const result = await call("POST", "/ui/logout");
    location.href = result.next;
  });
  $("#presence")?.addEventListener("change", async (event) => {
    try { await call("POST", "/api/v1/operators/me/presence", { status: event.target.value }); }
    catch (e) { toast(e.message, true); }
  });
  $("#language")?.addEventListener("change", async (event) => {
    await call("POST", "/ui/preferences/language", { locale: event.target.value });
    location.reload();
  });
}

// ---- inbox ----------------------------------------------------------------------------------

const state = { params: new URLSearchParams(location.search), seen: new Set(), lastId: 0 };

function listQuery() {
  const p = new URLSearchParams();
  for (const key of ["queue", "channel", "status", "priority", "vip", "q", "sort", ...FILTER_KEYS]) {
    const value = state.params.get(key);
    if (value) p.set(key, value);
  }
  return p;
}

function pushUrl() {
  const p = listQuery();
  const open = openConversationId();
  if (open) p.set("c", open);
  history.replaceState(null, "", "/inbox" + (p.toString() ? "?" + p : ""));
}

let listSeq = 0;
let listApplied = 0;
// While the pointer moves over the list, live updates wait until it rests (1.5 s): rows must not
// move under the operator's cursor just as they click one.
const listHold = { hovered: false, pending: false, moved: 0 };
const HOLD_MS = 1500;

async function refreshList({ force = false } = {}) {
  const list = $("#inbox-list");
  if (!list) return;
  if (listHold.hovered && !force && Date.now() - listHold.moved < HOLD_MS) { listHold.pending = true; return; }
  listHold.pending = false;
  const seq = ++listSeq;
  const html = await fragment("/ui/inbox/list?" + listRefreshQuery());
  if (html === null || seq < listApplied) return;
  if (listHold.hovered && !force && Date.now() - listHold.moved < HOLD_MS) { listHold.pending = true; return; } // the pointer arrived meanwhile
  listApplied = seq;
  reconcileList(list, html);
  markActiveRow();
  for (const [id, at] of liveRows.applied) {
    if (at > seq) liveRow(id); // a row drawn after this list was asked for: newer than the list's copy
    else liveRows.applied.delete(id);
  }
}

// Rows are keyed by conversation: an unchanged row keeps its element, so a live update under
// heavy traffic never swaps the row the operator is clicking for a copy.
function reconcileList(list, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const oldRows = new Map($$("li > a.row", list).map((a) => [a.dataset.conversation, a.parentElement]));
  const freshList = template.content.querySelector("ul.rows");
  const currentList = $("ul.rows", list);
  if (!freshList || !currentList) { list.innerHTML = html; return; }
  const wanted = $$(":scope > li", freshList).map((li) => {
    const key = li.querySelector("a.row")?.dataset.conversation;
    const old = oldRows.get(key);
    if (old && old.querySelector("a.row").className.replace(" active", "") === li.querySelector("a.row").className && old.innerHTML.replace(/ active/g, "") === li.innerHTML) return old;
    return li;
  });
  wanted.forEach((li, index) => {
    if (currentList.children[index] !== li) currentList.insertBefore(li, currentList.children[index] || null);
  });
  while (currentList.children.length > wanted.length) currentList.lastElementChild.remove();
  const empty = template.content.querySelector("[data-testid=inbox-empty]");
  $("[data-testid=inbox-empty]", list)?.remove();
  if (empty) list.prepend(empty);
  syncListChrome(list, template.content);
}

// ---- live rows: a change to one conversation redraws its row only ------------------------------

// The stream names the conversation that changed; its row is read alone (/ui/inbox/rows/{id}
// with the list's filter, its "load more" cursor and how many rows are shown) and the server
// says where it goes: after which row, or out of the list (filtered out, or past the loaded rows
// where "load more" brings it), with the list's new total. What the page can't place (the row
// before it is not on the page, many rows at once, an empty list) is left to one list read for
// all of them (liveList, debounced).
const ROW_DEBOUNCE_MS = 100;
const ROW_BURST = 10; // more rows than this within one debounce: one list read instead
const liveRows = { ids: new Set(), timer: 0, busy: false, applied: new Map() }; // applied: id -> the request's listSeq

function listHeld() { return listHold.hovered && Date.now() - listHold.moved < HOLD_MS; }
function rowItem(id, root = document) { return $(`#inbox-list ul.rows > li > a.row[data-conversation="${id}"]`, root)?.parentElement || null; }

// The rows an event changes: its conversation's, or the rows of its customer (a new customer has
// none yet: his conversation's own event brings the row). null: the whole list (a merge, an
// erasure, an import or an event about neither moves rows between customers or many at once).
function changedRows(event) {
  if (event.conversation_id) return [String(event.conversation_id)];
  if (event.customer_id && !/merged|erased|imported/.test(event.topic || "")) {
    return $$(`#inbox-list a.row[data-customer="${Number(event.customer_id)}"]`).map((a) => a.dataset.conversation);
  }
  return null;
}

function liveRow(id) {
  liveRows.ids.add(String(id));
  if (!liveRows.timer) liveRows.timer = setTimeout(flushRows, ROW_DEBOUNCE_MS);
}

// one row after another: each answer's total and row count ("5 of 12") build on the last one
async function flushRows() {
  liveRows.timer = 0;
  if (liveRows.busy) { liveRows.timer = setTimeout(flushRows, ROW_DEBOUNCE_MS); return; }
  const ids = [...liveRows.ids];
  liveRows.ids.clear();
  if (!$("#inbox-list") || !ids.length) return;
  if (listHeld()) { listHold.pending = true; return; } // the pointer rests on the list: it is read when it moves away
  if (ids.length > ROW_BURST) { liveList(); return; }
  liveRows.busy = true;
  try { for (const id of ids) await quietly(updateRow(id)); } finally { liveRows.busy = false; }
}

async function updateRow(id) {
  const list = $("#inbox-list");
  const p = listQuery();
  const more = $("[data-load-more]", list);
  if (more) p.set("until", more.dataset.loadMore);
  p.set("shown", String($$("ul.rows > li", list).length));
  if (rowItem(id)) p.set("present", "1");
  const seq = ++listSeq;
  let html;
  try { html = await fragment(`/ui/inbox/rows/${id}?` + p); } catch (error) {
    if (error.status === 404 && rowItem(id)) liveList(); // no longer ours to see: the list without it
    return;
  }
  if (html === null || seq < listApplied || (liveRows.applied.get(id) || 0) > seq) return; // a newer list or row is shown
  if (listHeld()) { listHold.pending = true; return; }
  const template = document.createElement("template");
  template.innerHTML = html;
  const place = template.content.querySelector("[data-row-place]");
  const rows = $("ul.rows", list);
  if (!place || !rows) { liveList(); return; }
  const old = rowItem(id);
  const fresh = $("ul.rows > li", place);
  if (!fresh) old?.remove(); // filtered out, or past the loaded rows
  else {
    const before = place.dataset.after ? rowItem(place.dataset.after) : null;
    if (place.dataset.after && !before) { liveList(); return; } // its neighbour is not on the page: the list decides
    const item = old ? patchRow(old, fresh) : fresh;
    const next = before ? before.nextElementSibling : rows.firstElementChild;
    if (next !== item) {
      const focused = item.contains(document.activeElement) ? document.activeElement : null;
      rows.insertBefore(item, next);
      focused?.focus({ preventScroll: true }); // moving the row must not take the keyboard away
    }
  }
  liveRows.applied.set(id, seq);
  const total = $(".list-total", place);
  $(".list-total", list)?.replaceWith(total);
  const shown = rows.children.length;
  if (!shown || String(shown) !== total.dataset.shown) { liveList(); return; } // empty now, or rows changed meanwhile
  $("[data-testid=inbox-empty]", list)?.remove();
  markActiveRow();
}

// A changed row is patched in place, not swapped: its checkbox keeps the bulk selection, its
// link keeps the keyboard focus and the pointer.
function patchRow(old, fresh) {
  const link = $("a.row", old);
  const next = $("a.row", fresh);
  if (!link || !next) { old.replaceWith(fresh); return fresh; }
  const active = link.classList.contains("active");
  for (const attr of [...link.attributes]) if (!next.hasAttribute(attr.name)) link.removeAttribute(attr.name);
  for (const attr of [...next.attributes]) if (link.getAttribute(attr.name) !== attr.value) link.setAttribute(attr.name, attr.value);
  link.classList.toggle("active", active);
  if (link.innerHTML !== next.innerHTML) link.innerHTML = next.innerHTML;
  const box = $(".row-select", old);
  const label = $(".row-select", fresh)?.getAttribute("aria-label");
  if (box && label) box.setAttribute("aria-label", label);
  return old;
}

// ---- paging: "load more" keeps what is shown; a live refresh re-reads as many rows ------------

function listRefreshQuery() {
  const p = listQuery();
  const shown = $$("#inbox-list ul.rows > li").length;
  if (shown > 50) p.set("limit", String(shown));
  return p;
}

// the total ("100 of 105") and the "load more" button come from the newest fragment
function syncListChrome(list, fresh) {
  for (const selector of [".list-total", ".list-more"]) {
    const next = fresh.querySelector(selector);
    const current = $(selector, list);
    if (next && current) current.replaceWith(next);
    else if (next && selector === ".list-total") list.prepend(next);
    else if (next) list.appendChild(next);
    else current?.remove();
  }
}

async function loadMore(button) {
  const list = $("#inbox-list");
  const p = listQuery();
  p.set("after", button.dataset.loadMore);
  p.set("shown", String($$("ul.rows > li", list).length));
  button.disabled = true;
  const seq = ++listSeq; // a refresh started before this answer is older than it
  let html;
  try { html = await fragment("/ui/inbox/list?" + p); } catch (error) { button.disabled = false; toast(error.message, true); return; }
  if (html === null || seq < listApplied) return;
  listApplied = seq;
  const template = document.createElement("template");
  template.innerHTML = html;
  const rows = $("ul.rows", list);
  const have = new Set($$("a.row", rows).map((a) => a.dataset.conversation));
  const added = $$("ul.rows > li", template.content).filter((li) => !have.has(li.querySelector("a.row")?.dataset.conversation));
  added.forEach((li) => rows.appendChild(li));
  syncListChrome(list, template.content);
  markActiveRow();
  if (document.activeElement === button || !document.activeElement || document.activeElement === document.body) {
    $("a.row", added[0])?.focus(); // the keyboard goes on where the new rows begin
  }
}

function initListPaging() {
  $("#inbox-list")?.addEventListener("click", (event) => {
    const more = event.target.closest("[data-load-more]");
    if (more) { event.preventDefault(); loadMore(more); }
  });
  $("#inbox")?.addEventListener("click", (event) => {
    const more = event.target.closest("[data-history-more]");
    if (more) { event.preventDefault(); loadMoreHistory(more); }
  });
}

// the profile's conversation list: the next page goes below the ones shown
async function loadMoreHistory(button) {
  const box = button.closest(".history-list");
  button.disabled = true;
  let html;
  try { html = await fragment(`/ui/customers/${box.dataset.customer}/conversations?before=${button.dataset.historyMore}`); }
  catch (error) { button.disabled = false; toast(error.message, true); return; }
  if (html === null) return;
  const template = document.createElement("template");
  template.innerHTML = html;
  const list = $("ul.history", box);
  const added = $$("ul.history > li", template.content);
  added.forEach((li) => list.appendChild(li));
  const next = template.content.querySelector("[data-history-more]");
  if (next) button.replaceWith(next); else button.remove();
  $("a", added[0])?.focus();
}

async function refreshCounts() {
  if (!$("#inbox")) return;
  const counts = await call("GET", "/ui/inbox/counts");
  for (const [key, value] of Object.entries(counts)) {
    const el = $(`#count-${key}`);
    if (el) el.textContent = value;
  }
}

function openConversationId() {
  return $("#conversation [data-conversation-id]")?.dataset.conversationId || null;
}

function markActiveRow() {
  const open = openConversationId();
  $$("#inbox-list .row").forEach((row) => row.classList.toggle("active", row.dataset.conversation === open));
  showPane();
  syncSelection();
}

// On a phone one pane shows at a time (app.css): the list, or the open conversation with the
// profile below it. "← Conversations" goes back to the list; opening a conversation leaves it.
let showingList = false;
function showPane() {
  $("#inbox")?.classList.toggle("showing-conversation", Boolean(openConversationId()) && !showingList);
}
document.addEventListener("click", (event) => {
  if (!event.target.closest("#pane-back")) return;
  showingList = true;
  showPane();
  $("#inbox-list .row.active")?.focus();
});

let openRequest = 0; // the latest conversation the operator asked for; older answers are dropped
let fetchSeq = 0; // every fragment fetch, in the order they were started
let appliedSeq = 0; // the newest one shown: an answer that overtook it would show an older state

function showGone(pane) {
  const gone = document.createElement("div");
  gone.className = "empty";
  gone.dataset.testid = "conversation-missing";
  gone.textContent = pane.dataset.gone || "";
  pane.replaceChildren(gone);
}

async function openConversation(id, { keepComposer = false } = {}) {
  const pane = $("#conversation");
  if (!pane) { location.href = `/inbox?c=${id}`; return; }
  // opening the conversation that is already open (a click on its row) only refreshes it: a
  // half-typed reply and the chosen channel are the operator's, not the page's
  const reopening = openConversationId() === String(id);
  const request = keepComposer ? openRequest : ++openRequest;
  const seq = ++fetchSeq;
  let html;
  try {
    html = await fragment(`/ui/conversations/${id}`);
  } catch (error) {
    if (error.message !== "404" || request !== openRequest) throw error;
    showGone(pane); // handed to a team the operator is not in (or gone): out of his sight now
    return;
  }
  if (html === null || request !== openRequest || seq < appliedSeq) return; // superseded meanwhile
  appliedSeq = seq;
  if (!keepComposer) showingList = false;
  if (keepComposer || reopening) {
    if (openConversationId() !== String(id)) return; // a refresh of a conversation no longer open
    patchConversation(pane, html);
  } else {
    pane.innerHTML = html;
    rememberSections(pane);
    composer.reset();
    const timeline = $(".timeline", pane);
    if (timeline) timeline.scrollTop = timeline.scrollHeight;
  }
  markActiveRow();
  pushUrl();
  announcePresence(false);
  markRead(String(id));
}

// A selector that finds the same control in a re-rendered pane (its test id, id or menu value).
function controlKey(element) {
  if (element.dataset?.testid) return `[data-testid="${CSS.escape(element.dataset.testid)}"]`;
  if (element.id) return `#${CSS.escape(element.id)}`;
  const menu = element.closest("[data-menu]");
  if (menu && element.dataset?.menuValue !== undefined) {
    return `[data-menu="${CSS.escape(menu.dataset.menu)}"] [data-menu-value="${CSS.escape(element.dataset.menuValue)}"]`;
  }
  return null;
}

// The parts of the pane a live refresh may redraw, and for each drawn section element the server
// HTML it was drawn from: a refresh leaves a section whose HTML is the same as it was (an open menu,
// the item under the operator's pointer, stay the very same nodes) and replaces one that changed.
const SECTIONS = [".conv-head", ".timeline", ".profile", ".review-panel"];
// what reads differently as time passes alone ("SLA due in 5 min"), marked data-ticks in the
// template: left out of the comparison and patched in place
const TICKING = "[data-ticks]";
const drawnFrom = new WeakMap();

function sectionHtml(section) {
  if (!$(TICKING, section)) return section.outerHTML;
  const copy = section.cloneNode(true);
  $$(TICKING, copy).forEach((part) => part.replaceWith(document.createComment("ticking")));
  return copy.outerHTML;
}

function rememberSections(root) {
  for (const selector of SECTIONS) {
    const section = $(selector, root);
    if (section) drawnFrom.set(section, sectionHtml(section));
  }
}

function patchSection(old, next) {
  const html = sectionHtml(next);
  if (drawnFrom.get(old) !== html) {
    drawnFrom.set(next, html);
    old.replaceWith(next);
    return;
  }
  const ticks = $$(TICKING, next);
  $$(TICKING, old).forEach((part, i) => part.replaceWith(ticks[i]));
}

// A live refresh of the open conversation replaces what changed around the composer, never the
// composer itself: the operator's half-typed reply, focus and cursor stay where they were.
function patchConversation(pane, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const fresh = template.content.querySelector("[data-conversation-id]");
  const current = $("[data-conversation-id]", pane);
  const timeline = $(".timeline", current);
  const atBottom = timeline && timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 40;
  const keptReason = $("#close-reason", current)?.value;
  const tagDraft = $("#tag-input", current);
  const tagState = tagDraft && { value: tagDraft.value, focused: document.activeElement === tagDraft };
  // an action menu the operator opened, and the control he is on, stay open and focused: a live
  // refresh landing between "Transfer…" and the choice must not close the menu under his pointer
  const openMenuName = $("[data-menu] [role=menu]:not([hidden])", current)?.closest("[data-menu]")?.dataset.menu;
  const focused = current.contains(document.activeElement) ? controlKey(document.activeElement) : null;
  for (const selector of SECTIONS) {
    const next = $(selector, fresh);
    const old = $(selector, current);
    if (next && old) patchSection(old, next);
  }
  const menu = openMenuName && $(`[data-menu="${CSS.escape(openMenuName)}"]`, current);
  if (menu) {
    $("[role=menu]", menu).hidden = false;
    $(".menu-button", menu).setAttribute("aria-expanded", "true");
  }
  if (focused && !current.contains(document.activeElement)) $(focused, current)?.focus();
  const tagInput = $("#tag-input", current);
  if (tagInput && tagState) { tagInput.value = tagState.value; if (tagState.focused) tagInput.focus(); } // a half-typed tag stays
  const reason = $("#close-reason", current);
  if (reason && keptReason && $(`option[value="${keptReason}"]`, reason)) reason.value = keptReason;
  const channel = $("#reply-channel", current);
  const freshChannel = $("#reply-channel", fresh);
  if (channel && freshChannel) {
    const chosen = channel.value;
    channel.innerHTML = freshChannel.innerHTML;
    if ($(`option[value="${chosen}"]:not([disabled])`, channel)) channel.value = chosen;
  }
  const newTimeline = $(".timeline", current);
  if (newTimeline && atBottom) newTimeline.scrollTop = newTimeline.scrollHeight;
}

function initInbox() {
  const inbox = $("#inbox");
  if (!inbox) return;
  rememberSections($("#conversation") || inbox); // a conversation the page came with (/inbox?c=…)
  inbox.addEventListener("click", (event) => {
    const queue = event.target.closest("a.queue");
    if (queue) {
      event.preventDefault();
      state.params = new URLSearchParams(queue.dataset.view || "");  // a saved view brings its whole filter
      for (const key of ["queue", "channel", "status", "priority", "vip"]) {
        if (queue.dataset[key]) state.params.set(key, queue.dataset[key]);
      }
      const q = $("#search").value.trim();
      if (q && !queue.dataset.view) state.params.set("q", q);
      if (!state.params.get("sort")) state.params.set("sort", $("#sort").value);
      syncFilterForm();
      $$("a.queue").forEach((a) => a.classList.toggle("active", a === queue));
      pushUrl();
      refreshList({ force: true });
      return;
    }
    const link = event.target.closest("a[data-conversation]");
    if (link) {
      event.preventDefault();
      openConversation(link.dataset.conversation);
    }
  });
  const list = $("#inbox-list");
  list.addEventListener("pointermove", () => { listHold.hovered = true; listHold.moved = Date.now(); });
  list.addEventListener("pointerdown", () => { listHold.moved = Date.now(); });
  list.addEventListener("pointerleave", () => { listHold.hovered = false; if (listHold.pending) quietly(refreshList()); });
  setInterval(() => { if (listHold.pending && Date.now() - listHold.moved >= HOLD_MS) quietly(refreshList()); }, 500);
  const search = $("#search");
  const onSearch = debounce(() => {
    if (search.value.trim()) state.params.set("q", search.value.trim()); else state.params.delete("q");
    pushUrl();
    refreshList({ force: true });
  }, 250);
  search.addEventListener("input", onSearch);
  $("#list-tools").addEventListener("submit", (event) => { event.preventDefault(); onSearch(); });
  $("#sort").addEventListener("change", (event) => { state.params.set("sort", event.target.value); pushUrl(); refreshList({ force: true }); });
  initConversationActions(inbox);
  initListPaging();
  initCanned(inbox);
  initChoices(inbox);
}

// ---- conversation actions -------------------------------------------------------------------

async function act(path, body, id = openConversationId()) {
  if (!id) return false;
  try {
    await call("POST", `/api/v1/conversations/${id}/${path}`, body);
    if (openConversationId() === String(id)) await openConversation(id, { keepComposer: true });
    refreshList({ force: true });
    refreshCounts();
    return true;
  } catch (error) {
    toast(error.message, true);
    return false;
  }
}


function initConversationActions(root) {
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const me = Number($("#inbox").dataset.me);
    if (button.dataset.action === "assign-me") act("assign", { operator_id: me });
    if (button.dataset.action === "status" && button.dataset.status === "resolved") resolveWithUndo();
    else if (button.dataset.action === "status") act("status", { status: button.dataset.status });
    if (button.dataset.action === "escalate") escalate();
    // a review site without replies: answered in its cabinet, resolved with the reason that says so
    if (button.dataset.action === "mark-answered") act("status", { status: "resolved", reason: "answered_at_provider" });
    if (button.dataset.action === "unsnooze") act("unsnooze", {});
    if (button.dataset.action === "merge") mergeCustomer(button);
    if (button.dataset.action === "not-same") notSamePerson(button);
    if (button.dataset.action === "undo-merge") undoMerge(button.dataset.merge);
    if (button.dataset.action === "call") callCustomer(button);
    if (button.dataset.action === "delete-review-reply") deleteReviewReply();
    if (button.dataset.action === "erase-customer") eraseCustomer(button.dataset.customer);
  });
  initActionMenus(root);
  root.addEventListener("change", (event) => {
    if (event.target.id === "reply-files") { composer.add(event.target.files); event.target.value = ""; }
    if (event.target.id === "reply-channel") { composer.syncChannel(); smsSegments.show(); }
    if (event.target.id === "reply-template") composer.renderTemplate();
  });
  root.addEventListener("input", (event) => { if (event.target.closest("#template-params")) composer.preview(); });
  root.addEventListener("input", (event) => { if (event.target.id === "reply-text") smsSegments.show(); });
  smsSegments.show();
  root.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove-file]");
    if (remove) { event.preventDefault(); composer.remove(Number(remove.dataset.removeFile)); }
  });
  root.addEventListener("dragover", (event) => { if (event.target.closest("#composer")) { event.preventDefault(); $("#composer").classList.add("dropping"); } });
  root.addEventListener("dragleave", (event) => { if (event.target.closest("#composer")) $("#composer").classList.remove("dropping"); });
  root.addEventListener("drop", (event) => {
    if (!event.target.closest("#composer")) return;
    event.preventDefault();
    $("#composer").classList.remove("dropping");
    composer.add(event.dataTransfer.files);
  });
  root.addEventListener("submit", async (event) => {
    if (event.target.id !== "composer") return;
    event.preventDefault();
    await sendReply();
  });
  root.addEventListener("input", debounce((event) => {
    if (event.target.id === "reply-text") announcePresence(true);
  }, 400));
}

async function profileChange(method, url, body) {
  const id = openConversationId();
  try {
    await call(method, url, body);
    if (id) await openConversation(id, { keepComposer: true });
    refreshList({ force: true });
  } catch (error) {
    toast(error.message, true);
  }
}

// The reason for a merge, a "not the same person" or an undo, asked in the page's own dialog:
// resolves to the text, or null when the operator cancels (a reason is required to confirm).
function askReason(title) {
  const dialog = $("#reason-dialog");
  if (!dialog) return Promise.resolve(null);
  $("#reason-dialog-title").textContent = title;
  const text = $("#reason-dialog-text");
  text.value = "";
  return new Promise((resolve) => {
    const ok = $("[data-testid=reason-dialog-ok]", dialog);
    const guard = (event) => { if (!text.value.trim()) { event.preventDefault(); text.focus(); } };
    ok.addEventListener("click", guard);
    dialog.addEventListener("close", () => {
      ok.removeEventListener("click", guard);
      resolve(dialog.returnValue === "ok" && text.value.trim() ? text.value.trim() : null);
    }, { once: true });
    dialog.showModal();
    text.focus();
  });
}

async function mergeCustomer(button) {
  const customer = $("#conversation [data-customer-id]")?.dataset.customerId;
  const reason = await askReason(button.dataset.title || T.merge_reason);
  if (!customer || !reason) return;
  profileChange("POST", `/api/v1/customers/${customer}/merge`, { other_customer_id: Number(button.dataset.other), reason });
}

async function notSamePerson(button) {
  const customer = $("#conversation [data-customer-id]")?.dataset.customerId;
  const reason = await askReason(button.dataset.title);
  if (!customer || !reason) return;
  profileChange("POST", `/api/v1/customers/${customer}/not-same-person`, { other_customer_id: Number(button.dataset.other), reason });
}

async function undoMerge(mergeId) {
  const reason = await askReason(T.undo_reason || "Why undo this merge?");
  if (reason === null) return;
  profileChange("POST", `/api/v1/merges/${mergeId}/undo`, { reason });
}

async function sendReply() {
  const id = openConversationId();
  const text = $("#reply-text");
  let template, offered;
  try { template = composer.template(); } catch { return; } // a parameter left empty: the toast says so
  try { offered = template ? null : choices.value(); } catch { return; } // choices not ready: the editor says why
  if (!id || (!text.value.trim() && !composer.files.length && !template && !offered)) return;
  const internal = $("#as-note").checked;
  const channel = $("#reply-channel").value;
  const body = { text: template ? "" : text.value, internal };
  if (!internal && channel) body.channel_id = Number(channel);
  if (internal) { const named = mentionedIds(text.value); if (named.length) body.mentions = named; }
  if (template) body.template = template;
  if (offered) body.interactive = offered;
  const button = $("#composer button[type=submit]");
  button.disabled = true;
  try {
    if (composer.files.length) await upload(`/api/v1/conversations/${id}/messages`, body, composer.files);
    else await call("POST", `/api/v1/conversations/${id}/messages`, body);
    text.value = "";
    composer.clear();
    choices.reset();
    await openConversation(id, { keepComposer: true });
    $("#reply-text")?.focus();
    refreshList({ force: true });
  } catch (error) {
    // a refusal of a reply offering choices is shown in the choices editor, in the server's words
    // (e.g. "WhatsApp shows at most 3 options as buttons (4 given)"): the operator fixes it there
    if (offered && error.status === 422 && choices.open()) {
      choices.say(`${T.choice_refused || "Not sent"}: ${error.reason}`);
      $("#choices-options input")?.focus();
    } else toast(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function escalate() {
  const dialog = $("#escalate-dialog") || buildEscalateDialog();
  // options are built as elements: a team's name is data and is never parsed as markup
  // (the teams are the items of the "Team…" menu)
  const teams = $$("#menu-assign-team [data-menu-value]").map((item) => new Option(item.textContent.trim(), item.dataset.menuValue));
  $("select", dialog).replaceChildren(...teams);
  $("textarea", dialog).value = "";
  dialog.showModal();
}

function buildEscalateDialog() {
  const dialog = document.createElement("dialog");
  dialog.id = "escalate-dialog";
  dialog.innerHTML = `<form method="dialog" class="card">
    <h3>${escapeHtml(T.escalate_title || "Escalate")}</h3>
    <label>${escapeHtml(T.escalate_team || "Team")} <select name="team" data-testid="escalate-team"></select></label>
    <label>${escapeHtml(T.escalate_comment || "Comment")} <textarea name="comment" rows="3" required data-testid="escalate-comment"></textarea></label>
    <div class="composer-bottom"><button value="cancel" formnovalidate>✕</button><button value="ok" class="primary" data-testid="escalate-ok">OK</button></div>
  </form>`;
  document.body.appendChild(dialog);
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "ok") return;
    const comment = $("textarea", dialog).value.trim();
    if (!comment) { toast(T.comment_required, true); return; }
    act("escalate", { team_id: Number($("select", dialog).value), comment });
  });
  return dialog;
}

// ---- action menus: moving through a menu changes nothing; Enter or a click on an item applies ---

function initActionMenus(root) {
  root.addEventListener("click", (event) => {
    const button = event.target.closest(".menu-button");
    if (button) { event.preventDefault(); toggleMenu(button.closest("[data-menu]")); return; }
    const item = event.target.closest("[data-menu-value]");
    if (item) { event.preventDefault(); if (!item.disabled) chooseMenuItem(item); return; }
    closeMenus();
  });
  root.addEventListener("keydown", menuKeys);
  root.addEventListener("focusout", (event) => {
    const menu = event.target.closest?.("[data-menu]");
    if (menu && !menu.contains(event.relatedTarget)) closeMenu(menu); // focus left the menu: closed, nothing applied
  });
}

function menuItems(menu) { return $$("[data-menu-value]:not([disabled])", menu); }

function openMenu(menu, focus = "first") {
  closeMenus(menu);
  const list = $("[role=menu]", menu);
  list.hidden = false;
  $(".menu-button", menu).setAttribute("aria-expanded", "true");
  const items = menuItems(menu);
  (focus === "last" ? items[items.length - 1] : items[0])?.focus();
}

function closeMenu(menu, { refocus = false } = {}) {
  const list = $("[role=menu]", menu);
  if (!list || list.hidden) return;
  list.hidden = true;
  $(".menu-button", menu).setAttribute("aria-expanded", "false");
  if (refocus) $(".menu-button", menu).focus();
}

function closeMenus(except = null) { $$("[data-menu]").forEach((menu) => { if (menu !== except) closeMenu(menu); }); }

function toggleMenu(menu) {
  if ($("[role=menu]", menu).hidden) openMenu(menu); else closeMenu(menu, { refocus: true });
}

// keys only move the focus: ArrowDown/Up, Home/End; Escape and Tab close. Enter and Space are the
// buttons' own click, which is the one thing that applies an item.
function menuKeys(event) {
  const menu = event.target.closest?.("[data-menu]");
  if (!menu) return;
  const onButton = event.target.classList.contains("menu-button");
  if (onButton && ["ArrowDown", "ArrowUp"].includes(event.key)) {
    event.preventDefault();
    openMenu(menu, event.key === "ArrowUp" ? "last" : "first");
    return;
  }
  if (onButton) return;
  const items = menuItems(menu);
  const at = items.indexOf(document.activeElement);
  const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 };
  if (event.key in moves) {
    event.preventDefault();
    items[(moves[event.key] + items.length) % items.length]?.focus();
  } else if (event.key === "Escape") {
    event.preventDefault();
    event.stopPropagation();
    closeMenu(menu, { refocus: true });
  } else if (event.key === "Tab") {
    closeMenu(menu);
  }
}

function chooseMenuItem(item) {
  const menu = item.closest("[data-menu]");
  const value = item.dataset.menuValue;
  closeMenu(menu, { refocus: true });
  const action = menu.dataset.menu;
  if (action === "assign-operator") transfer({ operator_id: Number(value) }, item.textContent.trim());
  if (action === "assign-team") transfer({ team_id: Number(value), operator_id: null }, item.textContent.trim());
  if (action === "priority") act("priority", { priority: Number(value) });
  if (action === "status-select") act("status", { status: value });
  // the server works the preset out in the operator's own time zone (not the browser's)
  if (action === "snooze") act("snooze", { preset: value });
}

// ---- undo: a transfer or a resolve can be reverted for a few seconds, as a new recorded change ---

const UNDO_MS = 8000;

function conversationState() {
  const state = $("#conversation .conv-state");
  if (!state) return null;
  const number = (text) => (text ? Number(text) : null);
  return { assignee: number(state.dataset.assignee), team: number(state.dataset.team), status: state.dataset.status };
}

async function transfer(body, whom) {
  const id = openConversationId();
  const before = conversationState();
  if (!(await act("assign", body, id)) || !before) return;
  const bar = $("#undo-bar");
  offerUndo(bar?.dataset.transferred.replace("%(whom)s", whom), () =>
    act("assign", { operator_id: before.assignee, team_id: before.team, comment: bar.dataset.comment }, id));
}

async function resolveWithUndo() {
  const id = openConversationId();
  const before = conversationState();
  const reason = $("#close-reason")?.value;
  if (!(await act("status", reason ? { status: "resolved", reason } : { status: "resolved" }, id)) || !before) return;
  const bar = $("#undo-bar");
  offerUndo(bar?.dataset.resolved, () => act("status", { status: before.status, comment: bar.dataset.comment }, id));
}

function offerUndo(text, revert) {
  const bar = $("#undo-bar");
  if (!bar) return;
  const button = $("#undo-button", bar);
  $("#undo-text", bar).textContent = text;
  bar.hidden = false;
  clearTimeout(offerUndo.timer);
  const done = () => { bar.hidden = true; button.onclick = null; };
  button.onclick = async () => {
    clearTimeout(offerUndo.timer);
    button.onclick = null;
    if (await revert()) toast(bar.dataset.undone);
    done();
  };
  offerUndo.timer = setTimeout(done, UNDO_MS);
}

// "e" resolves only after a confirm (Enter on the focused "Resolve", or a click)
function confirmResolve() {
  const resolve = $('[data-action="status"][data-status="resolved"]');
  const dialog = $("#resolve-confirm");
  if (!resolve || !dialog) return;
  dialog.returnValue = "";
  dialog.onclose = () => { if (dialog.returnValue === "ok") resolveWithUndo(); else resolve.focus(); };
  dialog.showModal();
  $("[value=ok]", dialog).focus();
}

// ---- canned answers: "/code" in the reply box --------------------------------------------------

const canned = { items: [], active: 0 };

const searchCanned = debounce(async (code) => {
  const menu = $("#canned-menu");
  if (!menu) return;
  try {
    canned.items = (await call("GET", `/api/v1/canned-answers?q=${encodeURIComponent(code)}`)).items.slice(0, 8);
  } catch (error) { canned.items = []; }
  canned.active = 0;
  drawCanned();
}, 150);

function drawCanned() {
  const menu = $("#canned-menu");
  if (!menu) return;
  menu.hidden = canned.items.length === 0;
  menu.innerHTML = canned.items.map((a, i) => `<li role="option" data-canned="${escapeHtml(a.id)}" aria-selected="${i === canned.active}" class="${i === canned.active ? "active" : ""}">
    <strong>/${escapeHtml(a.shortcut)}</strong> <span class="muted small">${escapeHtml(a.language)}</span> ${escapeHtml(a.title)}
    <div class="small muted">${escapeHtml(a.body.slice(0, 90))}</div></li>`).join("");
}

function closeCanned() { canned.items = []; drawCanned(); }

async function useCanned(answerId) {
  const id = openConversationId();
  closeCanned();
  try {
    const rendered = await call("POST", `/api/v1/canned-answers/${answerId}/render`, { conversation_id: Number(id) });
    const text = $("#reply-text");
    text.value = rendered.text;
    text.focus();
    $("#composer-hint").textContent = rendered.missing.length ? `${T.fill_in || "Fill in"}: ${rendered.missing.join(", ")}` : "";
  } catch (error) { toast(error.message, true); }
}

function initCanned(root) {
  root.addEventListener("input", (event) => {
    if (event.target.id !== "reply-text") return;
    const match = event.target.value.match(/^\/(\S*)$/);
    if (match) searchCanned(match[1]); else if (canned.items.length) closeCanned();
  });
  root.addEventListener("keydown", (event) => {
    if (event.target.id !== "reply-text" || !canned.items.length) return;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) {
      event.preventDefault();
      canned.active = (canned.active + moves[event.key] + canned.items.length) % canned.items.length;
      drawCanned();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      event.stopPropagation();
      useCanned(canned.items[canned.active].id);
    } else if (event.key === "Escape") {
      closeCanned();
    }
  }, true);
  root.addEventListener("mousedown", (event) => {
    const option = event.target.closest("[data-canned]");
    if (option) { event.preventDefault(); useCanned(option.dataset.canned); }
  });
}

// ---- who else is here -----------------------------------------------------------------------

const presence = new Map(); // operator id -> {name, typing, until}

function announcePresence(typing) {
  const id = openConversationId();
  if (!id) return;
  call("POST", `/ui/conversations/${id}/presence`, { typing }).catch(() => {});
}

function showPresence() {
  const pane = $("#conversation [data-conversation-id]");
  if (!pane) return;
  let el = $("#collision", pane);
  if (!el) {
    el = document.createElement("div");
    el.id = "collision";
    el.className = "collision small";
    el.setAttribute("data-testid", "collision");
    $(".conv-head", pane)?.after(el);
  }
  const now = Date.now();
  const others = [...presence.values()].filter((p) => p.conversation === pane.dataset.conversationId && p.until > now);
  el.textContent = others.map((p) => `${p.name}: ${p.typing ? T.typing || "typing…" : T.viewing || "viewing"}`).join(" · ");
  el.hidden = others.length === 0;
}

setInterval(() => { if (openConversationId()) announcePresence(false); }, 10000);
setInterval(showPresence, 2000);

// ---- live stream ----------------------------------------------------------------------------

const quietly = (promise) => promise.catch(() => {}); // a refresh that fails is retried by the next event or reconnect
const liveList = debounce(() => quietly(refreshList()), 300);
// The queue counters are counts over every unfinished conversation (the server reads them once,
// grouped, for all operators within half a second: okno.conversations.shared_counts): under live
// traffic each page re-reads them at most every COUNTS_EVERY_MS, the last change always
// included. The list's own total comes with each row.
const COUNTS_EVERY_MS = 2000;
// events that change no queue counter (a reply's delivery steps, tags): their rows redraw, the counters stay
const COUNTLESS = new Set(["message.queued", "message.sent", "message.failed", "message.updated", "message.status_changed", "conversation.tagged", "conversation.untagged"]);
const liveSide = spaced(() => { quietly(refreshCounts()); quietly(refreshSupervisor()); }, 300, COUNTS_EVERY_MS);
const liveRefresh = () => { liveList(); liveSide(); };
const conversationRefresh = debounce((id) => { if (openConversationId() === id) quietly(openConversation(id, { keepComposer: true })); }, 200);

function initStream() {
  if (!$(".topbar")) return;
  const status = $("#live-status");
  const source = new EventSource("/ui/stream");
  source.onopen = () => {
    if (status) { status.classList.add("on"); status.title = T.online || "Live"; }
    if (state.connectedOnce) { liveRefresh(); const id = openConversationId(); if (id) conversationRefresh(id); }
    state.connectedOnce = true;
  };
  source.onerror = () => { if (status) { status.classList.remove("on"); status.title = T.offline || "…"; } };
  source.addEventListener("change", (message) => {
    const event = JSON.parse(message.data);
    if (state.seen.has(event.id)) return;
    state.seen.add(event.id);
    const changed = $("#inbox-list") ? changedRows(event) : null;
    if (changed) { changed.forEach(liveRow); if (!COUNTLESS.has(event.topic)) liveSide(); } else liveRefresh();
    if (event.conversation_id && String(event.conversation_id) === openConversationId()) conversationRefresh(String(event.conversation_id));
    attention.on(event);
    onMention(event);
    if (event.topic && event.topic.startsWith("call.")) onCallEvent(event);
  });
  source.addEventListener("presence", (message) => {
    const p = JSON.parse(message.data);
    if (p.customer) { customerTyping.set(String(p.conversation_id), Date.now() + (p.seconds || 6) * 1000); showCustomerTyping(); return; }
    if (String(p.operator_id) === $("#inbox")?.dataset.me) return;
    presence.set(p.operator_id, { name: p.name, typing: p.typing, conversation: String(p.conversation_id), until: Date.now() + (p.typing ? 6000 : 15000) });
    showPresence();
  });
}

// ---- attention: new assignments and messages while the tab is in the background --------------

// A conversation assigned to me, or a customer writing in one of mine, while I look elsewhere:
// the tab's title counts them ("(2) Входящие"), a short tone plays, and a desktop notification
// appears if I allowed them (the 🔔 button asks). Looking at the tab again clears the count.
const attention = {
  count: 0,
  title: document.title,
  on(event) {
    const me = $("#inbox")?.dataset.me || document.body.dataset.me;
    if (!me || !document.hidden) return;
    const mine = event.topic === "conversation.assigned" && String(event.operator_id) === me;
    const written = event.topic === "message.received" && attention.myConversations().has(String(event.conversation_id));
    if (!mine && !written) return;
    attention.count += 1;
    document.title = `(${attention.count}) ${attention.title}`;
    attention.beep();
    if (window.Notification && Notification.permission === "granted") {
      const note = new Notification(mine ? T.assigned_to_you : T.new_message, { tag: `okno-${event.conversation_id}`, body: T.open_to_answer || "" });
      note.onclick = () => { window.focus(); if (event.conversation_id) openConversation(event.conversation_id); note.close(); };
    }
  },
  myConversations() {
    return new Set($$("#inbox-list .row").filter((r) => r.dataset.mine === "1").map((r) => r.dataset.conversation));
  },
  beep() {
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const volume = audio.createGain();
      tone.frequency.value = 880;
      volume.gain.value = 0.05;
      tone.connect(volume).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.15);
    } catch (e) { /* no sound here: the title and the notification still say it */ }
  },
  reset() { attention.count = 0; document.title = attention.title; },
};
document.addEventListener("visibilitychange", () => { if (!document.hidden) attention.reset(); });
document.addEventListener("click", async (event) => {
  const bell = event.target.closest("#notify-toggle");
  if (!bell || !window.Notification) return;
  await Notification.requestPermission();
  bell.hidden = Notification.permission !== "default";
});
document.addEventListener("DOMContentLoaded", () => {
  const bell = $("#notify-toggle");
  if (bell) bell.hidden = !window.Notification || Notification.permission !== "default";
});
// ---- calls: the screen pop of a ringing call, click-to-call (okno.telephony) -----------------

const callPops = new Map(); // conversation id -> its panel

async function showCallPop(id) {
  if (callPops.has(id)) return;
  const pop = document.createElement("aside");
  callPops.set(id, pop);  // before the fetch: a replayed event while it loads makes no second panel
  let html;
  try { html = await fragment(`/ui/conversations/${id}/call-pop`); } catch (error) { callPops.delete(id); throw error; }
  if (!html || callPops.get(id) !== pop) { if (callPops.get(id) === pop) callPops.delete(id); return; }
  pop.className = "call-pop";
  pop.setAttribute("data-testid", "call-pop");
  pop.setAttribute("role", "alert");
  pop.innerHTML = html;
  pop.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-conversation]");
    if (link && typeof openConversation === "function" && $("#inbox")) { event.preventDefault(); openConversation(link.dataset.conversation); }
    if (event.target.closest("[data-close-pop]")) closeCallPop(id);
  });
  document.body.append(pop);
}

function closeCallPop(id) {
  callPops.get(id)?.remove();
  callPops.delete(id);
}

function onCallEvent(event) {
  const id = String(event.conversation_id);
  if (event.topic === "call.ringing") { quietly(showCallPop(id)); return; }
  const pop = callPops.get(id);
  if (!pop) return;
  if (event.topic === "call.answered") {
    if (String(event.operator_id) !== $("#inbox")?.dataset.me) { closeCallPop(id); return; }
    pop.classList.add("mine");  // the answering operator keeps the pop: the call is his
    const mine = $(".call-pop-mine", pop);
    if (mine) mine.hidden = false;
    if ($("#inbox")) quietly(openConversation(id));
  }
  if (event.topic === "call.completed" || event.topic === "call.missed") closeCallPop(id);
}

async function callCustomer(button) {
  const id = openConversationId();
  if (!id) return;
  button.disabled = true;
  try {
    await call("POST", `/api/v1/conversations/${id}/call`, {});
    toast(button.dataset.requested);
  } catch (error) {
    toast(error.message, true);
  } finally {
    button.disabled = false;
  }
}

// ---- keyboard -------------------------------------------------------------------------------

function initKeys() {
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName) || !!document.activeElement?.closest?.("[role=menu], dialog[open]");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && document.activeElement?.id === "reply-text") {
      event.preventDefault();
      sendReply();
      return;
    }
    if (event.key === "Escape" && typing) { document.activeElement.blur(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const rows = $$("#inbox-list .row");
    const current = rows.findIndex((r) => r.classList.contains("active"));
    const keys = {
      j: () => rows[Math.min(current + 1, rows.length - 1)] && openConversation(rows[Math.min(current + 1, rows.length - 1)].dataset.conversation),
      k: () => rows[Math.max(current - 1, 0)] && openConversation(rows[Math.max(current - 1, 0)].dataset.conversation),
      r: () => { if ($("#as-note")) $("#as-note").checked = false; $("#reply-text")?.focus(); },
      n: () => { if ($("#as-note")) $("#as-note").checked = true; $("#reply-text")?.focus(); },
      e: () => confirmResolve(),
      a: () => $('[data-action="assign-me"]')?.click(),
      "/": () => $("#search")?.focus(),
      "?": () => $("#shortcuts")?.showModal(),
    };
    if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
  });
}

// ---- supervisor -----------------------------------------------------------------------------

let chart = null;

function drawVolume(volume) {
  const canvas = $("#volume-chart");
  if (!canvas || !window.Chart) return;
  const hours = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, "0")}:00`);
  const datasets = Object.entries(volume).map(([kind, counts]) => ({ label: kind, data: counts, stack: "in" }));
  if (chart) { chart.data.datasets = datasets; chart.update(); return; }
  chart = new window.Chart(canvas, {
    type: "bar",
    data: { labels: hours, datasets },
    options: { responsive: true, animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

async function refreshSupervisor() {
  if (!$("#supervisor")) return;
  const data = await call("GET", "/ui/supervisor/data");
  $("#sv-unassigned").textContent = data.queues.unassigned;
  $("#sv-assigned").textContent = data.queues.assigned;
  $("#sv-waiting").textContent = data.queues.waiting;
  $("#sv-online").textContent = data.online;
  const presence = Object.fromEntries($$("#load-rows .presence").map((el) => [el.className.split("presence-")[1], el.textContent]));
  $("#load-rows").innerHTML = data.load.map((row) => `<tr><td>${escapeHtml(row.name)}</td><td><span class="presence presence-${escapeHtml(row.presence)}">${escapeHtml(presence[row.presence] || row.presence)}</span></td><td>${escapeHtml(row.role)}</td><td>${escapeHtml(row.open)}</td></tr>`).join("");
  drawVolume(data.volume);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
}

function initSupervisor() {
  if (!$("#supervisor")) return;
  const start = () => drawVolume(JSON.parse($("#volume-data").textContent));
  if (window.Chart) start(); else window.addEventListener("load", start);
  setInterval(() => quietly(refreshSupervisor()), 10000);
}

// an HTML message body (sanitised, in a sandboxed frame that runs nothing) grows to its content
function fitHtmlBody(frame) {
  const body = frame.contentDocument?.body;
  if (body) frame.style.height = Math.min(Math.max(body.scrollHeight + 4, 40), 600) + "px";
}
document.addEventListener("load", (event) => { if (event.target.matches?.("iframe.html-body")) fitHtmlBody(event.target); }, true);
// an e-mail's formatted original opens behind a toggle: size its frame once it is shown
document.addEventListener("toggle", (event) => {
  if (event.target.matches?.("details.email-more") && event.target.open) event.target.querySelectorAll("iframe.html-body").forEach(fitHtmlBody);
}, true);

document.addEventListener("DOMContentLoaded", () => {
  initLogin();
  initHeader();
  initInbox();
  initStream();
  initKeys();
  initSupervisor();
  initProfile();
  composer.syncChannel();
  const timeline = $(".timeline");
  if (timeline) timeline.scrollTop = timeline.scrollHeight;
  markActiveRow();
});

// ---- files and templates in the reply box ------------------------------------------------------

// multipart/form-data: the text and the chosen files; okno refuses a file over its limit (413) or
// one whose bytes contradict its name (422) with a sentence the toast shows
async function upload(url, body, files) {
  const form = new FormData();
  form.append("text", body.text || "");
  form.append("internal", body.internal ? "true" : "false");
  if (body.channel_id) form.append("channel_id", String(body.channel_id));
  if (body.interactive) form.append("interactive", JSON.stringify(body.interactive)); // a JSON field beside the files
  for (const file of files) form.append("files", file, file.name);
  const response = await fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-Okno-Client": "web" }, body: form });
  if (response.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const reason = problem(data) || T.error || "error";
    throw refusal(response.status, reason, response.status === 413 ? `${T.upload_too_large || "File too large"}: ${reason}` : `${T.upload_failed || "Upload failed"}: ${reason}`);
  }
  return data;
}

const composer = {
  files: [],
  templates: [],
  add(list) {
    for (const file of list || []) this.files.push(file);
    this.renderFiles();
  },
  remove(index) { this.files.splice(index, 1); this.renderFiles(); },
  clear() { this.files = []; this.renderFiles(); },
  reset() { this.files = []; this.templates = []; this.renderFiles(); choices.reset(); this.syncChannel(); },
  renderFiles() {
    const list = $("#reply-attachments");
    if (!list) return;
    list.innerHTML = "";
    this.files.forEach((file, index) => {
      const item = document.createElement("li");
      item.textContent = `📎 ${file.name} (${Math.max(1, Math.round(file.size / 1024))} KB) `;
      const remove = document.createElement("button");
      remove.type = "button"; remove.className = "link"; remove.dataset.removeFile = String(index);
      remove.setAttribute("aria-label", T.remove_file || "Remove"); remove.textContent = "✕";
      item.appendChild(remove);
      list.appendChild(item);
    });
  },
  // a channel whose reply window closed takes templates only: the picker replaces free text
  async syncChannel() {
    const select = $("#reply-channel");
    const picker = $("#template-picker");
    if (!select || !picker) return;
    const option = select.selectedOptions[0];
    const closed = option && option.dataset.windowClosed === "1";
    picker.hidden = !closed;
    $("#reply-text").disabled = closed;
    $("#reply-files").disabled = closed;
    const offer = $("#choices-toggle");
    if (offer) { offer.disabled = closed; if (closed) choices.reset(); } // a template's content is fixed
    if (!closed) return;
    try {
      this.templates = (await call("GET", `/api/v1/channels/${option.value}/templates`)).items;
    } catch (error) { this.templates = []; toast(error.message, true); }
    const choose = $("#reply-template");
    choose.innerHTML = "";
    if (!this.templates.length) { $("#template-preview").textContent = T.no_templates || "No templates are configured on this channel."; }
    this.templates.forEach((t, index) => {
      const item = document.createElement("option");
      item.value = String(index); item.textContent = `${t.name} (${t.language})`;
      choose.appendChild(item);
    });
    this.renderTemplate();
  },
  chosen() {
    const picker = $("#template-picker");
    if (!picker || picker.hidden || !this.templates.length) return null;
    return this.templates[Number($("#reply-template").value || 0)];
  },
  renderTemplate() {
    const t = this.chosen();
    const params = $("#template-params");
    if (!params) return;
    params.innerHTML = "";
    for (let n = 1; t && n <= t.body_parameters; n++) {
      const input = document.createElement("input");
      input.type = "text"; input.dataset.param = String(n); input.placeholder = `{{${n}}}`;
      input.setAttribute("aria-label", `${T.template_parameter || "Parameter"} ${n}`);
      input.setAttribute("data-testid", `template-param-${n}`);
      params.appendChild(input);
    }
    this.preview();
  },
  values() { return $$("#template-params input").map((input) => input.value.trim()); },
  preview() {
    const t = this.chosen();
    if (!t) return;
    const values = this.values();
    $("#template-preview").textContent = t.preview.replace(/\{\{(\d+)\}\}/g, (all, n) => values[Number(n) - 1] || all);
  },
  template() {
    const t = this.chosen();
    if (!t) return null;
    const values = this.values();
    if (values.some((v) => !v)) { toast(T.template_fill || "Fill in every template parameter", true); throw new Error("parameters missing"); }
    return { name: t.name, language: t.language, parameters: values };
  },
};

// ---- choices offered with the reply (buttons, quick replies, a list) ---------------------------

// an option's id travels back with the customer's press (Telegram: 64-byte callback_data), so it
// is ASCII: the title transliterated and slugged, else its position
const TRANSLIT = { а: "a", б: "b", в: "v", г: "g", д: "d", е: "e", ё: "e", ж: "zh", з: "z", и: "i", й: "i", к: "k", л: "l", м: "m", н: "n", о: "o", п: "p", р: "r", с: "s", т: "t", у: "u", ф: "f", х: "h", ц: "ts", ч: "ch", ш: "sh", щ: "sch", ъ: "", ы: "y", ь: "", э: "e", ю: "yu", я: "ya" };

function optionIds(titles) {
  const used = new Set();
  return titles.map((title, index) => {
    const latin = [...title.toLowerCase()].map((ch) => (ch in TRANSLIT ? TRANSLIT[ch] : ch)).join("");
    let id = latin.normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40) || `option_${index + 1}`;
    for (let n = index + 1; used.has(id); n++) id = `${id.replace(/_\d+$/, "")}_${n}`; // two same titles stay two options
    used.add(id);
    return id;
  });
}

const choices = {
  open() { const editor = $("#choices-editor"); return !!editor && !editor.hidden; },
  max() { return Number($("#choices-options")?.dataset.max || 10); },
  toggle(show = !this.open()) {
    const editor = $("#choices-editor");
    const button = $("#choices-toggle");
    if (!editor || !button) return;
    editor.hidden = !show;
    button.setAttribute("aria-expanded", String(show));
    button.classList.toggle("active", show);
    if (show && !$$("#choices-options li").length) { this.addOption(false); this.addOption(false); }
    if (show) $("#choices-options input")?.focus(); else { this.say(""); button.focus(); }
  },
  addOption(focus = true) {
    const list = $("#choices-options");
    if (!list || list.children.length >= this.max()) return null;
    const item = document.createElement("li");
    const input = document.createElement("input");
    input.type = "text"; input.maxLength = 100; input.dataset.choiceTitle = "";
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "link"; remove.dataset.removeChoice = ""; remove.textContent = "✕";
    item.append(input, " ", remove);
    list.appendChild(item);
    this.number();
    if (focus) input.focus();
    return input;
  },
  removeOption(item) {
    const next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    this.number();
    (next ? $("input", next) : $("#choices-add"))?.focus();
  },
  // labels and test ids follow the position, so a removed option leaves no gap
  number() {
    $$("#choices-options li").forEach((item, index) => {
      const n = index + 1;
      const input = $("input", item);
      input.placeholder = `${T.choice_option || "Option"} ${n}`;
      input.setAttribute("aria-label", `${T.choice_option || "Option"} ${n}`);
      input.setAttribute("data-testid", `choice-title-${n}`);
      const remove = $("[data-remove-choice]", item);
      remove.setAttribute("aria-label", `${T.choice_remove || "Remove option"} ${n}`);
      remove.setAttribute("data-testid", `choice-remove-${n}`);
    });
    const add = $("#choices-add");
    if (add) add.disabled = $$("#choices-options li").length >= this.max();
  },
  syncStyle() {
    const list = $("#choices-style")?.value === "list";
    const label = $("#choices-list-button");
    if (label) label.hidden = !list;
  },
  // Enter in an option moves to the next one (adding it at the end): the form is not sent half-made
  onKey(event) {
    if (event.key !== "Enter" || event.ctrlKey || event.metaKey || !event.target.matches("[data-choice-title]")) return;
    event.preventDefault();
    const next = event.target.closest("li").nextElementSibling;
    if (next) $("input", next).focus(); else if (event.target.value.trim()) this.addOption();
  },
  say(reason) {
    const box = $("#choices-error");
    if (!box) return;
    box.textContent = reason;
    box.hidden = !reason;
    $("#choices-editor")?.classList.toggle("invalid", !!reason);
  },
  // what goes with the reply as ``interactive``: null when the editor is closed; throws (after
  // saying why) when it is open but not ready to send
  value() {
    if (!this.open()) return null;
    const titles = $$("#choices-options [data-choice-title]").map((input) => input.value.trim()).filter(Boolean);
    const style = $("#choices-style").value;
    if (!titles.length) { this.say(T.choice_need_option || "Give at least one option a title"); $("#choices-options input")?.focus(); throw new Error("no options"); }
    const offered = { style, options: optionIds(titles).map((id, i) => ({ id, title: titles[i] })) };
    if (style === "list") {
      const button = $("#choices-button").value.trim();
      if (!button) { this.say(T.choice_need_button || "A list needs a button label: the customer taps it to open the list"); $("#choices-button").focus(); throw new Error("no list button"); }
      offered.button = button;
    }
    this.say("");
    return offered;
  },
  reset() {
    const list = $("#choices-options");
    if (list) list.innerHTML = "";
    const button = $("#choices-button");
    if (button) button.value = "";
    const style = $("#choices-style");
    if (style) style.value = "buttons";
    this.syncStyle();
    this.say("");
    const editor = $("#choices-editor");
    if (editor) editor.hidden = true;
    $("#choices-toggle")?.setAttribute("aria-expanded", "false");
    $("#choices-toggle")?.classList.remove("active");
  },
};

function initChoices(root) {
  root.addEventListener("click", (event) => {
    if (event.target.closest("#choices-toggle")) { event.preventDefault(); choices.toggle(); return; }
    if (event.target.closest("#choices-add")) { event.preventDefault(); choices.addOption(); return; }
    const remove = event.target.closest("[data-remove-choice]");
    if (remove) { event.preventDefault(); choices.removeOption(remove.closest("li")); }
  });
  root.addEventListener("change", (event) => { if (event.target.id === "choices-style") choices.syncStyle(); });
  root.addEventListener("input", (event) => { if (event.target.closest("#choices-editor")) choices.say(""); });
  root.addEventListener("keydown", (event) => {
    if (!event.target.closest?.("#choices-editor")) return;
    if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); choices.toggle(false); return; }
    choices.onKey(event);
  }, true);
}

// ---- my profile ----------------------------------------------------------------------------------

// name, language and time zone (PATCH /api/v1/auth/me), then the page again in the new language
// and zone; the password form ends the other sessions (POST /api/v1/auth/password)
function initProfile() {
  const form = $("#profile-form");
  if (!form) return;
  const words = pageData("okno-profile-i18n");
  // the colours change at once, and are kept (the page is drawn with them next time: no flash)
  form.theme.addEventListener("change", async () => {
    const chosen = form.theme.value;
    document.documentElement.dataset.theme = chosen;
    try { await call("PATCH", "/api/v1/auth/me", { theme: chosen }); toast(words.saved); } catch (e) { toast(e.message, true); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("#profile-error");
    error.hidden = true;
    try {
      await call("PATCH", "/api/v1/auth/me", {
        name: form.name.value, locale: form.locale.value, time_zone: form.time_zone.value.trim(), signature: form.signature.value, theme: form.theme.value,
      });
      toast(words.saved);
      location.reload();
    } catch (e) { error.textContent = e.message; error.hidden = false; }
  });
  const passwords = $("#password-form");
  passwords.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("#password-error");
    error.hidden = true;
    try {
      await call("POST", "/api/v1/auth/password", { current_password: passwords.current_password.value, new_password: passwords.new_password.value });
      passwords.reset();
      toast(words.password_changed);
    } catch (e) { error.textContent = e.message; error.hidden = false; }
  });
}
// The SMS segment counter under the reply box, for a channel that bills segments: GSM-7 160
// (153 per part), otherwise UCS-2 70 (67 per part), counted as the SMS adapter counts them.
const GSM_BASIC = new Set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà");
const GSM_EXTENDED = new Set("\f^{}\\[~]|€");
const smsSegments = {
  count(text) {
    const chars = Array.from(text);
    const gsm = chars.every((c) => GSM_BASIC.has(c) || GSM_EXTENDED.has(c));
    const units = gsm ? chars.reduce((n, c) => n + (GSM_EXTENDED.has(c) ? 2 : 1), 0) : text.length;  // UTF-16 code units
    const single = gsm ? 160 : 70, part = gsm ? 153 : 67;
    const per = units <= single ? single : part;
    const segments = units <= single ? 1 : Math.ceil(units / part);
    return { encoding: gsm ? "GSM-7" : "UCS-2", segments, left: segments * per - units };
  },
  show() {
    const box = $("#sms-segments"), select = $("#reply-channel"), text = $("#reply-text");
    if (!box || !select || !text) return;
    const option = select.selectedOptions[0];
    box.hidden = !(option && option.dataset.smsSegments === "1");
    if (box.hidden) return;
    const c = this.count(text.value);
    box.textContent = box.dataset.format.replace("%(segments)s", c.segments).replace("%(left)s", c.left).replace("%(encoding)s", c.encoding);
  },
};

// The public reply to a review (Google) deleted at the provider, after the page's own confirmation.
function deleteReviewReply() {
  const id = openConversationId();
  const dialog = $("#delete-reply-confirm");
  if (!id || !dialog) return;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    try {
      await call("DELETE", `/api/v1/conversations/${id}/review-reply`);
      if (openConversationId() === String(id)) await openConversation(id, { keepComposer: true });
    } catch (error) {
      toast(error.message, true);
    }
  };
  dialog.showModal();
}

// A data-subject erasure (admins): the reason and the customer's id typed back are asked in the
// page's own dialog; "Erase" stays disabled until both are there. The profile then shows the tombstone.
function eraseCustomer(customerId) {
  const id = openConversationId();
  const dialog = $("#erase-dialog");
  if (!customerId || !dialog) return;
  const reason = $("#erase-reason", dialog);
  const typed = $("#erase-typed", dialog);
  const ok = $("[data-testid=erase-ok]", dialog);
  $("#erase-expected", dialog).textContent = customerId;
  reason.value = "";
  typed.value = "";
  ok.disabled = true;
  const check = () => { ok.disabled = !(reason.value.trim() && typed.value.trim() === customerId); };
  reason.oninput = check;
  typed.oninput = check;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok" || ok.disabled) return;
    try {
      const erased = await call("POST", `/api/v1/customers/${customerId}/erase`, { reason: reason.value.trim() });
      toast((T.erased || "Personal data erased") + ` (#${erased.customers.join(", #")})`);
      if (id) await openConversation(id, { keepComposer: false });
      refreshList({ force: true });
    } catch (error) {
      toast(error.message, true);
    }
  };
  dialog.showModal();
  reason.focus();
}
// ---- inbox tools: unread markers, filters and saved views, bulk selection, tags, emoji ---------

const FILTER_KEYS = ["tag", "assignee", "from", "to", "sla"];
const fmt = (text, values) => String(text || "").replace(/%\((\w+)\)s/g, (_, key) => values[key] ?? "");

// Opening a conversation moves my read position to its latest message; the row loses its marker
// at once (the next list refresh agrees: the position is stored on the server, per operator).
async function markRead(id) {
  if (!id || document.hidden) return;
  try { await call("POST", `/api/v1/conversations/${id}/read`); } catch (e) { return; }
  const row = $(`#inbox-list a.row[data-conversation="${id}"]`);
  if (!row) return;
  row.classList.remove("unread");
  row.dataset.unread = "0";
  $(".unread-count", row)?.remove();
}
document.addEventListener("visibilitychange", () => { if (!document.hidden) markRead(openConversationId()); });

// the filters panel <-> the list's query
function syncFilterForm() {
  const form = $("#filter-form");
  if (!form) return;
  for (const key of [...FILTER_KEYS, "channel"]) { if (form.elements[key]) form.elements[key].value = state.params.get(key) || ""; }
}

function applyFilterForm() {
  const form = $("#filter-form");
  for (const key of [...FILTER_KEYS, "channel"]) {
    const value = (form.elements[key]?.value || "").trim();
    if (value) state.params.set(key, value); else state.params.delete(key);
  }
  pushUrl();
  refreshList({ force: true });
}

// suggestions for every tag field: the tags in use on conversations I may see
const suggestTags = debounce(async (prefix) => {
  const list = $("#tag-suggestions");
  if (!list) return;
  try {
    const found = await call("GET", "/api/v1/tags?" + new URLSearchParams({ prefix }));
    list.replaceChildren(...found.tags.map((t) => Object.assign(document.createElement("option"), { value: t.tag })));
  } catch (e) { /* no suggestions: typing still works */ }
}, 200);

// a confirm in the page (never a native dialog): resolves with the comment, or null when cancelled
function confirmInPage(title, { comment = false } = {}) {
  const dialog = $("#bulk-confirm");
  $("#bulk-confirm-title").textContent = title;
  const box = $("#bulk-comment");
  box.value = "";
  box.closest("label").hidden = !comment;
  dialog.returnValue = "";
  dialog.showModal();
  $("[data-testid=bulk-confirm-ok]", dialog).focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? box.value.trim() : null), { once: true });
  });
}

// ---- bulk selection ----------------------------------------------------------------------------

const selection = { ids: new Set(), last: null };

function syncSelection() {
  const boxes = $$("#inbox-list .row-select");
  const shown = new Set(boxes.map((b) => b.dataset.select));
  for (const id of [...selection.ids]) { if (!shown.has(id)) selection.ids.delete(id); } // rows gone from the list leave the selection
  boxes.forEach((b) => { b.checked = selection.ids.has(b.dataset.select); });
  const bar = $("#bulk-bar");
  if (!bar) return;
  const n = selection.ids.size;
  $("#bulk-count").textContent = n ? fmt(bar.dataset.selected, { num: n }) : "";
  $("#bulk-controls").hidden = n === 0;
  const page = $("#select-page");
  page.checked = n > 0 && n === boxes.length;
  page.indeterminate = n > 0 && n < boxes.length;
  syncBulkFields();
}

function syncBulkFields() {
  const action = $("#bulk-action").value;
  $("#bulk-operator").hidden = action !== "assign";
  $("#bulk-team").hidden = action !== "transfer";
  $("#bulk-reason").hidden = action !== "resolve";
  $("#bulk-tag").hidden = action !== "tag";
  $("#bulk-apply").disabled = !action || selection.ids.size === 0 || (action === "tag" && !$("#bulk-tag").value.trim());
}

function selectRow(box, shift) {
  const boxes = $$("#inbox-list .row-select");
  const index = boxes.indexOf(box);
  if (shift && selection.last !== null && boxes[selection.last]) {
    const [from, to] = [Math.min(selection.last, index), Math.max(selection.last, index)];
    boxes.slice(from, to + 1).forEach((b) => selection.ids[box.checked ? "add" : "delete"](b.dataset.select));
  } else {
    selection.ids[box.checked ? "add" : "delete"](box.dataset.select);
  }
  selection.last = index;
  syncSelection();
}

function bulkRequest() {
  const bar = $("#bulk-bar");
  const action = $("#bulk-action").value;
  const body = { action, conversation_ids: [...selection.ids].map(Number) };
  const picked = (select) => select.options[select.selectedIndex]?.textContent.trim() || "";
  let text;
  if (action === "assign") {
    body.operator_id = $("#bulk-operator").value ? Number($("#bulk-operator").value) : null;
    text = fmt(bar.dataset.assign, { whom: body.operator_id ? picked($("#bulk-operator")) : bar.dataset.nobody });
  } else if (action === "transfer") {
    body.team_id = Number($("#bulk-team").value);
    text = fmt(bar.dataset.transfer, { whom: picked($("#bulk-team")) });
  } else if (action === "resolve") {
    body.reason = $("#bulk-reason").value;
    text = fmt(bar.dataset.resolve, { whom: picked($("#bulk-reason")) });
  } else {
    body.tags = [$("#bulk-tag").value.trim()];
    text = fmt(bar.dataset.tag, { whom: body.tags[0] });
  }
  return { body, title: fmt(bar.dataset.confirm, { num: body.conversation_ids.length, action: text }) };
}

async function applyBulk() {
  const { body, title } = bulkRequest();
  const comment = await confirmInPage(title, { comment: body.action !== "tag" });
  if (comment === null) return; // cancelled: nothing changes
  if (comment) body.comment = comment;
  try {
    const done = await call("POST", "/api/v1/conversations/bulk", body);
    toast(fmt($("#bulk-bar").dataset.done, { num: done.conversations.length }));
    selection.ids.clear();
    $("#bulk-action").value = "";
    const open = openConversationId();
    if (open && body.conversation_ids.includes(Number(open))) await openConversation(open, { keepComposer: true });
    await refreshList({ force: true });
    refreshCounts();
  } catch (error) {
    toast(error.message, true);
  }
}

// ---- saved views -------------------------------------------------------------------------------

// The views strip drawn again by the server (its edit and delete buttons, names and labels in the
// operator's language): a view saved, renamed or deleted shows at once, without a reload.
async function refreshViews() {
  const list = $("#saved-views");
  if (!list) return;
  const html = await fragment("/ui/inbox/views");
  if (html === null) return;
  const active = $("a.queue.active", list)?.dataset.view;
  list.innerHTML = html;
  if (active !== undefined) $$("a.queue", list).find((a) => a.dataset.view === active)?.classList.add("active");
}

async function saveView() {
  const name = $("#view-name").value.trim();
  if (!name) { $("#view-name").focus(); return; }
  const team = $("#view-team").value;
  try {
    const view = await call("POST", "/api/v1/views", { name, query: listQuery().toString(), team_id: team ? Number(team) : null });
    $("#view-name").value = "";
    await refreshViews();
    toast(view.name);
  } catch (error) { toast(error.message, true); }
}

// A view renamed (and, if asked, given the filters shown now) in the page's own dialog.
async function editView(button) {
  const dialog = $("#view-edit");
  const name = $("#view-edit-name");
  name.value = button.dataset.name;
  $("#view-edit-filters").checked = false;
  dialog.returnValue = "";
  dialog.showModal();
  name.select();
  const answer = await new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }));
  if (answer !== "ok" || !name.value.trim()) return;
  const body = { name: name.value.trim() };
  if ($("#view-edit-filters").checked) body.query = listQuery().toString();
  try {
    const view = await call("PATCH", `/api/v1/views/${button.dataset.editView}`, body);
    await refreshViews();
    $(`[data-edit-view="${view.id}"]`)?.focus();
    toast(view.name);
  } catch (error) { toast(error.message, true); }
}

async function deleteView(button) {
  if (await confirmInPage(button.dataset.confirm) === null) return;
  try {
    await call("DELETE", `/api/v1/views/${button.dataset.deleteView}`);
    button.closest("li").remove();
    await refreshViews();
  } catch (error) { toast(error.message, true); }
}

// ---- tags on the open conversation -------------------------------------------------------------

async function changeTags(method, url, body) {
  const id = openConversationId();
  if (!id) return;
  try {
    await call(method, `/api/v1/conversations/${id}/${url}`, body);
    await openConversation(id, { keepComposer: true });
    refreshList({ force: true });
  } catch (error) { toast(error.message, true); }
}

// ---- emoji: a small built-in set, inserted where the cursor is ---------------------------------

function insertEmoji(emoji) {
  const box = $("#reply-text");
  if (!box) return;
  const [start, end] = [box.selectionStart ?? box.value.length, box.selectionEnd ?? box.value.length];
  box.value = box.value.slice(0, start) + emoji + box.value.slice(end);
  box.focus();
  box.selectionStart = box.selectionEnd = start + emoji.length;
  box.dispatchEvent(new Event("input", { bubbles: true }));
}

function initInboxTools() {
  const inbox = $("#inbox");
  if (!inbox) return;
  $("#filter-form")?.addEventListener("submit", (event) => { event.preventDefault(); applyFilterForm(); });
  $("#filter-clear")?.addEventListener("click", () => {
    for (const key of [...FILTER_KEYS, "channel"]) state.params.delete(key);
    syncFilterForm();
    pushUrl();
    refreshList({ force: true });
  });
  $("#save-view")?.addEventListener("click", saveView);
  $("#select-page")?.addEventListener("change", (event) => {
    $$("#inbox-list .row-select").forEach((b) => selection.ids[event.target.checked ? "add" : "delete"](b.dataset.select));
    syncSelection();
  });
  $("#bulk-action")?.addEventListener("change", syncBulkFields);
  $("#bulk-tag")?.addEventListener("input", syncBulkFields);
  $("#bulk-apply")?.addEventListener("click", applyBulk);
  inbox.addEventListener("click", (event) => {
    const box = event.target.closest(".row-select");
    if (box) { selectRow(box, event.shiftKey); return; }
    const del = event.target.closest("[data-delete-view]");
    if (del) { event.preventDefault(); deleteView(del); return; }
    const edit = event.target.closest("[data-edit-view]");
    if (edit) { event.preventDefault(); editView(edit); return; }
    const untag = event.target.closest("[data-remove-tag]");
    if (untag) { changeTags("DELETE", `tags/${encodeURIComponent(untag.dataset.removeTag)}`); return; }
    const emoji = event.target.closest("[data-emoji]");
    if (emoji) { insertEmoji(emoji.dataset.emoji); return; }
  });
  // keyboard: Space on a focused checkbox toggles it (the browser's own); shift+Space selects the range
  inbox.addEventListener("keydown", (event) => {
    if (event.target.id === "tag-input" && event.key === "Enter") {
      event.preventDefault();
      const tag = event.target.value.trim();
      if (tag) changeTags("POST", "tags", { tags: [tag] });
    }
  });
  inbox.addEventListener("input", (event) => {
    if (["tag-input", "bulk-tag"].includes(event.target.id) || event.target.name === "tag") suggestTags(event.target.value.trim());
  });
  syncSelection();
  markRead(openConversationId());
}
document.addEventListener("DOMContentLoaded", initInboxTools);

// ---- the customer typing (where his channel reports it): shown a few seconds, never stored -----

const customerTyping = new Map(); // conversation id -> until when
function showCustomerTyping() {
  const el = $("#customer-typing");
  if (!el) return;
  const until = customerTyping.get(openConversationId()) || 0;
  el.hidden = until <= Date.now();
}
setInterval(showCustomerTyping, 1000);

// ---- @mentions in internal notes: pick a colleague, he is notified -------------------------------

const mention = { items: [], active: 0, start: -1 };
const colleagues = () => { try { return JSON.parse($("#okno-operators")?.textContent || "[]").map(([id, name]) => ({ id, name: name || "" })); } catch (e) { return []; } };

// the ids of colleagues whose "@Name" is in the note
function mentionedIds(text) {
  return colleagues().filter((o) => o.name && text.includes("@" + o.name)).map((o) => o.id);
}

function drawMentions() {
  const menu = $("#mention-menu");
  if (!menu) return;
  menu.hidden = mention.items.length === 0;
  menu.innerHTML = mention.items.map((o, i) => `<li role="option" data-mention="${i}" aria-selected="${i === mention.active}" class="${i === mention.active ? "active" : ""}" data-testid="mention-option">@${escapeHtml(o.name)}</li>`).join("");
}

function findMentions(box) {
  const before = box.value.slice(0, box.selectionStart ?? box.value.length);
  const match = $("#as-note")?.checked ? before.match(/(?:^|\s)@([^\s@]{0,30})$/) : null;
  if (!match) { mention.items = []; drawMentions(); return; }
  const needle = match[1].toLowerCase();
  const me = $("#inbox")?.dataset.me;
  mention.start = before.length - match[1].length - 1;
  mention.items = colleagues().filter((o) => o.name && String(o.id) !== me && o.name.toLowerCase().split(/\s+/).some((part) => part.startsWith(needle))).slice(0, 8);
  mention.active = 0;
  drawMentions();
}

function useMention(index) {
  const box = $("#reply-text");
  const chosen = mention.items[index];
  if (!box || !chosen) return;
  const end = box.selectionStart ?? box.value.length;
  const inserted = "@" + chosen.name + " ";
  box.value = box.value.slice(0, mention.start) + inserted + box.value.slice(end);
  box.selectionStart = box.selectionEnd = mention.start + inserted.length;
  mention.items = [];
  drawMentions();
  box.focus();
}

function onMention(event) {
  const me = $("#inbox")?.dataset.me;
  if (!me || event.topic !== "note.mentioned" || String(event.operator_id) !== me) return;
  const text = $("#inbox").dataset.mentioned;
  if (!document.hidden) { toast(text); return; }
  attention.count += 1;
  document.title = `(${attention.count}) ${attention.title}`;
  attention.beep();
  if (window.Notification && Notification.permission === "granted") {
    const note = new Notification(text, { tag: `okno-mention-${event.message_id}`, body: T.open_to_answer || "" });
    note.onclick = () => { window.focus(); openConversation(event.conversation_id); note.close(); };
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const inbox = $("#inbox");
  if (!inbox) return;
  inbox.addEventListener("input", (event) => { if (event.target.id === "reply-text") findMentions(event.target); });
  inbox.addEventListener("keydown", (event) => {
    if (event.target.id !== "reply-text" || !mention.items.length) return;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) {
      event.preventDefault();
      mention.active = (mention.active + moves[event.key] + mention.items.length) % mention.items.length;
      drawMentions();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      event.stopPropagation();
      useMention(mention.active);
    } else if (event.key === "Escape") {
      event.stopPropagation();
      mention.items = [];
      drawMentions();
    }
  }, true);
  inbox.addEventListener("mousedown", (event) => {
    const option = event.target.closest("[data-mention]");
    if (option) { event.preventDefault(); useMention(Number(option.dataset.mention)); }
  });
});

// "x": select (or unselect) the focused row, else the open one, for a bulk action
document.addEventListener("keydown", (event) => {
  if (event.key !== "x" || event.ctrlKey || event.metaKey || event.altKey) return;
  const active = document.activeElement;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(active?.tagName) || active?.closest?.("[role=menu], dialog[open]")) return;
  const row = active?.closest?.("#inbox-list .row") || $("#inbox-list .row.active");
  const box = row && $(".row-select", row.parentElement);
  if (!box) return;
  event.preventDefault();
  box.checked = !box.checked;
  selectRow(box, event.shiftKey);
});
