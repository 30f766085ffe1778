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
  visit: "上门", today: "今日", todays_round: "今日上门 {n} 单",
  more: "更多操作", book_visit: "预约上门", reschedule_reason: "改约原因（用户要求）", visit_from: "上门时间", hours_long: "时长（小时）", save: "保存",
  take_back: "拉修（带回服务站）", condition: "机器外观与状态", accessories: "随机附件", handed_over_by: "交机人",
  consented: "用户同意带回", give_back: "送还用户", received_by: "签收人", feedback: "用户意见",
  ask_cancel: "申请删单", cancel_note: "处理说明（如电话指导排除故障）", cancel_pending: "删单审核中", at_station: "机器在站",
  install_record: "装机单", maintenance_record: "保养记录", unboxing_ok: "开箱验机完好", unboxing_notes: "开箱情况",
  commissioned: "已调试运行", training_given: "已讲解使用", confirmed_by: "用户签字", work_done: "保养内容", findings: "检查发现",
  record_filed: "记录已填", cancel_requests: "删单审核", no_cancel_requests: "没有待审核的删单申请。",
  customer_confirmed: "已回访用户确认", review_note: "审核意见（必填）", approve: "同意删单", reject: "驳回",
  reason_fixed_by_phone: "电话排除故障", reason_duplicate: "重复工单", reason_customer_withdrew: "用户撤销",
  escalations: "超期升级（报修5天未修复）", no_escalations: "没有超期工单。", no_reason: "服务站未报延期原因",
  soothe_by: "安抚回访截止", soothed: "已安抚", soothe_note: "安抚内容（必填）", soothe: "记录安抚", loaner: "备用机",
  loaner_yes: "已接受", loaner_no: "已拒绝", loaner_offered: "已提供",
  follow_ups: "完工回访（48小时内）", no_follow_ups: "没有待回访的用户。", follow_up_reached: "已回访",
  follow_up_note: "用户反馈（产品使用情况）", follow_up_no_answer: "无人接听", follow_up_busy: "忙线",
  follow_up_wrong_number: "号码错误", follow_up_call_from: "{t} 起可拨打",
});
Object.assign(TEXT.en, {
  station_view: "Station jobs", my_jobs: "My jobs", no_jobs: "No open jobs.", engineer: "Engineer",
  assign_engineer: "Assign", auto_pick: "pick by skill and load", open_jobs: "{n} open",
  step_accepted: "Acknowledge", step_contacted: "Customer contacted", step_in_service: "On site", step_waiting_parts: "Waiting for parts",
  step_hard_to_repair: "Hard to repair", step_completed: "Completed", step_ready_for_pickup: "Ready for pickup", step_picked_up: "Picked up",
  address: "Address", fault_short: "Fault", station_reported: "station-reported", unassigned: "Unassigned orders", reassign: "Reassign",
  choose_station: "Choose a station", reason_required: "Reason (required)", no_unassigned: "No unassigned orders.",
  visit: "Visit", today: "Today", todays_round: "{n} visits today",
  more: "More", book_visit: "Book the visit", reschedule_reason: "Why the customer moved it", visit_from: "Visit at", hours_long: "Hours", save: "Save",
  take_back: "Take to the station", condition: "Condition", accessories: "Accessories", handed_over_by: "Handed over by",
  consented: "Customer consents", give_back: "Return to the customer", received_by: "Received by", feedback: "Customer feedback",
  ask_cancel: "Ask to cancel", cancel_note: "What was done (e.g. fixed by phone)", cancel_pending: "cancellation under review", at_station: "at the station",
  install_record: "Installation record", maintenance_record: "Maintenance record", unboxing_ok: "Unboxed intact", unboxing_notes: "Unboxing notes",
  commissioned: "Commissioned", training_given: "Customer shown how to use it", confirmed_by: "Customer signature", work_done: "Work done", findings: "Findings",
  record_filed: "record filed", cancel_requests: "Cancellation requests", no_cancel_requests: "No cancellation requests to review.",
  customer_confirmed: "Customer confirmed", review_note: "Review note (required)", approve: "Approve", reject: "Reject",
  reason_fixed_by_phone: "fixed by phone", reason_duplicate: "duplicate", reason_customer_withdrew: "customer withdrew",
  escalations: "Escalations (not repaired in 5 days)", no_escalations: "No escalated orders.", no_reason: "no reason for the delay filed",
  soothe_by: "soothing call due", soothed: "soothed", soothe_note: "What the customer was told (required)", soothe: "Record the call", loaner: "Loaner",
  loaner_yes: "accepted", loaner_no: "declined", loaner_offered: "offered",
  follow_ups: "Follow-ups (within 48 h of completion)", no_follow_ups: "No customers to follow up.", follow_up_reached: "Reached",
  follow_up_note: "What the customer said (how the appliance works)", follow_up_no_answer: "No answer", follow_up_busy: "Busy",
  follow_up_wrong_number: "Wrong number", follow_up_call_from: "call from {t}",
});

const STATION_ROLES = ["station", "engineer"];
const board = { view: null, refreshing: null, stations: null, unassigned: null, loads: 0, deskLoads: 0 };

function isStationStaff() { return state.me && STATION_ROLES.includes(state.me.role); }

async function loadStation(passive = false) {
  // A reload started by an event can answer after the one an action started: only the
  // latest request may draw, or a saved step would flicker back to the state before it.
  const load = ++board.loads;
  try {
    const view = await api("GET", "/api/console/station");
    if (load !== board.loads) return;
    // The user started filling in a form while this was under way: draw later.
    if (passive && editing()) { refreshSoon(loadStation); return; }
    syncClock(view.server_time);
    board.view = view;
    $("station-error").textContent = "";
    renderStation();
  } catch (error) { $("station-error").textContent = error.message; }
}

// Events arrive in bursts (a dispatch moves several orders): one reload per burst. A
// reload waits while the user is filling in a form, so what they typed is not wiped.
function refreshSoon(load) {
  clearTimeout(board.refreshing);
  board.refreshing = setTimeout(() => (editing() ? refreshSoon(load) : load(true)), 150);
}

// Forms of the station's jobs, and the desk's rows (a reason or a review being typed).
function editing() {
  const parts = [...document.querySelectorAll("#jobs details.more[open] form, #desk li")];
  return parts.some((part) => part.contains(document.activeElement)
    || [...part.querySelectorAll("input")].some((input) => (input.type === "checkbox" ? input.checked : input.value && input.type !== "number")));
}

function renderStation() {
  const view = board.view;
  if (!view) return;
  const todays = view.jobs.filter((job) => job.visit_today).length;
  $("station-name").textContent = `${view.station_name} · ${t(state.me.role === "engineer" ? "my_jobs" : "station_view")} · ${t("todays_round", todays)}`;
  $("no-jobs").hidden = view.jobs.length > 0;
  // What the user opened, typed and was told stays across the reload.
  const kept = keptState();
  const cards = view.jobs.map(jobCard);
  for (const card of cards) restoreState(card, kept.get(card.dataset.order));
  $("jobs").replaceChildren(...cards);
  tick();
  loadFollowUps(view.station_id);
}

// The station's own calls to customers whose repair it completed (§3.4.7): each counts
// down to its 48 hours; the outcome is recorded here, what the customer said with it.
async function loadFollowUps(stationId) {
  const panel = followUpPanel();
  const error = panel.querySelector(".error");
  try {
    const rows = await api("GET", `/api/stations/${stationId}/follow-ups`);
    if (panel.contains(document.activeElement)) return; // a note being typed stays
    error.textContent = "";
    panel.querySelector(".muted").hidden = rows.length > 0;
    panel.querySelector("ul").replaceChildren(...rows.map(followUpItem));
    tick();
  } catch (failure) { error.textContent = failure.message; }
}

function followUpPanel() {
  let panel = $("follow-ups");
  if (panel) return panel;
  panel = el("section", null, "panel");
  panel.id = "follow-ups";
  const title = el("h2", t("follow_ups"));
  title.dataset.i18n = "follow_ups";
  const none = el("p", t("no_follow_ups"), "muted");
  none.dataset.i18n = "no_follow_ups";
  panel.append(title, none, el("ul", null, "compact follow-ups"), el("p", "", "error"));
  $("station").insertBefore(panel, $("commission"));
  return panel;
}

function followUpItem(task) {
  const item = el("li", null, "follow-up");
  item.dataset.task = task.id;
  const phone = el("a", task.phone);
  phone.href = `tel:${task.phone}`;
  const left = el("span", "", "sla");
  left.dataset.due = task.deadline_at;
  item.append(el("strong", task.customer_name || ""), " ", phone, " ", left);
  if (task.due_at && Date.parse(task.due_at) > serverNow()) {
    const from = new Date(task.due_at).toLocaleTimeString(state.lang, { hour: "2-digit", minute: "2-digit", hour12: false });
    item.append(" ", el("span", t("follow_up_call_from", from), "muted"));
  }
  const note = el("input", null, "follow-up-note");
  note.placeholder = t("follow_up_note");
  note.maxLength = 2000;
  const error = el("span", "", "error");
  const record = (outcome) => async () => {
    error.textContent = "";
    try {
      await api("POST", `/api/follow-ups/${task.id}/outcome`, { outcome, comment: note.value });
      note.value = "";
      document.activeElement?.blur();
      await loadFollowUps(board.view.station_id);
    } catch (failure) { error.textContent = failure.message; }
  };
  const row = el("div", null, "follow-up-actions");
  for (const [outcome, label] of [["reached", "follow_up_reached"], ["no_answer", "follow_up_no_answer"], ["busy", "follow_up_busy"], ["wrong_number", "follow_up_wrong_number"]]) {
    const button = el("button", t(label));
    button.type = "button";
    button.dataset.outcome = outcome;
    button.addEventListener("click", record(outcome));
    row.append(button);
  }
  item.append(note, row, error);
  return item;
}

function keptState() {
  const kept = new Map();
  for (const card of document.querySelectorAll("#jobs .job")) {
    const more = card.querySelector("details.more");
    const values = [...card.querySelectorAll("form input")].map((input) => [input.closest("form").className, input.name, input.type === "checkbox" ? input.checked : input.value]);
    kept.set(card.dataset.order, { open: Boolean(more && more.open), values, error: card.querySelector(":scope > .error").textContent });
  }
  return kept;
}

function restoreState(card, kept) {
  if (!kept) return;
  const more = card.querySelector("details.more");
  if (more) more.open = kept.open;
  for (const [formClass, name, value] of kept.values) {
    const input = card.querySelector(`form[class="${formClass}"] input[name="${name}"]`);
    if (!input) continue;
    if (input.type === "checkbox") input.checked = value; else input.value = value;
  }
  card.querySelector(":scope > .error").textContent = kept.error;
}

function jobCard(job) {
  const card = el("li", null, "job");
  card.dataset.order = job.number;
  card.dataset.status = job.status;
  if (job.visit_today) card.classList.add("today");
  const head = el("div", null, "job-head");
  head.append(el("strong", job.number), el("span", statusText(job.status), "pill"));
  if (job.urgency === "urgent") head.append(el("span", t("urgent"), "pill alert"));
  if (job.station_reported) head.append(el("span", t("station_reported"), "pill"));
  if (job.at_station) head.append(el("span", t("at_station"), "pill"));
  if (job.cancellation_pending) head.append(el("span", t("cancel_pending"), "pill warn"));
  if (job.has_record) head.append(el("span", t("record_filed"), "pill ok"));
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
  if (job.visit_start) facts.append(el("dt", t("visit")), el("dd", visitText(job), "visit"));
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
    button.addEventListener("click", () => act(button, job.number, "POST", `/api/orders/${job.id}/transitions`, { to: step }));
    buttons.append(button);
  }
  card.append(buttons);
  if (state.me.role === "station" && board.view.engineers.length) card.append(assignRow(job));
  const forms = jobForms(job);
  if (forms.length) {
    const more = el("details", null, "more");
    more.append(el("summary", t("more")), ...forms);
    card.append(more);
  }
  card.append(error);
  return card;
}

// The paperwork of a job, each a small form that posts and reloads the board.
const VISIT_STATES = ["accepted", "contacted", "waiting_parts", "in_service", "reopened"];
const TAKE_BACK_STATES = ["in_service", "waiting_parts", "hard_to_repair"];
const OPEN = ["new", "assigned", "accepted", "contacted", "in_service", "waiting_parts", "hard_to_repair", "reopened"];

function jobForms(job) {
  const forms = [];
  const base = `/api/orders/${job.id}`;
  if (VISIT_STATES.includes(job.status)) {
    // Moving a standing visit (改约) asks why; the customer asked, as a station's own
    // miss is filed as a missed visit instead.
    const fields = [field("start", t("visit_from"), "datetime-local"), field("hours", t("hours_long"), "number", "2")];
    if (job.visit_start) fields.push(field("reason", t("reschedule_reason")));
    forms.push(form("book-visit", t("book_visit"), job.number, fields, (v) => {
      const start = zonedToUtc(v.start, board.view.time_zone);
      const end = new Date(start.getTime() + Number(v.hours) * 3600 * 1000);
      const body = { window_start: start.toISOString(), window_end: end.toISOString() };
      if (job.visit_start) Object.assign(body, { requested_by: "customer", reason: v.reason });
      return ["POST", `${base}/appointments`, body];
    }));
  }
  if (job.status === "in_service" && !job.has_record && job.order_type === "installation") {
    forms.push(form("install-record", t("install_record"), job.number, [
      field("unboxing_ok", t("unboxing_ok"), "checkbox"), field("unboxing_notes", t("unboxing_notes")),
      field("commissioned", t("commissioned"), "checkbox"), field("training_given", t("training_given"), "checkbox"),
      field("customer_confirmed_by", t("confirmed_by")),
    ], (v) => ["POST", `${base}/installation-record`, v]));
  }
  if (job.status === "in_service" && !job.has_record && job.order_type === "maintenance") {
    forms.push(form("maintenance-record", t("maintenance_record"), job.number, [
      field("work_done", t("work_done")), field("findings", t("findings")), field("customer_confirmed_by", t("confirmed_by")),
    ], (v) => ["POST", `${base}/maintenance-record`, v]));
  }
  if (job.service_mode === "on_site" && TAKE_BACK_STATES.includes(job.status)) {
    forms.push(form("take-back", t("take_back"), job.number, [
      field("condition", t("condition")), field("accessories", t("accessories")),
      field("handed_over_by", t("handed_over_by")), field("customer_consented", t("consented"), "checkbox"),
    ], (v) => ["POST", `${base}/handover`, v]));
  }
  if (job.at_station && job.status === "ready_for_pickup") {
    forms.push(form("give-back", t("give_back"), job.number, [
      field("received_by", t("received_by")), field("customer_feedback", t("feedback")),
    ], (v) => ["POST", `${base}/handover/return`, v]));
  }
  if (state.me.role === "station" && OPEN.includes(job.status) && !job.cancellation_pending) {
    forms.push(form("ask-cancel", t("ask_cancel"), job.number, [field("note", t("cancel_note"))],
      (v) => ["POST", `${base}/cancellation-requests`, { reason: "fixed_by_phone", note: v.note }]));
  }
  return forms;
}

function field(name, label, type = "text", value = "") {
  const wrap = el("label", null, type === "checkbox" ? "check" : "field");
  const input = el("input");
  input.name = name;
  input.type = type;
  if (type === "checkbox") { wrap.append(input, ` ${label}`); return wrap; }
  input.value = value;
  if (type === "number") { input.min = "1"; input.max = "12"; }
  wrap.append(el("span", label), input);
  return wrap;
}

function form(name, title, number, fields, request) {
  const node = el("form", null, `job-form ${name}`);
  const submit = el("button", t("save"));
  submit.type = "submit";
  node.append(el("strong", title), ...fields, submit);
  node.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = {};
    for (const input of node.querySelectorAll("input")) values[input.name] = input.type === "checkbox" ? input.checked : input.value.trim();
    let call;
    try { call = request(values); } catch (failure) { tell(number, failure.message); return; }
    // Saved: the form closes (the board shows what was filed).
    act(submit, number, ...call, () => { node.reset(); node.closest("details").open = false; });
  });
  return node;
}

// A wall-clock time typed for the station's zone, as the instant it names.
function zonedToUtc(value, zone) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value)) throw new Error(t("visit_from"));
  const guess = new Date(`${value}:00Z`);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(guess).map((p) => [p.type, p.value]));
  const shown = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute));
  return new Date(guess.getTime() - (shown - guess.getTime()));
}

// The window in the station's own zone, whatever the phone's zone is set to.
function visitText(job) {
  const zone = { timeZone: board.view.time_zone };
  const time = { ...zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  const start = new Date(job.visit_start);
  const span = `${start.toLocaleTimeString("zh-CN", time)}–${new Date(job.visit_end).toLocaleTimeString("zh-CN", time)}`;
  if (job.visit_today) return `${t("today")} ${span}`;
  return `${start.toLocaleDateString("zh-CN", { ...zone, month: "2-digit", day: "2-digit" })} ${span}`;
}

function assignRow(job) {
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
    act(button, job.number, "POST", `/api/orders/${job.id}/assign-engineer`, body);
  });
  line.append(select, button);
  return line;
}

// Every action reloads the board from the server: what it shows is what was saved.
async function act(button, number, method, path, body, done = () => {}) {
  button.disabled = true;
  tell(number, "");
  try {
    await api(method, path, body);
    done();
    await loadStation();
  } catch (failure) {
    tell(number, failure.message);
    button.disabled = false;
  }
}

// The answer goes to the job's card as it is drawn now: a reload started by an event
// may have replaced the card the button was on while the request was under way.
function tell(number, text) {
  const card = [...document.querySelectorAll("#jobs .job")].find((node) => node.dataset.order === number);
  if (card) card.querySelector(":scope > .error").textContent = text;
}

// The supervisor's desk: orders no station covers, and a hand reassignment.

async function loadUnassigned(passive = false) {
  // As on the station's board: an older reload answering late must not draw.
  const load = ++board.deskLoads;
  try {
    if (!board.stations) board.stations = await api("GET", "/api/stations");
    const [unassigned, cancellations, escalations] = await Promise.all([
      api("GET", "/api/orders?unassigned=true&limit=100"),
      api("GET", "/api/cancellation-requests"),
      api("GET", "/api/escalations"),
    ]);
    if (load !== board.deskLoads) return;
    if (passive && editing()) { refreshSoon(loadUnassigned); return; }
    Object.assign(board, { unassigned: unassigned.items, cancellations, escalations });
    $("desk-error").textContent = "";
    renderUnassigned();
    renderCancellations();
    renderEscalations();
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

// The hotline reviews a station's request to cancel (审核后删单): after calling the
// customer back, approve; or reject with the reason, and the order carries on.
function renderCancellations() {
  const requests = board.cancellations || [];
  $("no-cancel-requests").hidden = requests.length > 0;
  $("cancel-requests").replaceChildren(...requests.map((request) => {
    const item = el("li", null, "cancel-request");
    item.dataset.order = request.order_number;
    item.append(el("strong", request.order_number), ` · ${t(`reason_${request.reason}`)} · ${request.note} · ${request.requested_by} `);
    const confirmed = el("input", null, "customer-confirmed");
    confirmed.type = "checkbox";
    const check = el("label", null, "check");
    check.append(confirmed, ` ${t("customer_confirmed")}`);
    const note = el("input", null, "review-note");
    note.placeholder = t("review_note");
    note.maxLength = 2000;
    const error = el("span", "", "error");
    const decide = (approve) => async () => {
      error.textContent = "";
      try {
        await api("POST", `/api/cancellation-requests/${request.id}/review`, { approve, customer_confirmed: confirmed.checked, note: note.value });
        await loadUnassigned();
      } catch (failure) { error.textContent = failure.message; }
    };
    const approve = el("button", t("approve"), "approve");
    approve.type = "button";
    approve.addEventListener("click", decide(true));
    const reject = el("button", t("reject"), "reject");
    reject.type = "button";
    reject.addEventListener("click", decide(false));
    item.append(check, note, approve, reject, error);
    return item;
  }));
}

// Late repairs: the station's reason, the loaner, and the hotline's soothing call (安抚).
function renderEscalations() {
  const rows = board.escalations || [];
  $("no-escalations").hidden = rows.length > 0;
  $("escalations").replaceChildren(...rows.map((row) => {
    const item = el("li", null, "escalation");
    item.dataset.order = row.number;
    item.append(el("strong", row.number), ` · ${row.reason || t("no_reason")}`);
    if (row.loaner_offered_at) {
      const answer = row.loaner_accepted === true ? "loaner_yes" : row.loaner_accepted === false ? "loaner_no" : "loaner_offered";
      item.append(el("span", `${t("loaner")} ${t(answer)}`, "pill"));
    }
    if (row.soothing_call_done_at) {
      item.append(el("span", t("soothed"), "pill ok"));
      return item;
    }
    item.append(` · ${t("soothe_by")} `, slaBadge({ due_at: row.soothing_call_due_at, state: "ok" }));
    const note = el("input", null, "soothe-note");
    note.placeholder = t("soothe_note");
    note.maxLength = 2000;
    const button = el("button", t("soothe"), "soothe");
    button.type = "button";
    const error = el("span", "", "error");
    button.addEventListener("click", async () => {
      error.textContent = "";
      try {
        await api("POST", `/api/orders/${row.order_id}/escalation/soothing-call`, { note: note.value });
        await loadUnassigned();
      } catch (failure) { error.textContent = failure.message; }
    });
    item.append(note, button, error);
    return item;
  }));
}

// Called by console.js for each event frame; true when the station view took it.
function stationEvent(frame) {
  if (!frame.name.startsWith("order.") && !frame.name.startsWith("sla.")) return false;
  if (isStationStaff()) { refreshSoon(loadStation); return true; }
  // The desk and the back office (an order completed may bring a slip to audit).
  if (!$("wall").hidden) refreshSoon((passive) => Promise.all([loadUnassigned(passive), loadOffice()]));
  return false;
}
