// Placements progressive enhancement. Loaded as an ES module from base.html.
//
// Every page works without this file: forms post normally, charts have a data
// table, the run progress page refreshes itself through a <noscript> meta
// refresh. No inline scripts or event handler attributes (strict CSP).

// Sibling files in dist/ are loaded with this file's own ?v=… query string, so
// one cache-busting version (from asset_url("app.js")) covers them all.
const version = new URL(import.meta.url).search;
const assetUrl = (name) => new URL(`${name}${version}`, import.meta.url).href;

const { initAll } = await import(assetUrl("govuk-frontend.min.js"));
initAll();

// ---------------------------------------------------------------------------
// Charts: <canvas data-chart='{"kind": "bar", "labels": [...], "datasets": [...]}'>
// ---------------------------------------------------------------------------

let chartLibrary;

function loadChartLibrary() {
  if (!chartLibrary) {
    chartLibrary = new Promise((resolve, reject) => {
      if (window.Chart) {
        resolve(window.Chart);
        return;
      }
      const script = document.createElement("script");
      script.src = assetUrl("chart.umd.min.js");
      script.addEventListener("load", () => resolve(window.Chart));
      script.addEventListener("error", () => reject(new Error("Chart.js failed to load")));
      document.head.appendChild(script);
    });
  }
  return chartLibrary;
}

// GOV.UK-ish palette that keeps adjacent series distinguishable.
const palette = ["#1d70b8", "#f47738", "#00703c", "#4c2c92", "#d4351c", "#505a5f", "#28a197"];

function setChartDefaults(Chart) {
  Chart.defaults.font.family = "arial, sans-serif"; // same stack as app.css
  Chart.defaults.font.size = 14;
  Chart.defaults.color = "#0b0c0c";
}

function renderChart(Chart, canvas) {
  let spec;
  try {
    spec = JSON.parse(canvas.dataset.chart);
  } catch {
    return;
  }
  const datasets = (spec.datasets || []).map((dataset, index) => ({
    backgroundColor: palette[index % palette.length],
    borderColor: palette[index % palette.length],
    ...dataset,
  }));
  // eslint-disable-next-line no-new
  new Chart(canvas, {
    type: spec.kind || "bar",
    data: { labels: spec.labels || [], datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : undefined,
      plugins: {
        legend: { display: datasets.length > 1 },
        // The page shows the title as a heading above the canvas.
        title: { display: false },
      },
      scales: spec.kind === "pie" || spec.kind === "doughnut"
        ? {}
        : { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

const chartCanvases = document.querySelectorAll("canvas[data-chart]");
if (chartCanvases.length) {
  loadChartLibrary()
    .then((Chart) => {
      setChartDefaults(Chart);
      chartCanvases.forEach((canvas) => renderChart(Chart, canvas));
    })
    .catch(() => {
      // The data table beside each chart remains the source of truth.
    });
}

// ---------------------------------------------------------------------------
// Ranked lists: <ol data-rank-list> with up/down submit buttons per <li>:
//   <button name="move" value="up:ID">, <button name="move" value="down:ID">
// With JavaScript the buttons reorder the list in place and the hidden
// <input type="hidden" name="order" value="ID"> fields follow the new order.
// When the list says where to save (<ol data-rank-save>), each move is saved
// as it happens: the same POST as the button's without JavaScript (the order
// on screen before the move, and move=up:ID), sent with fetch and the form's
// CSRF token, answered in JSON. Moves are sent one after another; a status
// line under the list says "Saved", or why not (the order stays on screen and
// the page warns before leaving while anything is unsaved).
// ---------------------------------------------------------------------------

function statusFor(list) {
  let region = list.parentElement.querySelector("[data-rank-live]");
  if (!region) {
    region = document.createElement("p");
    region.className = "govuk-body app-rank-status";
    region.setAttribute("role", "status");
    region.dataset.rankLive = "";
    list.insertAdjacentElement("afterend", region);
  }
  return region;
}

function say(region, text, { error = false } = {}) {
  region.textContent = text;
  region.classList.toggle("app-rank-status--error", error);
}

function itemId(item) {
  const button = item.querySelector("button[name=move]");
  return button ? button.value.split(":").slice(1).join(":") : item.dataset.id;
}

function itemLabel(item) {
  if (item.dataset.rankName) return item.dataset.rankName;
  const label = item.querySelector("[data-rank-label]");
  return (label ? label.textContent : item.textContent).trim().replace(/\s+/g, " ");
}

function rankItems(list) {
  return Array.from(list.children).filter((el) => el.tagName === "LI");
}

function syncRankList(list, form) {
  const items = rankItems(list);
  items.forEach((item, index) => {
    const id = itemId(item);
    let hidden = item.querySelector("input[type=hidden][name=order]");
    if (!hidden && form) {
      hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "order";
      item.appendChild(hidden);
    }
    if (hidden) {
      hidden.value = id;
    }
    const up = item.querySelector('button[name=move][value^="up:"]');
    const down = item.querySelector('button[name=move][value^="down:"]');
    // Keep buttons focusable (disabled buttons lose focus); mark them instead.
    if (up) up.setAttribute("aria-disabled", String(index === 0));
    if (down) down.setAttribute("aria-disabled", String(index === items.length - 1));
  });
  return items;
}

// Put the items in the order the server saved (another tab may have moved them).
function applySavedOrder(list, form, saved) {
  const items = rankItems(list);
  const byId = new Map(items.map((item) => [itemId(item), item]));
  const ids = saved.map(String);
  if (ids.length !== items.length || !ids.every((id) => byId.has(id))) return false;
  ids.forEach((id) => list.appendChild(byId.get(id)));
  syncRankList(list, form);
  return true;
}

function autosaver(list, form, status) {
  const url = list.dataset.rankSave;
  const token = form && form.querySelector("input[name=csrf_token]");
  const queue = [];
  let sending = false;
  let failed = false; // a save was refused: the order on screen is not saved
  let stale = false; // the saved list changed elsewhere: the page must be reloaded

  const unsaved = () => queue.length > 0 || sending || failed;

  async function send(change) {
    const body = new FormData();
    if (token) body.append("csrf_token", token.value);
    change.order.forEach((id) => body.append("order", id));
    body.append("move", change.move);
    const response = await fetch(url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok || !data || !data.saved) {
      // The page's own answer has `error`; the error pages' JSON has `message` too.
      throw new Error((data && (data.message || data.error)) ||
        "something went wrong on our side");
    }
    return data;
  }

  async function drain() {
    if (sending) return;
    sending = true;
    while (queue.length && !failed && !stale) {
      const change = queue.shift();
      try {
        const data = await send(change);
        if (!queue.length) {
          if (!applySavedOrder(list, form, data.order || [])) {
            stale = true;
            say(status, "Your choices were changed in another window. Reload the page to " +
              "see them before changing them here.", { error: true });
            break;
          }
          say(status, `${change.announce} Saved.`);
        }
      } catch (error) {
        failed = true;
        queue.length = 0;
        say(status, `Not saved: ${error.message.replace(/\.$/, "")}. The order on screen is ` +
          "kept; press “Save my choices” to try again.", { error: true });
      }
    }
    sending = false;
  }

  let leaving = false;
  if (form) form.addEventListener("submit", () => { leaving = true; });
  window.addEventListener("beforeunload", (event) => {
    if (leaving || !unsaved()) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers need a value to show their warning
  });

  return (change) => {
    if (stale) {
      say(status, "Reload the page to see your choices before changing them here.",
        { error: true });
      return;
    }
    if (failed) {
      // Nothing more is sent once a save failed: the form's button saves the whole order.
      say(status, `${change.announce} Not saved yet: press “Save my choices”.`,
        { error: true });
      return;
    }
    queue.push(change);
    say(status, `${change.announce} Saving…`);
    drain();
  };
}

function enhanceRankList(list) {
  const form = list.closest("form");
  const status = statusFor(list);
  syncRankList(list, form);
  list.dataset.rankEnhanced = "";
  const save = list.dataset.rankSave && form && window.fetch ? autosaver(list, form, status)
    : null;

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[name=move]");
    if (!button || !list.contains(button)) return;
    event.preventDefault();
    const [direction] = button.value.split(":");
    const item = button.closest("li");
    if (button.getAttribute("aria-disabled") === "true") return;
    const before = rankItems(list).map(itemId);
    if (direction === "up" && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (direction === "down" && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    } else {
      return;
    }
    const items = syncRankList(list, form);
    const position = items.indexOf(item) + 1;
    item.classList.add("app-rank-list__item--moved");
    window.setTimeout(() => item.classList.remove("app-rank-list__item--moved"), 1500);
    // Keep focus on the same control so repeated presses keep moving the item;
    // if it is now at the end, move focus to the opposite control.
    const same = item.querySelector(`button[name=move][value^="${direction}:"]`);
    const other = item.querySelector(
      `button[name=move][value^="${direction === "up" ? "down" : "up"}:"]`,
    );
    const target = same && same.getAttribute("aria-disabled") !== "true" ? same : other;
    if (target) target.focus();
    const announce = `Moved ${itemLabel(item)} to position ${position}.`;
    if (save) {
      save({ order: before, move: button.value, announce });
    } else {
      say(status, announce);
    }
    if (form) form.dataset.rankChanged = "";
  });

  // Keyboard: Alt+ArrowUp / Alt+ArrowDown on any control within an item.
  list.addEventListener("keydown", (event) => {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    const item = event.target.closest("li");
    if (!item) return;
    const direction = event.key === "ArrowUp" ? "up" : "down";
    const button = item.querySelector(`button[name=move][value^="${direction}:"]`);
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
}

document.querySelectorAll("ol[data-rank-list]").forEach(enhanceRankList);

// ---------------------------------------------------------------------------
// Live progress: <div data-poll-url="/rounds/1/runs/2/status.json">
//   children [data-field=status|elapsed|objective|bound] are updated each
//   second; when status is final the page reloads to show the result.
// ---------------------------------------------------------------------------

const FINAL_STATUSES = new Set(["succeeded", "failed", "cancelled"]);

function formatValue(field, value) {
  if (value === null || value === undefined || value === "") return "–";
  if (field === "elapsed" && typeof value === "number") {
    const seconds = Math.round(value);
    const minutes = Math.floor(seconds / 60);
    return minutes ? `${minutes} min ${seconds % 60} s` : `${seconds} s`;
  }
  if (typeof value === "number") return value.toLocaleString("en-GB");
  return String(value);
}

function pollProgress(element) {
  const url = element.dataset.pollUrl;
  const interval = Number(element.dataset.pollInterval || 1000);
  let failures = 0;
  let timer;

  const tick = async () => {
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      failures = 0;
      element.querySelectorAll("[data-field]").forEach((node) => {
        const field = node.dataset.field;
        if (field in data) node.textContent = formatValue(field, data[field]);
      });
      if (FINAL_STATUSES.has(data.status)) {
        window.location.reload();
        return;
      }
    } catch {
      failures += 1;
      if (failures >= 10) return; // give up quietly; the page still has a refresh link
    }
    timer = window.setTimeout(tick, interval);
  };

  element.dataset.pollEnhanced = "";
  timer = window.setTimeout(tick, 0);
  window.addEventListener("pagehide", () => window.clearTimeout(timer));
}

document.querySelectorAll("[data-poll-url]").forEach(pollProgress);
