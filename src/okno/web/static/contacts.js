// The contacts page: one dialog creates a contact or edits one (POST / PATCH /api/v1/customers).
// Uses call(), problem() and toast() from app.js (loaded first).
"use strict";

(() => {
  const data = JSON.parse(document.getElementById("okno-contacts")?.textContent || "{}");
  const dialog = document.getElementById("contact-dialog");
  const form = document.getElementById("contact-form");
  if (!dialog || !form) return;
  let editing = null; // the customer id, or null for a new contact

  const lines = (text) => text.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean);
  function attributes(text, before) {
    const out = {};
    for (const line of text.split("\n")) {
      const at = line.indexOf(":");
      if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    for (const key of Object.keys(before || {})) if (!(key in out)) out[key] = null; // a line removed: the attribute goes
    for (const [key, value] of Object.entries(out)) if (before && String(before[key]) === value) delete out[key];
    return out;
  }

  function open(id) {
    editing = id;
    const row = id ? data.rows[id] : null;
    document.getElementById("contact-dialog-title").textContent = id ? data.edit_title : data.new_title;
    form.name.value = row ? row.name : "";
    form.phones.value = "";
    form.emails.value = "";
    form.attributes.value = row ? Object.entries(row.attributes).map(([k, v]) => `${k}: ${v}`).join("\n") : "";
    const known = document.getElementById("contact-known");
    known.hidden = !(row && row.keys.length);
    known.textContent = row ? data.known.replace("%(keys)s", row.keys.join(", ")) : "";
    document.getElementById("contact-error").hidden = true;
    dialog.showModal();
    form.name.focus();
  }

  document.getElementById("contact-new")?.addEventListener("click", () => open(null));
  document.querySelectorAll("[data-edit-contact]").forEach((button) => button.addEventListener("click", () => open(button.dataset.editContact)));
  document.getElementById("contact-cancel").addEventListener("click", () => dialog.close());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const before = editing ? data.rows[editing].attributes : null;
    const body = { name: form.name.value.trim(), phones: lines(form.phones.value), emails: lines(form.emails.value), attributes: attributes(form.attributes.value, before) };
    try {
      await call(editing ? "PATCH" : "POST", editing ? `/api/v1/customers/${editing}` : "/api/v1/customers", body);
      dialog.close();
      toast(data.saved);
      location.reload();
    } catch (error) {
      const shown = document.getElementById("contact-error");
      shown.textContent = error.message;
      shown.hidden = false;
    }
  });
})();
