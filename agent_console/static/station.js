"use strict";
// The station view (station staff and engineers) and the supervisor's desk of unassigned
// orders. Loaded after console.js and built on its helpers ($, t, el, api, state, tick).
// Sized for a 390px phone first; wider screens get two columns.

Object.assign(TEXT["zh-CN"], {
  station_view: "服务站工单", my_jobs: "我的工单", no_jobs: "暂无待处理工单。", engineer: "工程师",
  assign_engineer: "派工", auto_pick: "按技能与负荷自动选择", open_jobs: "{n} 单",
  step_accepted: "接单", step_contacted: "已联系用户", step_in_service: "上门服务", step_waiting_parts: "待配件",
  step_hard_to_repair: "疑难", step_completed: "完工", step_ready_for_pickup: "待取件", step_picked_up: "已取件",
  address: "地址", fault_short: "故障", station_reported: "报备单", unassigned: "未派工单", reassign: "改派",
  choose_station: "选择服务站", reason_required: "原因（必填）", no_unassigned: "没有未派工单。",
});
Object.assign(TEXT.en, {
  station_view: "Station jobs", my_jobs: "My jobs", no_jobs: "No open jobs.", engineer: "Engineer",
  assign_engineer: "Assign", auto_pick: "pick by skill and load", open_jobs: "{n} open",
  step_accepted: "Acknowledge", step_contacted: "Customer contacted", step_in_service: "On site", step_waiting_parts: "Waiting for parts",
  step_hard_to_repair: "Hard to repair", step_completed: "Completed", step_ready_for_pickup: "Ready for pickup", step_picked_up: "Picked up",
  address: "Address", fault_short: "Fault", station_reported: "station-reported", unassigned: "Unassigned orders", reassign: "Reassign",
  choose_station: "Choose a station", reason_required: "Reason (required)", no_unassigned: "No unassigned orders.",
});

const STATION_ROLES = ["station", "engineer"];
const board = { view: null, refreshing: null, stations: null, unassigned: null, loads: 0 };

function isStationStaff() { return state.me && STATION_ROLES.includes(state.me.role); }

async function loadStation() {
  // A reload started by an event can answer after the one an action started: only the
  // latest request may draw, or a saved step would flicker back to the state before it.
  const load = ++board.loads;
  try {
    const view = await api("GET", "/api/console/station");
    if (load !== board.loads) return;
    syncClock(view.server_time);
    board.view = view;
    $("station-error").textContent = "";
    renderStation();
  } catch (error) { $("station-error").textContent = error.message; }
}

// Events arrive in bursts (a dispatch moves several orders): one reload per burst.
function refreshSoon(load) {
  clearTimeout(board.refreshing);
  board.refreshing = setTimeout(load, 150);
}

function renderStation() {
  const view = board.view;
  if (!view) return;
  $("station-name").textContent = `${view.station_name} · ${t(state.me.role === "engineer" ? "my_jobs" : "station_view")}`;
  $("no-jobs").hidden = view.jobs.length > 0;
  $("jobs").replaceChildren(...view.jobs.map(jobCard));
  tick();
}

function jobCard(job) {
  const card = el("li", null, "job");
  card.dataset.order = job.number;
  card.dataset.status = job.status;
  const head = el("div", null, "job-head");
  head.append(el("strong", job.number), el("span", statusText(job.status), "pill"));
  if (job.urgency === "urgent") head.append(el("span", t("urgent"), "pill alert"));
  if (job.station_reported) head.append(el("span", t("station_reported"), "pill"));
  if (job.sla) head.append(slaBadge(job.sla));
  card.append(head);
  const facts = el("dl", null, "facts");
  const phones = el("dd");
  for (const number of job.phones) {
    const link = el("a", number);
    link.href = `tel:${number}`;
    phones.append(link, " ");
  }
  facts.append(el("dt", t("customer")), el("dd", job.customer_name), el("dt", t("phone")), phones);
  facts.append(el("dt", t("address")), el("dd", job.address));
  const category = job.category ? t(`cat_${job.category}`) : "";
  facts.append(el("dt", t("appliances")), el("dd", `${category} ${job.appliance}`.trim()));
  facts.append(el("dt", t("fault_short")), el("dd", job.fault_description));
  facts.append(el("dt", t("engineer")), el("dd", job.engineer_name || "–", "engineer-name"));
  card.append(facts);
  const error = el("p", "", "error");
  error.setAttribute("role", "alert");
  const buttons = el("div", null, "buttons");
  for (const step of job.next_steps) {
    const button = el("button", t(`step_${step}`), "step");
    button.type = "button";
    button.dataset.step = step;
    button.addEventListener("click", () => act(button, error, "POST", `/api/orders/${job.id}/transitions`, { to: step }));
    buttons.append(button);
  }
  card.append(buttons);
  if (state.me.role === "station" && board.view.engineers.length) card.append(assignRow(job, error));
  card.append(error);
  return card;
}

function assignRow(job, error) {
  const line = el("div", null, "row assign");
  const select = el("select", null, "engineer-choice");
  select.setAttribute("aria-label", t("engineer"));
  const auto = el("option", t("auto_pick"));
  auto.value = "";
  select.append(auto);
  for (const engineer of board.view.engineers) {
    const option = el("option", `${engineer.name} (${t("open_jobs", engineer.open_jobs)})`);
    option.value = engineer.id;
    option.selected = engineer.id === job.engineer_id;
    select.append(option);
  }
  const button = el("button", t("assign_engineer"), "assign-engineer");
  button.type = "button";
  button.addEventListener("click", () => {
    const body = select.value ? { engineer_id: Number(select.value) } : {};
    act(button, error, "POST", `/api/orders/${job.id}/assign-engineer`, body);
  });
  line.append(select, button);
  return line;
}

// Every action reloads the board from the server: what it shows is what was saved.
async function act(button, error, method, path, body) {
  button.disabled = true;
  error.textContent = "";
  try {
    await api(method, path, body);
    await loadStation();
  } catch (failure) {
    error.textContent = failure.message;
    button.disabled = false;
  }
}

// The supervisor's desk: orders no station covers, and a hand reassignment.

async function loadUnassigned() {
  try {
    if (!board.stations) board.stations = await api("GET", "/api/stations");
    board.unassigned = (await api("GET", "/api/orders?unassigned=true&limit=100")).items;
    $("desk-error").textContent = "";
    renderUnassigned();
  } catch (error) { $("desk-error").textContent = error.message; }
}

function renderUnassigned() {
  const orders = board.unassigned || [];
  $("no-unassigned").hidden = orders.length > 0;
  $("unassigned").replaceChildren(...orders.map((order) => {
    const item = el("li", null, "unassigned-order");
    item.dataset.order = order.number;
    item.append(el("strong", order.number), ` · ${statusText(order.status)} `);
    const select = el("select", null, "station-choice");
    select.setAttribute("aria-label", t("choose_station"));
    const none = el("option", t("choose_station"));
    none.value = "";
    select.append(none);
    for (const station of board.stations) {
      const option = el("option", `${station.code} ${station.name}`);
      option.value = station.id;
      select.append(option);
    }
    const reason = el("input", null, "reassign-reason");
    reason.placeholder = t("reason_required");
    reason.maxLength = 500;
    const button = el("button", t("reassign"), "reassign");
    button.type = "button";
    const error = el("span", "", "error");
    button.addEventListener("click", async () => {
      error.textContent = "";
      try {
        await api("POST", `/api/orders/${order.id}/reassign`, { station_id: Number(select.value), reason: reason.value });
        await loadUnassigned();
      } catch (failure) { error.textContent = failure.message; }
    });
    item.append(select, reason, button, error);
    return item;
  }));
}

// Called by console.js for each event frame; true when the station view took it.
function stationEvent(frame) {
  if (!frame.name.startsWith("order.") && !frame.name.startsWith("sla.")) return false;
  if (isStationStaff()) { refreshSoon(loadStation); return true; }
  if (!$("wall").hidden) refreshSoon(loadUnassigned);
  return false;
}
