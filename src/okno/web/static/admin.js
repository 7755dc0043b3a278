// okno administration page: channels, operators, canned answers, teams, and the service process
// (statuses and reasons, routing rules, SLA calendars and policies, automation rules). Every
// change goes through the public JSON API; the API's reasons for refusing are shown next to the
// form that caused them. Loaded after app.js, whose helpers ($, call, fragment, toast…) it uses.
"use strict";

const A = pageData("okno-admin-i18n");


const channelsById = {};

function when(iso) {
  // in the operator's own time zone (the page's data-tz), not the browser's
  return iso ? new Date(iso).toLocaleString(document.documentElement.lang || undefined, { timeZone: document.body.dataset.tz || undefined }) : A.never;
}

function channelHealth(c) {
  if (c.health === "ok") return `<span class="health health-ok" data-health="ok">${escapeHtml(A.health_ok)}</span>`;
  return `<span class="health health-needs-action" data-health="${escapeHtml(c.health)}">${escapeHtml(A.health_needs_action)}</span>
    <span class="small">${escapeHtml(c.health_reason || "")}</span>`;
}

function channelPolling(p) {
  if (!p) return "—";
  const error = p.last_error ? `<br><span class="error small">${escapeHtml(A.last_error)}: ${escapeHtml(p.last_error)}</span>` : "";
  return `<span class="small">${escapeHtml(A.last_poll)}: ${escapeHtml(when(p.last_polled_at))}<br>${escapeHtml(A.last_success)}: ${escapeHtml(when(p.last_success_at))}<br>
    ${escapeHtml(A.failures)}: ${p.failures}</span>${error}`;
}

// each channel kind's title in both languages ("widget" → "Чат на сайте"), fetched once
let kindTitlesLoaded = null;
function kindTitles() {
  kindTitlesLoaded ||= call("GET", "/api/v1/channels/kinds")
    .then(({ items }) => Object.fromEntries(items.map((k) => [k.kind, inLang(k.titles) || k.title])))
    .catch(() => ({}));
  return kindTitlesLoaded;
}

async function loadChannels() {
  const rows = $("#channel-rows");
  if (!rows) return;
  const [{ items }, titles] = await Promise.all([call("GET", "/api/v1/channels"), kindTitles()]);
  const admin = !!$("#channel-form");
  items.forEach((c) => { channelsById[c.id] = c; });
  rows.innerHTML = items.map((c) => `<tr data-channel="${escapeHtml(c.id)}"><td>${escapeHtml(c.name)}</td><td><span class="ch ch-${escapeHtml(c.kind)}" data-kind="${escapeHtml(c.kind)}">${escapeHtml(titles[c.kind] || c.kind)}</span></td>
    <td>${channelAddress(c)}</td><td>${c.is_active ? "✓" : "—"}</td>
    <td data-testid="channel-health">${channelHealth(c)}</td><td data-testid="channel-polling">${channelPolling(c.polling)}</td>
    <td>${admin ? `<button type="button" class="small" data-edit-channel="${c.id}">${escapeHtml(A.edit)}</button>
      <button type="button" class="small" data-toggle-channel="${c.id}" data-action="${c.is_active ? "disable" : "enable"}">${escapeHtml(c.is_active ? A.disable : A.enable)}</button>
      <button type="button" class="link danger" data-delete-channel="${c.id}">${escapeHtml(A.delete)}</button>` : ""}</td></tr>`).join("");
}

// what the admin pastes at the provider (a webhook URL) or into the website (the widget's tag)
function channelAddress(c) {
  if (c.embed_code) {
    return `<div class="embed" data-testid="channel-embed"><span class="muted small">${escapeHtml(A.embed_hint)}</span>
      <code class="copy mono" data-embed="${c.id}">${escapeHtml(c.embed_code)}</code>
      <button type="button" class="small" data-copy="${c.id}" data-testid="embed-copy">${escapeHtml(A.copy)}</button></div>`;
  }
  return c.webhook_url ? `<code class="copy" title="${escapeHtml(c.webhook_url)}">${escapeHtml(c.webhook_url)}</code>` : "—";
}

async function copyText(text, button) {
  try { await navigator.clipboard.writeText(text); }
  catch {  // no clipboard permission (plain http): select the text for Ctrl+C
    const code = button.previousElementSibling;
    getSelection().selectAllChildren(code);
  }
  button.textContent = A.copied;
  setTimeout(() => { button.textContent = A.copy; }, 2000);
}

// A form field for each property of an adapter's JSON Schema (strings, numbers, booleans, lists of strings).
// The page's language ("ru" / "en"); words the server sends in both ({"en": …, "ru": …}) are shown in it.
const LANG = (document.documentElement.lang || "en").slice(0, 2);
function inLang(words) { return words ? words[LANG] || words.en || "" : ""; }

function schemaFields(schema) {
  const required = new Set(schema.required || []);
  return Object.entries(schema.properties || {}).map(([name, prop]) => {
    const type = prop.type || (prop.anyOf || []).map((p) => p.type).find((t) => t && t !== "null") || "string";
    const label = escapeHtml(inLang(prop["x-label"]) || prop.title || name);
    const helpText = inLang(prop["x-help"]) || prop.description;
    const help = helpText ? `<span class="muted small">${escapeHtml(helpText)}</span>` : "";
    const req = required.has(name) ? "required" : "";
    const secret = prop.format === "password" || prop.writeOnly || /secret|token|password/i.test(name);
    if (type === "boolean") return `<label class="check"><input type="checkbox" name="${escapeHtml(name)}" data-type="boolean" ${prop.default ? "checked" : ""}> ${label} ${help}</label>`;
    // a list of objects (WhatsApp message templates) is typed as JSON
    if (type === "array" && prop.items && (prop.items.$ref || prop.items.type === "object")) return `<label>${label} <textarea name="${escapeHtml(name)}" data-type="json" rows="3" ${req} placeholder='[{"name": "…"}]'></textarea> ${help}</label>`;
    if (type === "array") return `<label>${label} <input name="${escapeHtml(name)}" data-type="array" ${req} placeholder="a, b"> ${help}</label>`;
    const inputType = type === "integer" || type === "number" ? "number" : secret ? "password" : "text";
    const value = prop.default !== undefined && prop.default !== null ? `value="${escapeHtml(prop.default)}"` : "";
    const min = prop.minLength ? `minlength="${escapeHtml(prop.minLength)}"` : "";
    return `<label>${label} <input type="${inputType}" name="${escapeHtml(name)}" data-type="${escapeHtml(type)}" ${req} ${min} ${value} autocomplete="off"> ${help}</label>`;
  }).join("");
}

// The settings the form holds. Editing: an empty secret is left out (the stored one is kept),
// an emptied plain field is sent as null (the adapter's model decides whether that is allowed).
function configFromForm(fieldset, editing = false) {
  const config = {};
  $$("input, textarea", fieldset).forEach((input) => {
    const type = input.dataset.type;
    if (type === "boolean") config[input.name] = input.checked;
    else if (input.value === "") { if (editing && input.type !== "password") config[input.name] = null; }
    else if (type === "json") config[input.name] = JSON.parse(input.value);
    else if (type === "array") config[input.name] = input.value.split(",").map((v) => v.trim()).filter(Boolean);
    else if (type === "integer" || type === "number") config[input.name] = Number(input.value);
    else config[input.name] = input.value;
  });
  return config;
}

// Shows a channel's stored settings in the generated fields (secrets stay hidden: left empty).
function fillConfig(fieldset, config) {
  $$("input", fieldset).forEach((input) => {
    const value = config[input.name];
    if (input.dataset.type === "boolean") input.checked = !!value;
    else if (input.type === "password") { input.value = ""; input.required = false; input.placeholder = A.keep_secret; }
    else if (Array.isArray(value)) input.value = value.join(", ");
    else input.value = value ?? "";
  });
}

let cannedById = {};
let editingCanned = null; // the canned answer the form is editing, or null: adding a new one

async function loadCanned() {
  const rows = $("#canned-rows");
  if (!rows) return;
  const teams = Object.fromEntries($$("#canned-form select[name=team_id] option").map((o) => [o.value, o.textContent]));
  const { items } = await call("GET", "/api/v1/canned-answers");
  cannedById = Object.fromEntries(items.map((a) => [a.id, a]));
  rows.innerHTML = items.map((a) => `<tr data-canned="${a.id}"><td><code>/${escapeHtml(a.shortcut)}</code></td><td>${escapeHtml(a.language)}</td>
    <td>${escapeHtml(teams[a.team_id ?? ""] || "")}</td><td>${escapeHtml(a.title)}</td><td class="small">${escapeHtml(a.body)}</td>
    <td><button type="button" class="small" data-edit-canned="${a.id}">${escapeHtml(A.edit)}</button>
      <button type="button" class="link danger" data-delete-canned="${a.id}">${escapeHtml(A.delete)}</button></td></tr>`).join("");
}

// edit fills the form below (saved with PATCH), delete asks first; both re-read the list
function initCannedRows() {
  const form = $("#canned-form");
  const rows = $("#canned-rows");
  if (!form || !rows) return;
  const stopEditing = () => {
    editingCanned = null;
    form.reset();
    $("[data-testid=canned-submit]", form).textContent = A.add_canned;
    $("#canned-cancel").hidden = true;
  };
  $("#canned-cancel").addEventListener("click", stopEditing);
  rows.addEventListener("click", async (event) => {
    const edit = event.target.closest("[data-edit-canned]");
    const remove = event.target.closest("[data-delete-canned]");
    if (edit) {
      const a = cannedById[edit.dataset.editCanned];
      editingCanned = a.id;
      form.shortcut.value = a.shortcut; form.language.value = a.language; form.title.value = a.title; form.body.value = a.body;
      form.team_id.value = a.team_id ?? "";
      $("[data-testid=canned-submit]", form).textContent = A.save_changes;
      $("#canned-cancel").hidden = false;
      form.scrollIntoView({ block: "nearest" });
    } else if (remove) {
      const a = cannedById[remove.dataset.deleteCanned];
      if (!confirm(A.confirm_delete.replace("%(name)s", `/${a.shortcut}`))) return;
      try { await call("DELETE", `/api/v1/canned-answers/${a.id}`); if (editingCanned === a.id) stopEditing(); await loadCanned(); }
      catch (e) { toast(e.message, true); }
    }
  });
  form.addEventListener("okno:canned-saved", stopEditing);
}

async function initChannelForm() {
  const form = $("#channel-form");
  if (!form) return;
  const { items } = await call("GET", "/api/v1/channels/kinds");
  const kinds = Object.fromEntries(items.map((k) => [k.kind, k]));
  const select = $("#channel-kind");
  select.innerHTML = items.map((k) => `<option value="${escapeHtml(k.kind)}">${escapeHtml(inLang(k.titles) || k.title)}</option>`).join("");
  let editing = null;  // the channel being edited, or null: connecting a new one
  const render = () => {
    const kind = kinds[select.value];
    $("#channel-config").innerHTML = `<legend>${escapeHtml(inLang(kind.titles) || kind.title)}</legend>` + schemaFields(kind.config_schema);
    $("#channel-kind-help").textContent = inLang(kind.config_schema["x-help"]) || kind.config_schema.description || "";
  };
  const startCreating = () => {
    editing = null;
    form.reset();
    select.disabled = false;
    $("#channel-form-title").textContent = A.connect_title;
    $("[data-testid=channel-create]", form).textContent = A.connect;
    $("#channel-cancel").hidden = true;
    render();
  };
  const startEditing = (channel) => {
    editing = channel;
    select.value = channel.kind;
    select.disabled = true;  // a channel keeps its kind
    render();
    form.name.value = channel.name;
    $("#channel-team").value = channel.team_id ?? "";
    fillConfig($("#channel-config"), channel.config);
    $("#channel-form-title").textContent = A.edit_title.replace("%(name)s", channel.name);
    $("[data-testid=channel-create]", form).textContent = A.save_changes;
    $("#channel-cancel").hidden = false;
    $("#channel-error").hidden = true;
    form.scrollIntoView({ block: "nearest" });
  };
  select.addEventListener("change", render);
  $("#channel-cancel").addEventListener("click", startCreating);
  render();
  $("#channel-rows").addEventListener("click", async (event) => {
    const edit = event.target.closest("[data-edit-channel]");
    if (edit) { startEditing(channelsById[edit.dataset.editChannel]); return; }
    const copy = event.target.closest("[data-copy]");
    if (copy) { copyText(channelsById[copy.dataset.copy].embed_code, copy); return; }
    const remove = event.target.closest("[data-delete-channel]");
    if (remove) {
      const channel = channelsById[remove.dataset.deleteChannel];
      if (!confirm(A.confirm_delete_channel.replace("%(name)s", channel.name))) return;
      try { await call("DELETE", `/api/v1/channels/${channel.id}`); toast(A.deleted); if (editing?.id === channel.id) startCreating(); await loadChannels(); }
      catch (e) { toast(e.message, true); }
      return;
    }
    const toggle = event.target.closest("[data-toggle-channel]");
    if (!toggle) return;
    try {
      await call("POST", `/api/v1/channels/${toggle.dataset.toggleChannel}/${toggle.dataset.action}`);
      await loadChannels();
    } catch (e) { toast(e.message, true); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("#channel-error");
    error.hidden = true;
    const team = $("#channel-team").value ? Number($("#channel-team").value) : null;
    try {
      if (editing) {
        await call("PATCH", `/api/v1/channels/${editing.id}`, { name: form.name.value, team_id: team, config: configFromForm($("#channel-config"), true) });
      } else {
        await call("POST", "/api/v1/channels", { kind: select.value, name: form.name.value, team_id: team, config: configFromForm($("#channel-config")) });
      }
      startCreating();
      await loadChannels();
    } catch (e) { error.textContent = e.message; error.hidden = false; }
  });
}

async function initAdmin() {
  if (!$("#admin")) return;
  initAdminControls();  // listeners first: the tables below load asynchronously
  await loadChannels();
  await loadCanned();
  initCannedRows();
  await initChannelForm();
}

function initAdminControls() {
  const cannedForm = $("#canned-form");
  cannedForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = cannedForm;
    try {
      const body = {
        shortcut: f.shortcut.value, language: f.language.value, title: f.title.value, body: f.body.value,
        team_id: f.team_id.value ? Number(f.team_id.value) : null,
      };
      if (editingCanned) await call("PATCH", `/api/v1/canned-answers/${editingCanned}`, body);
      else await call("POST", "/api/v1/canned-answers", body);
      f.reset();
      f.dispatchEvent(new Event("okno:canned-saved"));
      $("#canned-error").hidden = true;
      await loadCanned();
    } catch (e) { $("#canned-error").textContent = e.message; $("#canned-error").hidden = false; }
  });
  const submitJson = (formId, url, errorId, body) => {
    const f = $(formId);
    f?.addEventListener("submit", async (event) => {
      event.preventDefault();
      try { await call("POST", url, body(f)); location.reload(); }
      catch (e) { $(errorId).textContent = e.message; $(errorId).hidden = false; }
    });
  };
  initOperatorForm();
  submitJson("#team-form", "/api/v1/teams", "#team-error", (f) => ({ name: f.name.value }));
  $$("button[data-delete-team]").forEach((button) => button.addEventListener("click", async () => {
    if (!confirm(button.dataset.confirm)) return;
    try { await call("DELETE", `/api/v1/teams/${button.dataset.deleteTeam}`); location.reload(); }
    catch (e) { toast(e.message, true); }
  }));
  $$("[data-team-field]").forEach((field) => field.addEventListener("change", async () => {
    const team = field.closest("[data-team]").dataset.team;
    const name = field.dataset.teamField;
    const value = field.type === "checkbox" ? field.checked : name.endsWith("_id") ? (field.value ? Number(field.value) : null) : field.value;
    try { await call("PATCH", `/api/v1/teams/${team}`, { [name]: value }); toast("✓"); }
    catch (e) { toast(e.message, true); }
  }));
  $$("input[data-member]").forEach((box) => box.addEventListener("change", async () => {
    const team = box.closest("[data-team]").dataset.team;
    try {
      if (box.checked) await call("POST", `/api/v1/teams/${team}/members`, { operator_id: Number(box.dataset.member) });
      else await call("DELETE", `/api/v1/teams/${team}/members/${box.dataset.member}`);
      toast("✓");
    } catch (e) { box.checked = !box.checked; toast(e.message, true); }
  }));
  $$("input[data-experienced]").forEach((box) => box.addEventListener("change", async () => {
    try { await call("PATCH", `/api/v1/operators/${box.dataset.experienced}`, { experienced: box.checked }); toast("✓"); }
    catch (e) { box.checked = !box.checked; toast(e.message, true); }
  }));
  initAccounts();
}

// ---- accounts and API tokens (admins) ----------------------------------------------------------

// adds an operator, or (after "Edit" in his row) changes his name and e-mail; "Delete" removes an
// account that has done nothing yet (the API refuses, with the reason, one that has history)
function initOperatorForm() {
  const form = $("#operator-form");
  if (!form) return;
  let editing = null;
  const submit = $("[data-testid=operator-submit]", form);
  const mode = (id) => {
    editing = id;
    $$("[data-new-only]", form).forEach((label) => {
      label.style.display = id ? "none" : "";  // a password is reset and a role changed in the row, not here
      const input = $("input", label);
      if (input) input.required = !id;
    });
    submit.textContent = id ? submit.dataset.edit : submit.dataset.new;
    $("#operator-cancel").hidden = !id;
    $("#operator-error").hidden = true;
  };
  $("#operator-cancel").addEventListener("click", () => { form.reset(); mode(null); });
  $$("button[data-edit-operator]").forEach((button) => button.addEventListener("click", () => {
    mode(button.dataset.editOperator);
    form.name.value = button.dataset.name;
    form.email.value = button.dataset.email;
    form.name.focus();
  }));
  $$("button[data-delete-operator]").forEach((button) => button.addEventListener("click", async () => {
    if (!confirm(button.dataset.confirm)) return;
    try { await call("DELETE", `/api/v1/operators/${button.dataset.deleteOperator}`); location.reload(); }
    catch (e) { toast(e.message, true); }
  }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      if (editing) await call("PATCH", `/api/v1/operators/${editing}`, { name: form.name.value, email: form.email.value });
      else await call("POST", "/api/v1/operators", { name: form.name.value, email: form.email.value, password: form.password.value, role: form.role.value });
      location.reload();
    } catch (e) { $("#operator-error").textContent = e.message; $("#operator-error").hidden = false; }
  });
}

function initAccounts() {
  const patch = (id, body) => call("PATCH", `/api/v1/operators/${id}`, body);
  $$("select[data-account-role]").forEach((select) => {
    const before = select.value;
    select.addEventListener("change", async () => {
      try { await patch(select.dataset.accountRole, { role: select.value }); toast("✓"); }
      catch (e) { select.value = before; toast(e.message, true); }
    });
  });
  $$("input[data-account-active]").forEach((box) => box.addEventListener("change", async () => {
    try { await patch(box.dataset.accountActive, { is_active: box.checked }); toast("✓"); }
    catch (e) { box.checked = !box.checked; toast(e.message, true); }
  }));
  $$("button[data-account-password]").forEach((button) => button.addEventListener("click", async () => {
    const password = prompt(button.dataset.prompt);
    if (!password) return;
    try { await patch(button.dataset.accountPassword, { password }); toast("✓"); }
    catch (e) { toast(e.message, true); }
  }));
  $$("button[data-token-revoke]").forEach((button) => button.addEventListener("click", async () => {
    if (!confirm(button.dataset.confirm)) return;
    try { await call("DELETE", `/api/v1/api-tokens/${button.dataset.tokenRevoke}`); location.reload(); }
    catch (e) { toast(e.message, true); }
  }));
  const form = $("#token-form");
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: form.name.value, role: form.role.value,
      team_ids: [...form.team_ids.selectedOptions].map((o) => Number(o.value)),
      expires_at: form.expires.value ? new Date(`${form.expires.value}T23:59:59Z`).toISOString() : null,
    };
    try {
      const created = await call("POST", "/api/v1/api-tokens", body);
      $("#token-secret").textContent = created.token;
      $("#token-created").hidden = false;
      form.hidden = true;
    } catch (e) { $("#token-error").textContent = e.message; $("#token-error").hidden = false; }
  });
  $("#token-done")?.addEventListener("click", () => location.reload());
}

// ---- the service process ----------------------------------------------------------------------

const FIELDS = JSON.parse(document.getElementById("condition-fields")?.textContent || '{"fields": [], "ops": {}}');
const LIST_OPS = ["in", "not_in", "contains", "not_contains"];
const words = (text) => text.split(",").map((v) => v.trim()).filter(Boolean);

// Fills every picker (select[data-options]) under ``scope`` from the page's option lists, keeping
// what is chosen where it still exists.
function fillPickers(scope, options = $("#service-options")?.content) {
  $$("select[data-options]", scope).forEach((select) => {
    const source = options && $(`select[data-options="${select.dataset.options}"]`, options);
    if (!source) return;
    const chosen = select.value;
    select.innerHTML = source.innerHTML;
    select.value = $(`option[value="${CSS.escape(chosen)}"]`, select) ? chosen : "";
  });
}

// Re-reads the sections after a change: lists are replaced, the options of every picker that
// names teams, calendars, policies… follow; forms being filled in are left alone.
async function refreshService() {
  const html = await fragment("/ui/admin/service");
  if (html === null) return;
  const fresh = document.createElement("template");
  fresh.innerHTML = html;
  const typing = fieldBeingTyped();
  $$("#service-admin [data-swap]").forEach((el) => {
    const next = $(`[data-swap="${el.dataset.swap}"]`, fresh.content);
    if (next) el.replaceWith(next);
  });
  if (typing) typing.restore();
  const options = $("#service-options", fresh.content);
  if (options) $("#service-options")?.replaceWith(options);
  fillPickers(document);
}

// A field inside a redrawn list that the admin is typing in (focus there, e.g. the next name after
// Tab saved the previous one): its text, caret and focus are put back into the field that
// replaces it, found by its identifying attributes, else by its place in the list.
const FIELD_TAGS = ["INPUT", "TEXTAREA", "SELECT"];
const IDENTIFYING = (a) => a.name.startsWith("data-") || ["id", "name", "type", "aria-label"].includes(a.name);

function fieldBeingTyped() {
  const el = document.activeElement;
  const list = el?.closest?.("#service-admin [data-swap]");
  if (!list || !FIELD_TAGS.includes(el.tagName) || ["checkbox", "radio"].includes(el.type)) return null;
  const selector = el.tagName.toLowerCase() + [...el.attributes].filter(IDENTIFYING).map((a) => `[${a.name}="${CSS.escape(a.value)}"]`).join("");
  const place = $$("input, textarea, select", list).indexOf(el);
  const { value } = el;
  let caret = null;
  try { caret = [el.selectionStart, el.selectionEnd, el.selectionDirection]; } catch { /* a type without a caret */ }
  return {
    restore() {
      const now = $(`#service-admin [data-swap="${CSS.escape(list.dataset.swap)}"]`);
      if (!now) return;
      const same = $$(selector, now);
      const field = same.length === 1 ? same[0] : $$("input, textarea, select", now)[place];
      if (!field || field.tagName !== el.tagName) return;
      field.value = value;
      field.focus({ preventScroll: true });
      if (caret && caret[0] !== null) try { field.setSelectionRange(...caret); } catch { /* ditto */ }
    },
  };
}

// The values of generated fields ([data-param], from a JSON Schema: okno.web.schema_forms), read
// back by their data-type; empty ones are left out.
function paramsFrom(scope) {
  const params = {};
  $$("[data-param]", scope).forEach((el) => {
    const type = el.dataset.type;
    if (type === "boolean") { params[el.dataset.param] = el.checked; return; }
    const raw = el.value.trim();
    if (raw === "") return;
    if (type === "array") params[el.dataset.param] = words(raw);
    else if (type === "integer" || type === "number") params[el.dataset.param] = Number.isNaN(Number(raw)) ? raw : Number(raw);
    else params[el.dataset.param] = raw;
  });
  return params;
}

// The API words its refusals as "<where> <what is wrong>", e.g. "conditions[0].value is not a
// valid regular expression: …" or "weekly.mon[0] has a time that is not HH:MM". The message is
// shown under the form and the field it names (the longest matching data-path) is marked.
function showError(form, error) {
  const box = $(`#${form.id}-error`);
  box.textContent = error.message;
  box.hidden = false;
  const where = error.path || (error.message.match(/^[a-z_]+(?:\.[a-z_]+|\[\d+\])*/i) || [""])[0];
  const fits = (path) => where === path || where.startsWith(path + ".") || where.startsWith(path + "[");
  const candidates = $$("[data-path]", form).filter((el) => fits(el.dataset.path));
  const longest = Math.max(0, ...candidates.map((el) => el.dataset.path.length));
  const marked = candidates.filter((el) => el.dataset.path.length === longest);
  marked.forEach((el) => {
    el.classList.add("invalid");
    if (el.matches("input, select, textarea")) { el.setAttribute("aria-invalid", "true"); el.setAttribute("aria-errormessage", box.id); }
  });
  const first = marked[0];
  (first?.matches("input, select, textarea") ? first : first && $("input, select, textarea", first))?.focus();
}

function clearErrors(form) {
  $(`#${form.id}-error`).hidden = true;
  $$(".invalid", form).forEach((el) => { el.classList.remove("invalid"); el.removeAttribute("aria-invalid"); el.removeAttribute("aria-errormessage"); });
}

// Posts a new object, or patches the one the form is editing (form.dataset.editing: its id).
const save = (form, body) => (form.dataset.editing
  ? call("PATCH", `${form.dataset.url}/${form.dataset.editing}`, body)
  : call("POST", form.dataset.url, body));

// "Edit" in a row fills the form below and turns its button into "Save changes"; cancelling,
// or saving, turns it back into the form that adds a new one.
function startEditing(form, id) {
  form.dataset.editing = id;
  const button = $("button[type=submit]", form);
  button.textContent = button.dataset.edit;
  $("[data-cancel-edit]", form).hidden = false;
  const title = $("[data-form-title]", form);
  if (title) title.textContent = title.dataset.edit;
  clearErrors(form);
  form.scrollIntoView({ block: "nearest" });
  $("input, select", form)?.focus();
}

function stopEditing(form) {
  delete form.dataset.editing;
  const button = $("button[type=submit]", form);
  if (button.dataset.new) button.textContent = button.dataset.new;
  const cancel = $("[data-cancel-edit]", form);
  if (cancel) cancel.hidden = true;
  const title = $("[data-form-title]", form);
  if (title) title.textContent = title.dataset.new;
}

function resetServiceForm(form) {
  form.reset();
  $$(".condition-rows", form).forEach((rows) => { rows.innerHTML = ""; });
  $$(".action-rows", form).forEach((rows) => { rows.innerHTML = ""; rows.append(actionRow()); numberActions(rows); });
  stopEditing(form);
}

function serviceForm(id, send) {
  const form = $(`#${id}`);
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = $("button[type=submit]", form);
    button.disabled = true;
    try {
      await send(form);
      resetServiceForm(form);
      await refreshService();
      toast("✓");
    } catch (error) {
      showError(form, error);
    } finally {
      button.disabled = false;
    }
  });
}

// ---- conditions: one row per {field, op, value}, the same for routing and automation rules

function conditionRow() {
  const row = document.createElement("div");
  row.className = "condition row-fields";
  const fields = FIELDS.fields.map((f) => `<option value="${escapeHtml(f.key)}">${escapeHtml(f.label)}</option>`).join("");
  row.innerHTML = `<select class="cond-field" aria-label="${escapeHtml(A.field)}">${fields}</select>
    <input class="cond-attr" aria-label="${escapeHtml(A.attribute)}" placeholder="vip_tier" size="12">
    <select class="cond-op" aria-label="${escapeHtml(A.operator)}"></select>
    <input class="cond-value" aria-label="${escapeHtml(A.value)}" size="28">
    <input type="time" class="cond-from" aria-label="${escapeHtml(A.from)}" value="09:00">
    <input type="time" class="cond-to" aria-label="${escapeHtml(A.to)}" value="18:00">
    <input class="cond-tz" aria-label="${escapeHtml(A.timezone)}" value="Europe/Moscow" list="time-zones" size="16">
    <input type="number" class="cond-window" aria-label="${escapeHtml(A.window_days)}" title="${escapeHtml(A.window_days)}" value="30" min="1" max="365" size="4">
    <button type="button" class="link danger" data-remove-condition aria-label="${escapeHtml(A.remove)}">×</button>`;
  fitRow(row);
  return row;
}

// shows the inputs the chosen field and operator take
function fitRow(row) {
  const field = fieldOf(row);
  const op = $(".cond-op", row);
  const chosen = op.value;
  op.innerHTML = field.ops.map((o) => `<option value="${escapeHtml(o)}">${escapeHtml(FIELDS.ops[o] || o)}</option>`).join("");
  if (field.ops.includes(chosen)) op.value = chosen;
  const timed = field.widget === "time_range";
  $(".cond-attr", row).hidden = !field.key.endsWith(".");
  $(".cond-from", row).hidden = !timed;
  $(".cond-to", row).hidden = !timed;
  $(".cond-tz", row).hidden = !field.extras.includes("timezone");
  $(".cond-window", row).hidden = !field.extras.includes("window_days");
  const value = $(".cond-value", row);
  value.hidden = timed || op.value === "exists" || op.value === "not_exists";
  value.placeholder = field.widget === "weekdays" ? A.weekday_hint : LIST_OPS.includes(op.value) ? A.list_hint : "";
}

// the registry's entry for the row's field: its operators, value widget and extras (okno.routing.conditions)
const fieldOf = (row) => FIELDS.fields.find((f) => f.key === $(".cond-field", row).value) || { key: "", ops: [], widget: "text", extras: [] };

function numberRows(rows) {
  $$(".condition", rows).forEach((row, index) => { row.dataset.path = `conditions[${index}]`; });
}

function conditionFrom(row) {
  const spec = fieldOf(row);
  const prefixed = spec.key.endsWith(".");  // customer.<attribute>
  const field = prefixed ? spec.key + $(".cond-attr", row).value.trim() : spec.key;
  const op = $(".cond-op", row).value;
  const condition = { field, op };
  if (op === "exists" || op === "not_exists") return condition;
  if (spec.extras.includes("timezone")) condition.timezone = $(".cond-tz", row).value.trim();
  if (spec.extras.includes("window_days")) condition.window_days = Number($(".cond-window", row).value || 30);
  if (spec.widget === "time_range") { condition.value = [$(".cond-from", row).value, $(".cond-to", row).value]; return condition; }
  const raw = $(".cond-value", row).value.trim();
  const numeric = spec.widget === "number" || op === "gte" || op === "lte";
  const scalar = (v) => {
    if (numeric && v !== "" && !Number.isNaN(Number(v))) return Number(v);
    if (prefixed && (v === "true" || v === "false")) return v === "true";
    return v;
  };
  if (spec.widget === "weekdays") condition.value = words(raw).map((d) => d.toLowerCase());
  else if (LIST_OPS.includes(op)) condition.value = words(raw).map(scalar);
  else if (op === "matches") condition.value = raw;
  else condition.value = scalar(raw);
  return condition;
}

const conditionsOf = (form) => $$(".condition", form).map(conditionFrom);

// ---- automation actions: one row per action, its fields generated from the action's params schema

function actionRow(type) {
  const row = $("#action-row").content.firstElementChild.cloneNode(true);
  if (type) $(".action-type", row).value = type;
  fitAction(row);
  return row;
}

// shows the chosen action's fields (a copy of its template), pickers filled from the page's lists
function fitAction(row) {
  const type = $(".action-type", row).value;
  const params = $(".action-params", row);
  params.replaceChildren($(`template[data-action-params="${CSS.escape(type)}"]`).content.cloneNode(true));
  fillPickers(params);
  const rows = row.closest(".action-rows");
  if (rows) numberActions(rows);
}

// data-path actions[i] and actions[i].<param>: the API's refusals name them, showError marks them
function numberActions(rows) {
  $$(".action", rows).forEach((row, index) => {
    row.dataset.path = `actions[${index}]`;
    $$("[data-param]", row).forEach((el) => { el.dataset.path = `actions[${index}].${el.dataset.param}`; });
  });
}

const actionsOf = (form) => $$(".action", form).map((row) => ({ type: $(".action-type", row).value, ...paramsFrom($(".action-params", row)) }));

// ---- filling the forms with what is stored (editing)

// the values of generated fields ([data-param]) from an object: lists comma-separated
function setParams(scope, values) {
  $$("[data-param]", scope).forEach((el) => {
    const value = values[el.dataset.param];
    if (el.dataset.type === "boolean") el.checked = !!value;
    else el.value = Array.isArray(value) ? value.join(", ") : value ?? "";
  });
}

// one condition row from a stored {field, op, value, timezone?, window_days?}
function conditionRowFor(c) {
  const row = conditionRow();
  const exact = FIELDS.fields.find((f) => f.key === c.field);
  const prefixed = exact ? null : FIELDS.fields.find((f) => f.key.endsWith(".") && c.field.startsWith(f.key));
  $(".cond-field", row).value = (exact || prefixed || { key: c.field }).key;
  if (prefixed) $(".cond-attr", row).value = c.field.slice(prefixed.key.length);
  fitRow(row);
  $(".cond-op", row).value = c.op;
  fitRow(row);
  const spec = fieldOf(row);
  if (c.timezone) $(".cond-tz", row).value = c.timezone;
  if (c.window_days) $(".cond-window", row).value = c.window_days;
  if (spec.widget === "time_range" && Array.isArray(c.value)) { $(".cond-from", row).value = c.value[0]; $(".cond-to", row).value = c.value[1]; }
  else if (c.value !== undefined) $(".cond-value", row).value = Array.isArray(c.value) ? c.value.join(", ") : String(c.value);
  return row;
}

function fillConditions(form, conditions) {
  const rows = $(".condition-rows", form);
  rows.replaceChildren(...(conditions || []).map(conditionRowFor));
  numberRows(rows);
}

const FILL = {
  "routing-form": (f, rule) => {
    f.name.value = rule.name;
    $$("input[name=events]", f).forEach((box) => { box.checked = rule.events.includes(box.value); });
    fillConditions(f, rule.conditions);
    setParams($("[data-params=routing-actions]", f), rule.actions || {});
    f.stop.checked = rule.stop;
    f.enabled.checked = rule.enabled;
  },
  "automation-form": (f, rule) => {
    f.name.value = rule.name;
    f.event.value = rule.event;
    fillConditions(f, rule.conditions);
    const rows = $(".action-rows", f);
    rows.replaceChildren(...rule.actions.map((action) => {
      const row = actionRow(action.type);
      setParams($(".action-params", row), action);
      return row;
    }));
    numberActions(rows);
    f.enabled.checked = rule.enabled;
  },
  "calendar-form": (f, c) => {
    f.name.value = c.name;
    f.timezone.value = c.timezone;
    $$("input[data-day]", f).forEach((input) => { input.value = (c.weekly[input.dataset.day] || []).map(([from, to]) => `${from}–${to}`).join(", "); });
    f.holidays.value = (c.holidays || []).join(", ");
  },
  "policy-form": (f, p) => {
    $$("input[data-target]", f).forEach((input) => {
      const [priority, metric] = input.dataset.target.split(".");
      input.value = (p.targets[priority] || {})[metric] ?? "";
    });
    f.name.value = p.name;
    f.warning_minutes.value = p.warning_minutes;
    f.is_default.checked = p.is_default;
  },
};

function editFromRow(formId, data) {
  const form = $(`#${formId}`);
  resetServiceForm(form);
  FILL[formId](form, data);
  startEditing(form, data.id);
}

// ---- the forms

const label = (f) => ({ ru: f.label_ru.value, en: f.label_en.value });

function initServiceForms() {
  serviceForm("status-form", (f) => call("POST", "/api/v1/statuses", { key: f.key.value, type: f.type.value, label: label(f) }));
  serviceForm("reason-form", (f) => call("POST", "/api/v1/reasons", { key: f.key.value, label: label(f) }));
  serviceForm("routing-form", (f) => save(f, {
    name: f.name.value, events: $$("input[name=events]:checked", f).map((box) => box.value),
    conditions: conditionsOf(f), actions: paramsFrom($("[data-params=routing-actions]", f)), stop: f.stop.checked, enabled: f.enabled.checked,
  }));
  serviceForm("calendar-form", (f) => {
    const weekly = {};
    $$("input[data-day]", f).forEach((input) => {
      const intervals = words(input.value).map((part) => part.split(/\s*[–—-]\s*/));
      if (intervals.length) weekly[input.dataset.day] = intervals;
    });
    const holidays = f.holidays.value.split(/[\s,;]+/).filter(Boolean);
    return save(f, { name: f.name.value, timezone: f.timezone.value.trim(), weekly, holidays });
  });
  serviceForm("policy-form", (f) => {
    const targets = {};
    $$("input[data-target]", f).forEach((input) => {
      if (input.value === "") return;
      const [priority, metric] = input.dataset.target.split(".");
      (targets[priority] ||= {})[metric] = Number(input.value);
    });
    return save(f, {
      name: f.name.value, targets, warning_minutes: Number(f.warning_minutes.value || 0), is_default: f.is_default.checked,
    });
  });
  serviceForm("automation-form", (f) => save(f, {
    name: f.name.value, event: f.event.value, conditions: conditionsOf(f), actions: actionsOf(f), enabled: f.enabled.checked,
  }));
  const actionRows = $("#automation-form .action-rows");
  if (actionRows) { actionRows.append(actionRow()); numberActions(actionRows); }
}

// ---- changes made in the lists: toggles, order, deletion

const RULES = { routing: "/api/v1/routing/rules", automation: "/api/v1/automation/rules" };

async function change(method, url, body) {
  try { await call(method, url, body); toast("✓"); } catch (e) { toast(e.message, true); }
  await refreshService();
}

// swaps a routing rule with its neighbour (positions equal: it goes just before or after it)
async function moveRule(row, step) {
  const rows = $$("tr[data-routing-rule]");
  const other = rows[rows.indexOf(row) + step];
  if (!other) return;
  const mine = Number(row.dataset.position);
  const theirs = Number(other.dataset.position);
  const [next, otherNext] = mine !== theirs ? [theirs, mine] : [theirs + step, theirs];
  try {
    await call("PATCH", `${RULES.routing}/${row.dataset.routingRule}`, { position: next });
    await call("PATCH", `${RULES.routing}/${other.dataset.routingRule}`, { position: otherNext });
  } catch (e) { toast(e.message, true); }
  await refreshService();
}

function initServiceLists() {
  const root = $("#service-admin");
  if (!root) return;
  root.addEventListener("change", (event) => {
    const el = event.target;
    if (el.matches(".cond-field, .cond-op")) fitRow(el.closest(".condition"));
    else if (el.matches(".action-type")) fitAction(el.closest(".action"));
    else if (el.dataset.statusType) change("PATCH", `/api/v1/statuses/${el.dataset.statusType}`, { type: el.value });
    else if (el.dataset.reasonActive) change("PATCH", `/api/v1/reasons/${el.dataset.reasonActive}`, { active: el.checked });
    else if (el.dataset.policyDefault) change("PATCH", `/api/v1/sla/policies/${el.dataset.policyDefault}`, { is_default: el.checked });
    else if (el.dataset.labelOf) {  // a status's or reason's Russian and English names, renamed in place
      const row = el.closest("tr");
      const words = Object.fromEntries($$("[data-label-of]", row).map((input) => [input.dataset.lang, input.value.trim()]));
      change("PATCH", `/api/v1/${el.dataset.labelOf}`, { label: words });
    }
    else if (el.dataset.policyActive) change("PATCH", `/api/v1/sla/policies/${el.dataset.policyActive}`, { is_active: el.checked });
    else if (el.dataset.ruleEnabled) {
      const [kind, id] = el.dataset.ruleEnabled.split("/");
      change("PATCH", `${RULES[kind]}/${id}`, { enabled: el.checked });
    }
  });
  root.addEventListener("click", (event) => {
    const el = event.target.closest("button");
    if (!el) return;
    if (el.matches("[data-add-condition]")) {
      const rows = $(".condition-rows", el.closest("fieldset"));
      rows.append(conditionRow());
      numberRows(rows);
      $(".cond-field", rows.lastElementChild).focus();
    } else if (el.matches("[data-add-action]")) {
      const rows = $(".action-rows", el.closest("fieldset"));
      rows.append(actionRow());
      numberActions(rows);
      $(".action-type", rows.lastElementChild).focus();
    } else if (el.matches("[data-remove-action]")) {
      const rows = el.closest(".action-rows");
      el.closest(".action").remove();
      numberActions(rows);
    } else if (el.matches("[data-remove-condition]")) {
      const rows = el.closest(".condition-rows");
      el.closest(".condition").remove();
      numberRows(rows);
    } else if (el.dataset.move) {
      moveRule(el.closest("tr"), Number(el.dataset.move));
    } else if (el.dataset.editRule) {
      editFromRow(el.dataset.editRule, JSON.parse(el.closest("tr").dataset.rule));
    } else if (el.dataset.editRow) {
      editFromRow(el.dataset.editRow, JSON.parse(el.closest("tr").dataset.row));
    } else if (el.matches("[data-cancel-edit]")) {
      resetServiceForm(el.closest("form"));
    } else if (el.dataset.deleteUrl) {
      if (!confirm(A.confirm_delete.replace("%(name)s", el.dataset.name))) return;
      const form = $$("form[data-editing]", root).find((f) => el.dataset.deleteUrl === `${f.dataset.url}/${f.dataset.editing}`);
      if (form) resetServiceForm(form);
      change("DELETE", el.dataset.deleteUrl);
    } else if (el.dataset.deleteRule) {
      if (!confirm((A.confirm_delete || "%(name)s").replace("%(name)s", el.dataset.name))) return;
      const [kind, id] = el.dataset.deleteRule.split("/");
      change("DELETE", `${RULES[kind]}/${id}`);
    }
  });
  fillPickers(root);
  initServiceForms();
}

document.addEventListener("DOMContentLoaded", () => {
  initAdmin();
  initServiceLists();
});
