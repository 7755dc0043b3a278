/* okno website chat — embed with one tag: <script src="https://okno.example/widget/ID.js" async></script> */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.OknoChat) return;
  var src = new URL(script.src);
  var match = src.pathname.match(/\/widget\/(\d+)\.js$/);
  if (!match) return;
  var channelId = match[1];
  var base = src.origin;
  var store = "okno:" + base + ":" + channelId + ":";
  // the chat's language: the embed tag's data-lang, else the channel's setting (filled in when
  // okno serves this script), else the site page's <html lang>, else the visitor's browser
  var CONFIGURED_LANG = "auto";
  var wanted = script.getAttribute("data-lang") || (CONFIGURED_LANG !== "auto" ? CONFIGURED_LANG : "") ||
    document.documentElement.lang || navigator.language || "ru";
  var lang = wanted.slice(0, 2).toLowerCase() === "ru" ? "ru" : "en";
  var T = {
    ru: { open: "Открыть чат", close: "Закрыть чат", send: "Отправить", placeholder: "Напишите сообщение…",
          contact: "Оставить контакты", name: "Имя", phone: "Телефон", email: "E-mail", save: "Сохранить",
          saved: "Спасибо! Контакты сохранены.", offline: "Нет связи, переподключаемся…",
          verifyHint: "Чтобы мы узнали вас и продолжили прежний разговор, подтвердите контакт: пришлём код в мессенджер, из которого вы уже писали нам.",
          getCode: "Получить код", code: "Код из сообщения", confirm: "Подтвердить",
          sent: "Если мы знаем этот контакт, код отправлен в мессенджер, из которого вы писали нам. Введите его здесь.",
          too_many_requests: "Слишком много запросов кода. Попробуйте позже.", invalid: "Проверьте номер телефона или e-mail.",
          verified: "Готово: контакт подтверждён, мы вас узнали.", wrong_code: "Неверный код. Осталось попыток: ",
          expired: "Срок действия кода истёк. Запросите новый.", too_many_attempts: "Слишком много неверных попыток. Запросите новый код.",
          no_code: "Сначала запросите код." },
    en: { open: "Open chat", close: "Close chat", send: "Send", placeholder: "Type a message…",
          contact: "Leave contact details", name: "Name", phone: "Phone", email: "E-mail", save: "Save",
          saved: "Thank you! Saved.", offline: "Offline, reconnecting…",
          verifyHint: "So that we recognise you and continue your earlier conversation, confirm this contact: we'll send a code to the messenger you've written to us from.",
          getCode: "Get a code", code: "Code from the message", confirm: "Confirm",
          sent: "If we know this contact, a code was sent to the messenger you've written to us from. Enter it here.",
          too_many_requests: "Too many code requests. Please try later.", invalid: "Please check the phone number or e-mail.",
          verified: "Done: the contact is confirmed, we recognise you.", wrong_code: "Wrong code. Attempts left: ",
          expired: "The code has expired. Ask for a new one.", too_many_attempts: "Too many wrong codes. Ask for a new one.",
          no_code: "Ask for a code first." }
  }[lang];

  function load(key, fallback) { try { var v = localStorage.getItem(store + key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; } }
  function save(key, value) { try { localStorage.setItem(store + key, JSON.stringify(value)); } catch (e) { /* private mode */ } }
  function uuid() { return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2); }
  function utm() { var out = {}; new URLSearchParams(location.search).forEach(function (v, k) { if (k.indexOf("utm_") === 0) out[k] = v.slice(0, 200); }); return out; }

  // lastSeq is this page's replay cursor: a fresh page asks for the whole history, a reconnect
  // only for what it missed. Unacknowledged sends survive reloads and are resent (same client_id).
  var state = { token: load("token", null), lastSeq: 0, pending: load("pending", []), ws: null, retry: 0, open: false, seen: {} };

  var host = document.createElement("div");
  host.setAttribute("data-okno-chat", channelId);
  var root = host.attachShadow({ mode: "open" });
  var css =
    ':host{all:initial;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}' +
    '.launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:#2563eb;color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}' +
    '.panel{position:fixed;right:20px;bottom:88px;width:340px;max-width:calc(100vw - 40px);height:460px;max-height:calc(100vh - 120px);background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:none;flex-direction:column;overflow:hidden;z-index:2147483000;color:#111}' +
    '.panel.open{display:flex}.head{background:#2563eb;color:#fff;padding:12px 14px;font-weight:600}' +
    '.log{flex:1;overflow-y:auto;padding:12px;background:#f5f7fb}.msg{max-width:80%;margin:6px 0;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}' +
    '.visitor{margin-left:auto;background:#2563eb;color:#fff}.agent,.greeting{background:#fff;border:1px solid #e3e7ef}.msg.pending{opacity:.6}.msg.failed{opacity:.6;outline:1px dashed #b91c1c}' +
    '.note{font-size:12px;color:#6b7280;text-align:center;margin:6px 0}.status{font-size:12px;color:#b45309;padding:4px 12px;display:none}' +
    'form{display:flex;gap:6px;padding:8px;border-top:1px solid #e3e7ef}textarea,input{flex:1;border:1px solid #cbd2e0;border-radius:8px;padding:8px;font:inherit;resize:none}' +
    'button.send,button.save{border:0;border-radius:8px;background:#2563eb;color:#fff;padding:0 12px;cursor:pointer}' +
    '.contact,.verify{flex-direction:column;display:none}.contact.open,.verify.open{display:flex}.hint{font-size:12px;color:#374151}.verify .code{display:none}.verify.sent .code{display:flex;gap:6px}.verify .get{padding:8px 12px;align-self:flex-start}' +
    '.contact.open{display:flex}.link{background:none;border:0;color:#2563eb;cursor:pointer;font-size:12px;padding:4px 12px;text-align:left}' +
    '.choices{display:flex;flex-wrap:wrap;gap:6px;margin:2px 0 8px;max-width:80%}.choices.list,.options{flex-direction:column;align-items:flex-start}.options[hidden]{display:none}' +
    '.choice{border:1px solid #2563eb;background:#fff;color:#2563eb;border-radius:16px;padding:4px 12px;cursor:pointer;font:inherit;text-align:left}.choice small{display:block;color:#6b7280;font-size:12px}' +
    '.choice.chosen{background:#2563eb;color:#fff}.choice.chosen small{color:#dbeafe}.choices.answered .choice{cursor:default}.choices.answered .choice:not(.chosen){opacity:.5}.choices.quick_replies.answered{display:none}' +
    '';
  // a constructed style sheet is not an inline <style>: the chat keeps its looks on sites whose
  // Content-Security-Policy forbids inline styles (older browsers get the <style> element)
  var sheet = null;
  try { sheet = new CSSStyleSheet(); sheet.replaceSync(css); root.adoptedStyleSheets = [sheet]; } catch (e) { sheet = null; }
  root.innerHTML = (sheet ? '' : '<style>' + css + '</style>') +
    '<button class="launcher" data-testid="okno-launcher" aria-label="' + T.open + '"><svg width="26" height="26" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/></svg></button>' +
    '<section class="panel" role="dialog" aria-label="' + T.open + '" data-testid="okno-panel">' +
    '<div class="head" data-testid="okno-title"></div>' +
    '<div class="log" role="log" aria-live="polite" data-testid="okno-log"></div>' +
    '<div class="status" data-testid="okno-status">' + T.offline + '</div>' +
    '<button class="link" type="button" data-testid="okno-contact-toggle">' + T.contact + '</button>' +
    '<form class="contact" data-testid="okno-contact-form">' +
    '<input name="name" aria-label="' + T.name + '" placeholder="' + T.name + '" maxlength="200">' +
    '<input name="phone" aria-label="' + T.phone + '" placeholder="' + T.phone + '" maxlength="64" inputmode="tel">' +
    '<input name="email" aria-label="' + T.email + '" placeholder="' + T.email + '" maxlength="320" type="email">' +
    '<button class="save" type="submit">' + T.save + '</button></form>' +
    '<form class="verify" data-testid="okno-verify"><div class="hint">' + T.verifyHint + '</div>' +
    '<button class="save get" type="button" data-testid="okno-verify-send">' + T.getCode + '</button>' +
    '<div class="code"><input name="code" aria-label="' + T.code + '" placeholder="' + T.code + '" maxlength="6" inputmode="numeric" autocomplete="one-time-code" data-testid="okno-verify-code">' +
    '<button class="save" type="submit" data-testid="okno-verify-confirm">' + T.confirm + '</button></div></form>' +
    '<form class="compose" data-testid="okno-compose"><textarea rows="2" aria-label="' + T.placeholder + '" placeholder="' + T.placeholder + '" maxlength="4096" data-testid="okno-input"></textarea>' +
    '<button class="send" type="submit" data-testid="okno-send">' + T.send + '</button></form></section>';
  var $ = function (sel) { return root.querySelector(sel); };
  var log = $(".log"), panel = $(".panel"), launcher = $(".launcher");

  function bubble(kind, text, key) {
    var el = key && root.querySelector('[data-key="' + key + '"]');
    if (!el) { el = document.createElement("div"); el.className = "msg " + kind; if (key) el.setAttribute("data-key", key); log.appendChild(el); }
    el.textContent = text;
    log.scrollTop = log.scrollHeight;
    return el;
  }
  // choices an operator offered: buttons, quick-reply chips or a list; a press goes back as an answer
  function choices(el, frame) {
    var offer = frame.interactive;
    if (!offer || root.querySelector('[data-choices="' + frame.message_id + '"]')) return;
    var box = document.createElement("div"), list = box;
    box.className = "choices " + offer.style; box.setAttribute("data-choices", frame.message_id); box.setAttribute("data-testid", "okno-choices");
    if (offer.style === "list") {
      var opener = document.createElement("button"); opener.type = "button"; opener.className = "choice opener"; opener.textContent = offer.button;
      list = document.createElement("div"); list.className = "options"; list.hidden = true;
      opener.addEventListener("click", function () { list.hidden = !list.hidden; });
      box.appendChild(opener); box.appendChild(list);
    }
    offer.options.forEach(function (o) {
      var b = document.createElement("button"); b.type = "button"; b.className = "choice"; b.setAttribute("data-option", o.id); b.textContent = o.title;
      if (o.description) { var d = document.createElement("small"); d.textContent = o.description; b.appendChild(d); }
      b.addEventListener("click", function () {
        if (box.classList.contains("answered")) return;
        var id = uuid();
        bubble("visitor pending", o.title, id);
        queue({ type: "answer", client_id: id, message_id: frame.message_id, option_id: o.id });
        answered(frame.message_id, o.id);
      });
      list.appendChild(b);
    });
    el.insertAdjacentElement("afterend", box);
  }
  function answered(messageId, optionId) {
    var box = root.querySelector('[data-choices="' + messageId + '"]');
    if (!box) return;
    box.classList.add("answered");
    box.querySelectorAll(".choice").forEach(function (b) { b.classList.toggle("chosen", b.getAttribute("data-option") === optionId); });
  }
  function framed(frame) {
    var offer = frame.interactive || {};
    return [offer.header, frame.text, offer.footer].filter(function (p) { return p; }).join("\n\n");
  }
  // an operator's files: links the visitor's token opens (pictures shown inline)
  function files(el, list) {
    list.forEach(function (f) {
      var url = base + f.url + "?token=" + encodeURIComponent(state.token || "");
      var a = document.createElement("a");
      a.className = "file"; a.href = url; a.target = "_blank"; a.rel = "noopener"; a.setAttribute("download", f.name);
      if (f.kind === "image") { var img = document.createElement("img"); img.src = url; img.alt = f.name; img.style.maxWidth = "100%"; a.appendChild(img); }
      else { a.textContent = "📎 " + f.name; }
      el.appendChild(document.createElement("br")); el.appendChild(a);
    });
  }
  function note(text) { var el = document.createElement("div"); el.className = "note"; el.textContent = text; log.appendChild(el); }

  function send(frame) { if (state.ws && state.ws.readyState === 1) { state.ws.send(JSON.stringify(frame)); return true; } return false; }
  function queue(frame) {
    state.pending.push(frame); save("pending", state.pending);
    if (frame.type === "message") bubble("visitor pending", frame.text, frame.client_id);
    send(frame);
  }
  function markRead() {
    if (!state.open || document.visibilityState !== "visible") return;
    Object.keys(state.seen).forEach(function (id) { if (state.seen[id] === "received") { send({ type: "read", message_id: id }); state.seen[id] = "read"; } });
  }

  function onFrame(frame) {
    if (frame.type === "ack") {
      state.pending = state.pending.filter(function (p) { return p.client_id !== frame.client_id; }); save("pending", state.pending);
      var el = root.querySelector('[data-key="' + frame.client_id + '"]'); if (el) el.classList.remove("pending");
      if (frame.seq > state.lastSeq) state.lastSeq = frame.seq;
    } else if (frame.type === "message") {
      if (frame.seq <= state.lastSeq && root.querySelector('[data-seq="' + frame.seq + '"]')) return;
      if (frame.from === "agent") {
        var agent = bubble("agent", framed(frame), "m" + frame.message_id);
        agent.setAttribute("data-seq", frame.seq);
        files(agent, frame.files || []);
        choices(agent, frame);
        if (!state.seen[frame.message_id]) { send({ type: "received", message_id: frame.message_id }); state.seen[frame.message_id] = "received"; }
        markRead();
      } else if (frame.text) {
        bubble("visitor", frame.text, frame.client_id).setAttribute("data-seq", frame.seq);
        if (frame.answer) answered(frame.answer.message_id, frame.answer.option_id);
      } else if (frame.contact) { note(T.saved); }
      if (frame.seq > state.lastSeq) state.lastSeq = frame.seq;
    } else if (frame.type === "verify") { verified(frame);
    } else if (frame.type === "error") {
      // a refused send: sent again after the pause a rate limit asks for, else dropped and marked
      var refused = frame.client_id && state.pending.filter(function (p) { return p.client_id === frame.client_id; })[0];
      if (refused && frame.code === "rate_limited") { setTimeout(function () { send(refused); }, 1000 * (frame.retry_after || 5)); return; }
      if (refused) {
        state.pending = state.pending.filter(function (p) { return p !== refused; }); save("pending", state.pending);
        var el = root.querySelector('[data-key="' + frame.client_id + '"]'); if (el) { el.classList.remove("pending"); el.classList.add("failed"); }
      }
      if (frame.code !== "unknown_message" && frame.code !== "rate_limited") note("⚠ " + frame.detail);
    }
  }

  // a typed phone or e-mail proves nothing until a one-time code, sent to a messenger its owner
  // already writes to us from, is typed back (the server answers "sent" whether or not it knows the key)
  var claim = null;
  function verified(frame) {
    var form = $(".verify"), text = T[frame.status] || frame.detail;
    if (frame.status === "wrong_code") text += frame.attempts_left;
    note(text);
    if (frame.status === "sent") { form.classList.add("sent"); form.elements.code.value = ""; form.elements.code.focus(); }
    if (frame.status === "verified") { form.classList.remove("open", "sent"); claim = null; }
    if (frame.status === "expired" || frame.status === "too_many_attempts") form.classList.remove("sent");
  }
  function connect() {
    fetch(base + "/widget/" + channelId + "/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: state.token }) })
      .then(function (r) { if (!r.ok) throw new Error("session " + r.status); return r.json(); })
      .then(function (s) {
        if (s.token !== state.token) { state.token = s.token; save("token", s.token); state.lastSeq = 0; }
        $(".head").textContent = s.title;
        panel.setAttribute("aria-label", s.title);
        if (!log.querySelector(".greeting")) bubble("greeting", s.greeting);
        var ws = new WebSocket(base.replace(/^http/, "ws") + "/ws/widget/" + channelId + "?token=" + encodeURIComponent(s.token) + "&last_seq=" + state.lastSeq);
        state.ws = ws;
        ws.onopen = function () { state.retry = 0; $(".status").style.display = "none"; state.pending.forEach(send); };
        ws.onmessage = function (e) { try { onFrame(JSON.parse(e.data)); } catch (err) { /* ignore a bad frame */ } };
        ws.onclose = function (e) { state.ws = null; if (e.code === 4401) { state.token = null; save("token", null); } reconnect(); };
      })
      .catch(reconnect);
  }
  function reconnect() {
    $(".status").style.display = "block";
    var delay = Math.min(30000, 1000 * Math.pow(2, state.retry++)) * (0.8 + Math.random() * 0.4);
    setTimeout(connect, delay);
  }

  function toggle(open) {
    state.open = open === undefined ? !state.open : open;
    panel.classList.toggle("open", state.open);
    launcher.setAttribute("aria-label", state.open ? T.close : T.open);
    if (state.open) { $("textarea").focus(); markRead(); }
  }
  launcher.addEventListener("click", function () { toggle(); });
  document.addEventListener("visibilitychange", markRead);
  $(".link").addEventListener("click", function () { $(".contact").classList.toggle("open"); });
  $(".compose").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("textarea").value.trim();
    if (!text) return;
    $("textarea").value = "";
    queue({ type: "message", client_id: uuid(), text: text, page_url: location.href.slice(0, 2000), utm: utm() });
  });
  $("textarea").addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $(".compose").requestSubmit(); } });
  // the operator sees "typing…" (never stored); at most one frame every 3 seconds
  var typedAt = 0;
  $("textarea").addEventListener("input", function () { var now = Date.now(); if (now - typedAt >= 3000 && $("textarea").value.trim()) { typedAt = now; send({ type: "typing" }); } });
  $(".contact").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target, frame = { type: "contact", client_id: uuid(), page_url: location.href.slice(0, 2000) };
    ["name", "phone", "email"].forEach(function (k) { var v = f.elements[k].value.trim(); if (v) frame[k] = v; });
    if (!frame.phone && !frame.email) return;
    queue(frame); f.classList.remove("open");
    claim = frame.phone ? { kind: "phone", value: frame.phone } : { kind: "email", value: frame.email };
    $(".verify").classList.add("open");
  });
  $(".verify .get").addEventListener("click", function () {
    if (!claim) return;
    if (!send({ type: "verify", kind: claim.kind, value: claim.value, lang: lang })) note(T.offline);
  });
  $(".verify").addEventListener("submit", function (e) {
    e.preventDefault();
    var code = e.target.elements.code.value.replace(/\D/g, "");
    if (code.length !== 6) { note(T.wrong_code.replace(/[.:].*$/, ".")); return; }
    if (!send({ type: "verify_code", code: code })) note(T.offline);
  });
  setInterval(function () { send({ type: "ping" }); }, 25000);

  window.OknoChat = { open: function () { toggle(true); }, close: function () { toggle(false); } };
  (document.body ? Promise.resolve() : new Promise(function (r) { document.addEventListener("DOMContentLoaded", r); }))
    .then(function () { document.body.appendChild(host); state.pending.forEach(function (p) { if (p.type === "message") bubble("visitor pending", p.text, p.client_id); }); connect(); });
})();
