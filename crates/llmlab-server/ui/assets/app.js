// LLMLab's dashboard script: sign-in, live panels, settings forms.
//
// The server renders every page (and escapes every value); this script only
// moves data between the page and the REST API. It never sees the API key of
// the session (an HttpOnly cookie), writes nothing to localStorage, and puts
// text on the page with textContent only. No dependencies, no build step.

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** Calls the REST API with the session cookie; throws an Error with the API's message. */
async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new Error(data?.error?.message ?? `The server answered ${response.status}.`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function showMessage(element, message) {
  if (!element) return;
  element.textContent = message ?? "";
  element.hidden = !message;
}

/** Resolves with the time of the page's first contentful paint (0 if the browser never says). */
function firstPaint() {
  return new Promise((resolve) => {
    const entry = performance.getEntriesByName("first-contentful-paint")[0];
    if (entry || typeof PerformanceObserver === "undefined") {
      resolve(entry?.startTime ?? 0);
      return;
    }
    const observer = new PerformanceObserver((list) => {
      const paint = list.getEntriesByName("first-contentful-paint")[0];
      if (paint) {
        observer.disconnect();
        resolve(paint.startTime);
      }
    });
    observer.observe({ type: "paint", buffered: true });
    setTimeout(() => resolve(0), 3000);
  });
}

/**
 * Marks the page as fully rendered, for tests and the load benchmark: every
 * panel is in the DOM (the server renders them, or a live update just swapped
 * them in) and on screen. The value is milliseconds since navigation start:
 * the later of the frame after this script ran and the first contentful paint.
 */
function markRendered() {
  requestAnimationFrame(() => {
    requestAnimationFrame(async () => {
      const framed = performance.now();
      const painted = await firstPaint();
      const root = document.documentElement;
      root.dataset.rendered = String(Math.round(Math.max(framed, painted)));
      root.dataset.renders = String(Number(root.dataset.renders ?? 0) + 1);
    });
  });
}

// ---- Panels: swap only the sections whose HTML changed ----------------------

/** Replaces the children of `root` by those of `html` (server-rendered, escaped). */
function swapPanels(root, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const next = Array.from(template.content.children);
  const current = Array.from(root.children);
  const focusedId = document.activeElement?.id;
  const sameLayout =
    next.length === current.length && next.every((el, i) => el.dataset.panel === current[i].dataset.panel);
  if (!sameLayout) {
    root.replaceChildren(...next);
  } else {
    next.forEach((el, i) => {
      // Keep an open <details> open across a refresh: the one of the same id, else at the same place.
      for (const details of $$("details[open]", current[i])) {
        const twin = details.id
          ? $$("details", el).find((d) => d.id === details.id)
          : $$("details", el)[$$("details", current[i]).indexOf(details)];
        if (twin) twin.open = true;
      }
      if (el.outerHTML !== current[i].outerHTML) current[i].replaceWith(el);
    });
  }
  if (focusedId && document.activeElement?.id !== focusedId) document.getElementById(focusedId)?.focus();
}

async function refresh(root) {
  const response = await fetch(root.dataset.source, { credentials: "same-origin", cache: "no-store" });
  if (response.status === 401) {
    location.reload();
    return;
  }
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  swapPanels(root, await response.text());
}

/** Polls the panels with If-None-Match; a 304 costs the server almost nothing. */
function startLive(root) {
  const status = $("#live-status");
  const every = Number(root.dataset.poll) || 2000;
  let etag = root.dataset.etag;
  let busy = false;
  const setStatus = (text) => {
    if (status && status.textContent !== text) status.textContent = text;
  };
  async function poll() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const headers = etag ? { "if-none-match": etag } : {};
      const response = await fetch(root.dataset.source, { credentials: "same-origin", cache: "no-store", headers });
      if (response.status === 401) {
        location.reload();
        return;
      }
      if (response.status === 200) {
        const html = await response.text();
        etag = response.headers.get("etag") ?? undefined;
        swapPanels(root, html);
        markRendered();
        setStatus(`Live · updated ${new Date().toLocaleTimeString()}`);
      } else if (response.status === 304) {
        setStatus("Live");
      } else {
        setStatus("Live updates paused: the server had an error");
      }
    } catch {
      setStatus("Offline: retrying");
    } finally {
      busy = false;
    }
  }
  setStatus("Live");
  setInterval(poll, every);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
}

// ---- Sign-in, sign-up, sign-out ---------------------------------------------

function initSignIn() {
  const form = $("#signin-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = form.elements.namedItem("api_key");
      const error = $("[data-error]", form);
      const key = input.value.trim();
      if (!key) {
        showMessage(error, "Paste your API key (it starts with llm_).");
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      try {
        await api("POST", "/api/auth/session", { api_key: key });
        input.value = "";
        location.reload();
      } catch (err) {
        showMessage(error, err.status === 401 ? "This API key is not valid, or it was revoked." : err.message);
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    });
  }

  const signup = $("#signup-button");
  if (signup) {
    let pendingKey = null;
    signup.addEventListener("click", async () => {
      signup.disabled = true;
      try {
        // The optional name, and the invite on an invite-only server (a whole link is fine).
        const body = {};
        const name = $("#signup-name")?.value.trim();
        if (name) body.name = name;
        const invite = $("#signup-invite")?.value.trim();
        if (invite) body.invite = invite;
        const account = await api("POST", "/api/auth/signup", body);
        pendingKey = account.api_key;
        showNewKey("new-account-key", pendingKey);
        $("#signup-result").hidden = false;
        signup.hidden = true;
        showMessage($("#signup-error"), "");
        $("#signup-continue").focus();
      } catch (err) {
        showMessage($("#signup-error"), err.message);
        signup.disabled = false;
      }
    });
    $("#signup-continue")?.addEventListener("click", async () => {
      try {
        await api("POST", "/api/auth/session", { api_key: pendingKey });
        pendingKey = null;
        // From an invite link (/signup?invite=…), on to the dashboard; elsewhere the page itself.
        if (location.pathname === "/signup") location.assign("/dashboard");
        else location.reload();
      } catch (err) {
        showMessage($("#signup-error"), err.message);
      }
    });
    if (location.hash === "#signup") signup.focus();
  }

  $("#sign-out")?.addEventListener("click", async () => {
    try {
      await api("DELETE", "/api/auth/session");
    } finally {
      location.assign("/dashboard");
    }
  });
}

/**
 * Shows a key just created in `layout::new_key`'s box, and the `llmlab init` command that saves it
 * for this server (a plain `llmlab init` would sign up another account).
 */
function showNewKey(id, key) {
  const box = document.getElementById(id);
  box.textContent = key;
  document.getElementById(box.dataset.newKey).textContent =
    `llmlab init --server ${location.origin} \\\n  --api-key ${key}`;
}

// ---- Settings: forms and buttons that call the REST API -----------------------

/**
 * A form's fields as the API's JSON: checkboxes as booleans, `data-numbers` fields ("80, 92.5")
 * as lists of numbers, empty optional fields left out. Throws an Error naming a value that is
 * not a number.
 */
function formBody(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled) continue;
    if (field.type === "checkbox") {
      body[field.name] = field.checked;
      continue;
    }
    let value = field.value.trim();
    if ("money" in field.dataset) value = value.replace(/[$,\s]/g, "");
    if (value === "" && "optional" in field.dataset) continue;
    body[field.name] = "numbers" in field.dataset ? numbers(value) : value;
  }
  return body;
}

/** "80, 92.5%" → [80, 92.5]. JSON numbers keep the digits typed, which the server reads exactly. */
function numbers(text) {
  return text
    .split(/[,;\s]+/)
    .filter((part) => part !== "")
    .map((part) => {
      const bare = part.replace(/%$/, "");
      if (!/^\d+(\.\d+)?$/.test(bare)) throw new Error(`\`${part}\` is not a percentage such as 80 or 92.5.`);
      return Number(bare);
    });
}

/** Shows the target field of the scope chosen in a `data-scope-select` (and only it is sent). */
function showScopeTarget(select) {
  for (const box of $$("[data-scope-target]", select.form ?? document)) {
    const shown = box.dataset.scopeTarget === select.value;
    box.hidden = !shown;
    for (const field of $$("input, select", box)) field.disabled = !shown;
  }
}

/** Runs `data-api="METHOD /path"` for a form or a button, then its `data-after` step. */
async function runApi(element, body, errorElement) {
  const [method, url] = element.dataset.api.split(" ");
  const flash = $("#flash");
  if (flash) flash.textContent = "";
  showMessage(errorElement, "");
  const result = await api(method, url, body);
  const after = element.dataset.after;
  if (after === "signed-out") {
    location.assign("/dashboard");
    return;
  }
  const root = $("#panels[data-source]");
  if (root) {
    await refresh(root);
    showSecret();
    followDeliveries(true);
  }
  if (after === "new-invite" && result?.url) {
    $("#new-invite-url").textContent = result.url;
    $("#new-invite-box").hidden = false;
  }
  if (after === "new-key" && result?.api_key) {
    showNewKey("new-key-value", result.api_key);
    $("#new-key-box").hidden = false;
  }
  if (after === "new-secret") {
    shownSecret = result?.secret ? { channel: result.channel?.id, secret: result.secret } : null;
    showSecret();
  }
  if (after === "test-alert" && typeof result?.deliveries === "number") {
    const n = result.deliveries;
    showMessage($("#alert-test-result"), `A test alert is on its way to ${n} channel${n === 1 ? "" : "s"}: see its delivery in the log below.`);
  }
  let message = element.dataset.success ?? "Saved.";
  if (typeof result?.repriced_events === "number" && result.repriced_events > 0) {
    const n = result.repriced_events;
    message += ` ${n} earlier call${n === 1 ? " is" : "s are"} now priced.`;
  }
  if (flash) flash.textContent = message;
}

// ---- Alerts: follow the deliveries still pending ------------------------------

/**
 * The signing secret of the webhook channel just added: shown until the page is
 * left or that channel removed (a refresh of the sections after another change
 * would drop it); never stored anywhere.
 */
let shownSecret = null;

function showSecret() {
  if (!shownSecret) return;
  const box = $("#new-secret-box");
  if (!box || !$(`[data-channel-id="${shownSecret.channel}"]`)) {
    shownSecret = null;
    return;
  }
  $("#new-secret-value").textContent = shownSecret.secret;
  box.hidden = false;
}

let deliveriesTimer;
let deliveriesDelay = 1000;

/** Replaces the section `data-panel=name` alone (the others keep what the script showed in them). */
async function refreshPanel(root, name) {
  const response = await fetch(root.dataset.source, { credentials: "same-origin", cache: "no-store" });
  if (response.status === 401) {
    location.reload();
    return;
  }
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  const next = $(`[data-panel="${name}"]`, template.content);
  const current = $(`[data-panel="${name}"]`, root);
  if (next && current && next.outerHTML !== current.outerHTML) current.replaceWith(next);
}

/**
 * While the delivery log shows a pending delivery, refreshes it after 1 s,
 * 2 s, 4 s… (at most 30 s apart), so a test alert is seen arriving; a change
 * made on the page starts again from 1 s. Only the log is replaced: a signing
 * secret or a test's result shown in the channels section stays.
 */
function followDeliveries(restart) {
  const root = $("#panels[data-source]");
  if (!root) return;
  if (restart) deliveriesDelay = 1000;
  clearTimeout(deliveriesTimer);
  if (!$("[data-deliveries-pending]", root)) return;
  deliveriesTimer = setTimeout(async () => {
    deliveriesDelay = Math.min(deliveriesDelay * 2, 30_000);
    if (!document.hidden) {
      try {
        await refreshPanel(root, "alert-log");
      } catch {
        // Tried again at the next step.
      }
    }
    followDeliveries(false);
  }, deliveriesDelay);
}

function initSettings() {
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    const errorId = $("[aria-describedby]", form)?.getAttribute("aria-describedby")?.split(" ").find((id) => id.endsWith("-error"));
    const error = (errorId && document.getElementById(errorId)) || $("[data-error]", form);
    const submit = $("button[type=submit]", form);
    if (submit) submit.disabled = true;
    try {
      await runApi(form, formBody(form), error);
    } catch (err) {
      showMessage(error, err.message);
      if (submit) submit.focus();
    } finally {
      if (submit?.isConnected) submit.disabled = false;
    }
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-api]");
    if (!button) return;
    // Destructive buttons ask for a second click within a few seconds.
    if (button.dataset.confirm && button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      const label = button.innerHTML;
      button.textContent = button.dataset.confirm;
      setTimeout(() => {
        if (button.isConnected && button.dataset.armed === "true") {
          button.dataset.armed = "";
          button.innerHTML = label;
        }
      }, 5000);
      return;
    }
    button.disabled = true;
    try {
      await runApi(button, undefined, $("#flash"));
    } catch (err) {
      const flash = $("#flash");
      if (flash) flash.textContent = err.message;
      button.disabled = false;
    }
  });

  // The budget form's target field follows its scope; after a refresh the sections are new.
  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-scope-select]");
    if (select) showScopeTarget(select);
  });
  for (const select of $$("select[data-scope-select]")) showScopeTarget(select);

  for (const button of $$("[data-fill-timezone]")) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) {
      button.hidden = true;
      continue;
    }
    button.textContent = `Use this device's (${zone})`;
    button.addEventListener("click", () => {
      const input = document.getElementById(button.dataset.fillTimezone);
      if (input) input.value = zone;
    });
  }

  followDeliveries(true);

  // Opened from an unpriced model's link: go to the first empty price field.
  if (new URLSearchParams(location.search).has("model")) $("#price-input")?.focus();
}

// ---- Copy buttons ---------------------------------------------------------------

function initCopy() {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const text = document.getElementById(button.dataset.copy)?.textContent ?? "";
    const label = button.firstChild;
    try {
      await navigator.clipboard.writeText(text);
      label.textContent = "Copied";
    } catch {
      label.textContent = "Select and copy";
    }
    setTimeout(() => {
      label.textContent = "Copy";
    }, 2000);
  });
}

initSignIn();
initSettings();
initCopy();
const live = $("#panels[data-poll]");
if (live) startLive(live);
markRendered();
