// okno reports page: reads /api/v1/reports/* (session cookie) and draws tiles, charts (Chart.js,
// served with the app), the operator table, the heat map and drill-down links. No build step.
"use strict";

(() => {
  const root = document.getElementById("reports");
  if (!root) return;
  const page = JSON.parse(document.getElementById("report-page").textContent);
  const L = page.labels;
  const $ = (sel) => root.querySelector(sel);

  const query = (extra) => new URLSearchParams({ ...page.filters, ...extra }).toString();
  const get = async (path, extra) => {
    const response = await fetch(`/api/v1/reports/${path}?${query(extra)}`, { credentials: "same-origin" });
    if (response.status === 401) { location.href = "/login"; throw new Error("signed out"); }
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  };
  const period = { from: page.from, to: page.to };
  const previous = { from: page.previous_from, to: page.from };

  // units in the page's language ("2 ч 05 мин", "3 мин 4 с"), never English abbreviations
  const lang = document.documentElement.lang || "ru";
  const unit = (u) => new Intl.NumberFormat(lang, { style: "unit", unit: u, unitDisplay: "short" });
  const [inHours, inMinutes, inSeconds] = [unit("hour"), unit("minute"), unit("second")];
  const duration = (s) => {
    if (s === null || s === undefined) return "—";
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? `${inHours.format(h)} ${inMinutes.format(m)}` : `${inMinutes.format(m)} ${inSeconds.format(s % 60)}`;
  };
  const percent = (r) => (r === null || r === undefined ? "—" : `${(100 * r).toFixed(1)} %`);
  const score = (v, suffix = "") => (v === null || v === undefined ? "—" : `${v}${suffix}`);
  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);

  const tiles = {
    conversations: (d) => String(d.conversations),
    frt: (d) => duration(d.frt.business_avg_seconds),
    resolution: (d) => duration(d.resolution.business_avg_seconds),
    fcr: (d) => percent(d.fcr_rate),
    repeat: (d) => percent(d.repeat_contact_rate),
    csat: (d) => `${score(d.csat.score, " %")} · ${score(d.nps.score)} · ${score(d.ces.score)}`,
  };

  function drawTiles(now, before) {
    for (const [key, show] of Object.entries(tiles)) {
      const tile = root.querySelector(`[data-kpi="${key}"]`);
      tile.querySelector(".big").textContent = show(now);
      tile.querySelector(".prev").textContent = `${L.previous}: ${show(before)}`;
    }
  }

  const charts = [];
  function chart(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return;
    config.options = { responsive: true, animation: false, ...(config.options || {}) };
    charts.push(new window.Chart(canvas, config));
  }

  // a bucket's or a conversation's calendar day, and an hour's weekday and hour, in the operator's
  // time zone (the page's: the API answers in UTC, and a Moscow day starts at 21:00 UTC the day before)
  const inZone = (options) => new Intl.DateTimeFormat("en-GB", { timeZone: page.time_zone, ...options });
  const dayParts = inZone({ year: "numeric", month: "2-digit", day: "2-digit" });
  const hourParts = inZone({ weekday: "short", hour: "2-digit", hourCycle: "h23" });
  const partsOf = (format, iso) => Object.fromEntries(format.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  const day = (iso) => {
    const p = partsOf(dayParts, iso);
    return `${p.year}-${p.month}-${p.day}`;
  };
  // a day or week bucket is 24 h (168 h) from the period's start: across a daylight-saving change it
  // starts an hour off midnight, so it is named by the day its first 12 hours reach
  const bucketDay = (iso) => day(new Date(Date.parse(iso) + 43200000).toISOString());
  const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const weekdayHour = (iso) => {
    const p = partsOf(hourParts, iso);
    return [WEEKDAYS.indexOf(p.weekday), Number(p.hour) % 24];
  };

  async function drawTrends() {
    const days = (new Date(page.to) - new Date(page.from)) / 86400000;
    const interval = days <= 62 ? "day" : "week";
    const [frt, resolution, csat, nps, ces, repeat] = await Promise.all(
      ["frt", "resolution", "csat", "nps", "ces", "repeat_contact_rate"].map((metric) => get("timeseries", { ...period, metric, interval })),
    );
    const labels = frt.points.map((p) => bucketDay(p.from));
    const hours = (points) => points.map((p) => (p.value.business_avg_seconds === null ? null : +(p.value.business_avg_seconds / 3600).toFixed(2)));
    chart("chart-times", { type: "line", data: { labels, datasets: [{ label: L.frt_business, data: hours(frt.points) }, { label: L.resolution, data: hours(resolution.points) }] }, options: { spanGaps: true } });
    chart("chart-surveys", {
      type: "line",
      data: { labels, datasets: [
        { label: "CSAT %", data: csat.points.map((p) => p.value.score) },
        { label: "NPS", data: nps.points.map((p) => p.value.score) },
        { label: "CES", data: ces.points.map((p) => p.value.score), yAxisID: "ces" },
      ] },
      options: { spanGaps: true, scales: { ces: { position: "right", min: 1, max: 7 } } },
    });
    chart("chart-repeat", { type: "bar", data: { labels, datasets: [{ label: L.repeat, data: repeat.points.map((p) => (p.value === null ? null : +(100 * p.value).toFixed(1))) }] } });
  }

  function drawShares(now) {
    const kinds = Object.keys(now.channel_share);
    chart("chart-channels", { type: "doughnut", data: { labels: kinds, datasets: [{ data: kinds.map((k) => now.channel_share[k].conversations) }] } });
    const targets = [["first_response", L.first_response], ["resolution", L.resolution_target]];
    chart("chart-sla", {
      type: "bar",
      data: { labels: targets.map((t) => t[1]), datasets: [
        { label: L.met, data: targets.map((t) => now.sla[t[0]].met), stack: "s" },
        { label: L.missed, data: targets.map((t) => now.sla[t[0]].missed), stack: "s" },
      ] },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }

  async function drawHeatmap() {
    // conversations opened per weekday and hour (UTC buckets shown in the operator's time zone)
    const series = await get("timeseries", { ...period, metric: "conversations", interval: "hour" }).catch(() => null);
    const table = $("#heatmap");
    if (!series) return;
    const grid = Array.from({ length: 7 }, () => new Array(24).fill(0));
    for (const p of series.points) {
      const [weekday, hour] = weekdayHour(p.from);
      grid[weekday][hour] += p.value;
    }
    const top = Math.max(1, ...grid.flat());
    const head = `<tr><th></th>${Array.from({ length: 24 }, (_, h) => `<th>${h}</th>`).join("")}</tr>`;
    table.innerHTML = head + grid.map((row, d) => `<tr><th>${escapeHtml(L.weekdays[d])}</th>${row.map((n) => `<td data-n="${n}">${n || ""}</td>`).join("")}</tr>`).join("");
    for (const cell of table.querySelectorAll("td")) cell.style.setProperty("--heat", String(Number(cell.dataset.n) / top));
  }

  async function drawOperators() {
    const data = await get("operators", period);
    $("#report-operator-rows").innerHTML = data.items.map((o) => `<tr><td>${escapeHtml(o.name || o.operator_id)}</td><td>${o.handled}</td><td>${duration(o.frt.avg_seconds)}</td><td>${duration(o.resolution.avg_seconds)}</td><td>${score(o.csat.score, " %")}</td><td>${o.load}</td></tr>`).join("");
  }

  async function drill(which) {
    const data = await get("conversations", { ...period, which });
    const list = $("#drill-rows");
    list.innerHTML = data.items.map((c) => `<li><a href="/inbox?c=${c.conversation_id}" data-testid="drill-${c.conversation_id}">#${c.conversation_id}</a> ${escapeHtml(c.first_channel_kind || "")} ${escapeHtml(c.reason || "")} ${escapeHtml(day(c.opened_at))}</li>`).join("") || `<li>${escapeHtml(L.no_data)}</li>`;
    $("#drill").hidden = false;
    $("#drill").scrollIntoView();
  }

  for (const tile of root.querySelectorAll("[data-drill]")) {
    tile.href = "#drill";
    tile.addEventListener("click", (event) => { event.preventDefault(); drill(tile.dataset.drill); });
  }
  for (const link of root.querySelectorAll("[data-export]")) {
    link.href = `/api/v1/reports/export?${query({ ...period, report: link.dataset.export, format: link.dataset.format })}`;
  }

  (async () => {
    const [now, before] = await Promise.all([get("summary", period), get("summary", previous)]);
    drawTiles(now, before);
    drawShares(now);
    await Promise.all([drawTrends(), drawOperators(), drawHeatmap()]);
    root.dataset.ready = "1";
  })();
})();
