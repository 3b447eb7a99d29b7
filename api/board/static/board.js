// Shared by every board page: the API key, calls to the JSON API, clocks that tick, polling.
"use strict";

const Board = (() => {
  const config = JSON.parse(document.body.dataset.config);
  const KEY = "slaflow.apiKey";
  const params = new URLSearchParams(location.search);
  const keyListeners = [];

  class ApiFailure extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  function detailText(data, status) {
    if (!data || data.detail === undefined) return `the API answered ${status}`;
    if (typeof data.detail === "string") return data.detail;
    // FastAPI's 422: a list of invalid fields.
    return data.detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }

  // --- the key: sessionStorage only, sent as a header, never in a URL --------------------
  const dialog = document.getElementById("key-dialog");
  const forget = document.getElementById("forget-key");

  function askForKey(reason) {
    const error = document.getElementById("key-error");
    error.hidden = !reason;
    error.textContent = reason || "";
    if (!dialog.open) dialog.showModal();
    document.getElementById("key-input").focus();
  }

  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("key-input");
    const key = input.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    input.value = "";
    dialog.close();
    forget.hidden = false;
    keyListeners.forEach((listener) => listener());
  });
  dialog.addEventListener("cancel", (event) => event.preventDefault());
  forget.hidden = !sessionStorage.getItem(KEY);
  forget.addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    forget.hidden = true;
    askForKey();
  });

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      askForKey(key ? "That key was not accepted." : "");
    }
    if (!response.ok) throw new ApiFailure(response.status, detailText(data, response.status));
    return data;
  }

  // --- small DOM and formatting helpers -----------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name.startsWith("data-")) el.setAttribute(name, value);
      else el[name] = value;
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function duration(seconds) {
    const sign = seconds < 0 ? "−" : "";
    let s = Math.floor(Math.abs(seconds));
    const d = Math.floor(s / 86400);
    s %= 86400;
    const hh = Math.floor(s / 3600);
    s %= 3600;
    const mm = Math.floor(s / 60);
    const ss = s % 60;
    if (d) return `${sign}${d}d ${hh}h`;
    if (hh) return `${sign}${hh}h ${String(mm).padStart(2, "0")}m`;
    if (mm) return `${sign}${mm}m ${String(ss).padStart(2, "0")}s`;
    return `${sign}${ss}s`;
  }

  function time(iso, timeZone) {
    if (!iso) return "—";
    return new Intl.DateTimeFormat(undefined, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZone: timeZone || undefined,
      timeZoneName: "short",
    }).format(new Date(iso));
  }

  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  // --- SLA clocks: state from the API, the countdown from the browser's clock ---------------
  let warnAt = null; // policy name -> first warn_at fraction; staff keys may read /policies

  async function loadWarnAt() {
    if (warnAt) return warnAt;
    try {
      const body = await api("GET", "/policies");
      warnAt = {};
      for (const [name, policy] of Object.entries(body.policies)) {
        warnAt[name] = (policy.warn_at || []).length ? Math.min(...policy.warn_at) : null;
      }
    } catch (error) {
      if (error.status === 401) throw error;
      warnAt = {}; // a customer key may not read policies: no warned colour, the rest works
    }
    return warnAt;
  }

  function clockView(clock, policy) {
    const fraction = warnAt && policy in warnAt ? warnAt[policy] : 0.75;
    const live = clock.state === "running" || clock.state === "breached";
    return h("span", {
      class: `clock ${clock.state}`,
      "data-state": clock.state,
      "data-due": live && !clock.completed_at ? clock.due_at : null,
      "data-target": clock.target_seconds,
      "data-warn": fraction,
      "data-elapsed": clock.elapsed_seconds,
      "data-completed": clock.completed_at,
      title: clock.due_at ? `due ${time(clock.due_at)}` : "",
    });
  }

  function tickClock(el, now) {
    const state = el.dataset.state;
    const due = el.dataset.due ? Date.parse(el.dataset.due) : null;
    let text = state;
    let shown = state;
    if (state === "running" && due !== null) {
      const left = (due - now) / 1000;
      const warn = parseFloat(el.dataset.warn);
      const target = parseInt(el.dataset.target, 10);
      text = duration(Math.max(0, left));
      if (left <= 0) shown = "overdue"; // until the workflow records the breach
      else if (!Number.isNaN(warn) && left <= (1 - warn) * target) shown = "warned";
    } else if (state === "breached") {
      text = due !== null ? `breached ${duration((now - due) / 1000)} ago` : "breached";
    } else if (state === "paused") {
      text = `paused (${duration(el.dataset.elapsed)} used)`;
    } else if (state === "met") {
      text = "met";
    }
    el.textContent = text;
    el.classList.remove("running", "warned", "overdue", "paused", "breached", "met");
    el.classList.add(shown);
    el.dataset.shown = shown;
  }

  function tickAll() {
    const now = Date.now();
    document.querySelectorAll(".clock[data-state]").forEach((el) => tickClock(el, now));
  }
  setInterval(tickAll, 1000);

  // --- polling ------------------------------------------------------------------------------
  const refreshSeconds = Math.max(1, parseFloat(params.get("refresh")) || 3);

  function poll(load, seconds = refreshSeconds) {
    let running = false;
    const status = document.getElementById("refresh-state");
    const banner = document.getElementById("page-error");
    async function once() {
      if (running || dialog.open) return;
      running = true;
      try {
        await load();
        banner.hidden = true;
        status.textContent = `updated ${new Date().toLocaleTimeString()} · every ${seconds}s`;
      } catch (error) {
        if (error.status !== 401) {
          banner.hidden = false;
          banner.textContent = error.message;
        }
      } finally {
        running = false;
        tickAll();
      }
    }
    keyListeners.push(once);
    if (config.needs_key && !sessionStorage.getItem(KEY)) askForKey();
    else once();
    setInterval(once, seconds * 1000);
    return once;
  }

  return {
    config, params, api, h, duration, time, viewerZone, loadWarnAt, clockView, tickAll, poll,
  };
})();
