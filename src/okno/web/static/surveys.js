// The surveys page: the admin's form posts to /api/v1/surveys (new) or patches one (edit).
"use strict";

(() => {
  const form = document.getElementById("survey-form");
  if (!form) return;
  const surveys = JSON.parse(document.getElementById("okno-surveys")?.textContent || "[]");
  const title = document.getElementById("survey-form-title");
  const error = document.getElementById("survey-error");

  const texts = (prefix) => {
    const ru = form.elements[`${prefix}_ru`].value.trim();
    const en = form.elements[`${prefix}_en`].value.trim();
    return ru || en ? { ru: ru || null, en: en || null } : null;
  };
  const checked = (name) => Array.from(form.querySelectorAll(`input[name="${name}"]:checked`)).map((box) => Number(box.value));

  function fill(survey) {
    form.elements.id.value = survey.id;
    form.elements.name.value = survey.name;
    form.elements.kind.value = survey.kind;
    form.elements.kind.disabled = true; // a survey's scale never changes
    form.elements.delay_minutes.value = survey.delay_minutes;
    form.elements.is_active.checked = survey.is_active;
    for (const box of form.querySelectorAll('input[name="team_ids"]')) box.checked = survey.team_ids.includes(Number(box.value));
    for (const box of form.querySelectorAll('input[name="channel_ids"]')) box.checked = survey.channel_ids.includes(Number(box.value));
    for (const lang of ["ru", "en"]) {
      form.elements[`question_${lang}`].value = (survey.question || {})[lang] || "";
      form.elements[`follow_up_${lang}`].value = (survey.follow_up || {})[lang] || "";
    }
    title.textContent = title.dataset.edit;
    form.scrollIntoView();
  }

  // a refusal in the page's language when okno words it in both (detail_i18n), else as given
  const reason = (data, status) => {
    const lang = (document.documentElement.lang || "en").slice(0, 2);
    if (data.detail_i18n && data.detail_i18n[lang]) return data.detail_i18n[lang];
    return Array.isArray(data.detail)
      ? data.detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("\n")
      : data.detail || String(status);
  };

  document.addEventListener("click", async (event) => {
    const remove = event.target.closest("[data-survey-delete]");
    if (remove) {
      if (!confirm(remove.dataset.confirm)) return;
      const response = await fetch(`/api/v1/surveys/${remove.dataset.surveyDelete}`, {
        method: "DELETE", credentials: "same-origin", headers: { "X-Okno-Client": "web" },
      });
      if (response.ok) { location.reload(); return; }
      error.textContent = reason(await response.json().catch(() => ({})), response.status);
      error.hidden = false;
      return;
    }
    const id = event.target.closest("[data-survey-edit]")?.dataset.surveyEdit;
    const survey = id && surveys.find((s) => String(s.id) === id);
    if (survey) fill(survey);
  });
  form.addEventListener("reset", () => {
    form.elements.id.value = "";
    form.elements.kind.disabled = false;
    title.textContent = title.dataset.new;
    error.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = form.elements.id.value;
    const body = {
      name: form.elements.name.value.trim(),
      delay_minutes: Number(form.elements.delay_minutes.value || 0),
      team_ids: checked("team_ids"),
      channel_ids: checked("channel_ids"),
      question: texts("question") || {},
      follow_up: texts("follow_up"),
      is_active: form.elements.is_active.checked,
    };
    if (!id) { body.kind = form.elements.kind.value; body.trigger = "resolved"; }
    const response = await fetch(id ? `/api/v1/surveys/${id}` : "/api/v1/surveys", {
      method: id ? "PATCH" : "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Okno-Client": "web" },
      body: JSON.stringify(body),
    });
    if (response.ok) { location.reload(); return; }
    error.textContent = reason(await response.json().catch(() => ({})), response.status);
    error.hidden = false;
  });
})();
