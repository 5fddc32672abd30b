// The door board: "/" lists the doors, "/doors/{location}" shows one, live over server-sent events.
// Everything is written with textContent (never innerHTML): tag data never becomes markup.
"use strict";

const LISTS = ["missing", "unexpected", "wrong_door", "wrong_direction"];
const $ = (id) => document.getElementById(id);

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function toLogin() {
  window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
}

function clock(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  return isNaN(when) ? String(iso) : when.toLocaleTimeString([], { hour12: false });
}

function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso)) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m`;
}

function itemText(item) {
  if (typeof item === "string") return item;
  const where = item.location ? ` (at ${item.location})` : item.direction ? ` (moved ${item.direction})` : "";
  return (item.uri || item.epc) + where;
}

// ---- the doors ----------------------------------------------------------------------------------------

async function showIndex() {
  $("index").hidden = false;
  $("title").textContent = "doors";
  const response = await fetch("/api/v1/board", { credentials: "same-origin", cache: "no-store" });
  if (response.status === 401) return toLogin();
  const body = await response.json();
  $("title").textContent = body.gateway;
  const list = $("doors");
  list.replaceChildren();
  for (const door of body.doors) {
    const link = el("a", `state-${door.state}`, door.location);
    link.href = "/doors/" + encodeURIComponent(door.location);
    link.append(el("small", "", door.state));
    list.append(el("li", "", link));
  }
  setTimeout(() => showIndex().catch(() => setTimeout(showIndex, 2000)), 5000);
}

// ---- one door -----------------------------------------------------------------------------------------

function renderDoor(door) {
  const box = $("door");
  box.className = `door state-${door.state}`;
  $("state").textContent = door.state;
  $("shipment").textContent = door.shipment ? `${door.shipment}${door.direction ? " · " + door.direction : ""}` : "";
  $("progress").textContent = door.expected !== undefined && door.shipment ? `${door.seen ?? 0} / ${door.expected}` : "";
  const problems = $("problems");
  problems.replaceChildren();
  for (const name of LISTS) {
    const items = door[name] || [];
    const count = door[`${name}_count`] ?? items.length;
    if (!count) continue;
    const list = el("ul", "");
    for (const item of items) list.append(el("li", "", itemText(item)));
    problems.append(el("div", "problem", el("h3", "", `${name.replace("_", " ")}: ${count}`), list));
  }
}

function renderPresent(present) {
  const body = $("present").tBodies[0];
  body.replaceChildren();
  if (!present) {
    $("present-count").textContent = "";
    return;
  }
  const more = (present.truncated || 0) + (present.not_shown || 0);
  $("present-count").textContent = `(${present.count}${more ? `, ${more} not listed` : ""})`;
  for (const tag of present.tags) {
    const row = el("tr", "");
    const cell = el("td", "tag", tag.uri || tag.epc);
    cell.title = tag.epc;
    const direction = tag.direction ? `${tag.direction} ${Math.round(tag.direction_confidence * 100)}%` : "…";
    row.append(cell, el("td", "", tag.owner), el("td", "", ago(tag.since)), el("td", "", tag.antennas.join(",")));
    row.append(el("td", "", direction));
    body.append(row);
  }
}

function renderEvents(events) {
  const list = $("events");
  list.replaceChildren();
  for (const event of events) {
    const item = el("li", event.type, el("span", "dim", clock(event.time) + " "), el("span", "type", event.type));
    item.dataset.seq = event.seq ?? "";
    if (event.uri || event.epc) item.append(" ", el("span", "tag", event.uri || event.epc));
    const extra = [event.owner, event.direction, event.reason, event.shipment].filter(Boolean).join(" · ");
    if (extra) item.append(" ", el("span", "dim", extra));
    for (const name of LISTS) {
      const items = event[name];
      if (items && items.length) item.append(el("div", "dim", `${name}: ${items.map(itemText).join(", ")}`));
    }
    list.append(item);
  }
}

function renderReaders(readers, broker, outbox) {
  const list = $("readers");
  list.replaceChildren();
  for (const reader of readers) {
    const ok = reader.state === "connected" || reader.state === "idle";
    const item = el("li", "", el("b", "", reader.name + " "), el("span", ok ? "good" : "bad", reader.state));
    if (reader.detail) item.append(el("span", "dim", " " + reader.detail));
    const antennas = reader.antennas.map((a) => `ant ${a.antenna}${a.state && a.state !== "connected" ? " " + a.state : ""}: ${a.rate}/s`).join("  ");
    if (antennas) item.append(el("div", "dim", antennas));
    list.append(item);
  }
  const delivery = $("delivery");
  delivery.replaceChildren(
    el("span", broker.connected ? "good" : "bad", broker.connected ? "broker connected" : "broker away"),
    el("span", outbox.pending ? "bad" : "dim", ` · outbox ${outbox.pending} pending`),
  );
  if (outbox.fault) delivery.append(el("span", "bad", ` · outbox failing: ${outbox.fault}`));
}

function renderReports(rows) {
  $("reports-section").hidden = !rows.length;
  const table = $("reports");
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const head = el("tr", "");
  for (const key of keys) head.append(el("th", "", key));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(
    ...rows.map((row) => {
      const tr = el("tr", "");
      for (const key of keys) tr.append(el("td", "", row[key] ?? ""));
      return tr;
    }),
  );
}

function render(board) {
  $("title").textContent = board.location;
  $("scope").textContent = board.owner ? `owner: ${board.owner}` : board.gateway;
  $("clock").textContent = clock(board.time);
  renderDoor(board.door);
  renderPresent(board.present);
  renderEvents(board.events);
  renderReaders(board.readers, board.broker, board.outbox);
  renderReports(board.reports || []);
  document.body.dataset.state = board.door.state;
  document.body.dataset.updated = board.time;
}

function showBoard(location) {
  $("board").hidden = false;
  const api = "/api/v1/board/" + encodeURIComponent(location);
  const banner = $("reconnecting");
  let source = null;

  function connect() {
    source = new EventSource(api + "/stream");
    source.addEventListener("board", (message) => {
      banner.hidden = true;
      document.body.dataset.connected = "yes";
      render(JSON.parse(message.data));
    });
    source.onerror = () => {
      banner.hidden = false;
      document.body.dataset.connected = "no";
      if (source.readyState === EventSource.CLOSED) setTimeout(check, 1000); // refused: find out why
    };
  }

  async function check() {
    try {
      const response = await fetch(api, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) return toLogin();
    } catch (_) {
      // the gateway is away: try the stream again
    }
    connect();
  }

  connect();
}

const door = window.location.pathname.match(/^\/doors\/([^/]+)\/?$/);
if (door) showBoard(decodeURIComponent(door[1]));
else showIndex().catch(() => setTimeout(() => window.location.reload(), 2000));
