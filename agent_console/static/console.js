"use strict";
// The hotline console: plain DOM. Every customer field is set with textContent, never as
// HTML, and the page's CSP allows no inline script: a name like <img onerror=...> is text.

const TEXT = {
  "zh-CN": {
    title: "售后热线坐席台", logout: "退出登录", username: "用户名", password: "密码", sign_in: "登录",
    offline: "未连接", online: "已连接", session_expired: "登录已过期，请重新登录。", login_failed: "登录失败",
    my_state: "我的状态", queues: "队列", available: "就绪", wrap_up: "话后处理", logged_out: "签出队列", break: "小休", decline: "拒接",
    reason_rest: "休息", reason_lunch: "用餐", reason_training: "培训", reason_meeting: "会议", reason_supervisor: "主管调整",
    state_logged_out: "已签出", state_available: "就绪", state_offered: "振铃中", state_on_call: "通话中",
    state_wrap_up: "话后处理", state_break: "小休",
    current_call: "当前来电", number: "号码", queue: "队列", call_status: "状态", duration: "时长",
    call_offered: "振铃中", call_bridged: "通话中", call_ended: "已结束", call_ringing: "呼入",
    call_in_ivr: "自助语音", call_queued: "排队中",
    notes: "备注与结果", choose_disposition: "选择通话结果", save: "保存", saved: "已保存",
    outcome_order_created: "已建工单", outcome_status_enquiry: "查询进度", outcome_resolved: "问题已解决",
    outcome_callback_needed: "需要回电", outcome_complaint: "投诉", outcome_wrong_number: "打错电话", outcome_other: "其他",
    shared_number: "此号码有 {n} 位客户，请核实来电人身份。",
    unknown_caller: "未知来电，请新建客户。", no_pop: "暂无来电人资料。",
    phone: "电话", name: "姓名", title_field: "称呼", province: "省", city: "市", district: "区", street: "街道门牌",
    category: "品类", brand: "品牌", model: "型号", purchase_date: "购买日期", create_customer: "新建客户",
    customer_created: "已新建客户",
    phones: "电话", addresses: "地址", appliances: "电器", open_orders: "未完工单", recent_orders: "最近工单",
    complaints: "未结投诉", satisfaction: "最近满意度", no_score: "无", earlier_calls: "历史通话录音",
    no_transcript: "暂无转写", play: "播放", none: "无",
    in_warranty: "保内", extended: "延保", out_of_warranty: "保外", days_left: "剩 {n} 天", last_day: "今天到期",
    sla_ok: "剩余", sla_warning_left: "即将超时", sla_overdue: "已超时",
    repair_warranty: "90天维修保修期内", milestone_acknowledge: "接单时效", milestone_contact: "联系用户时效", milestone_on_site: "上门时效", milestone_repair: "5天修复时效",
    create_order: "一键建单", order_created: "已创建工单", fault: "故障描述", urgent: "加急", no_appliance: "该客户没有登记电器。",
    agent: "坐席", customer: "客户",
    status_new: "新建", status_assigned: "已派单", status_accepted: "已接单", status_contacted: "已联系",
    status_in_service: "服务中", status_waiting_parts: "待配件", status_hard_to_repair: "疑难",
    status_completed: "已完工", status_ready_for_pickup: "待取件", status_picked_up: "已取件",
    status_closed: "已关闭", status_cancelled: "已取消", status_reopened: "已重开",
    cat_washing_machine: "洗衣机", cat_refrigerator: "冰箱", cat_air_conditioner: "空调", cat_tv: "电视",
    cat_water_heater: "热水器", cat_range_hood: "油烟机", cat_gas_stove: "燃气灶", cat_microwave: "微波炉",
    cat_dishwasher: "洗碗机", cat_other: "其他",
    accept: "接听", hold: "保持", resume: "恢复通话", transfer: "转接", hang_up: "挂断",
    consult: "咨询转接", complete_transfer: "完成转接", cancel_consult: "取消咨询",
    consult_ringing: "正在呼叫 {n}，来电保持中……", consult_talking: "正在与 {n} 通话，来电保持中。",
    consult_asked: "同事请求咨询：接听后先与同事通话，再接过来电。", consult_to: "咨询转接给（按数字键选择，Esc 取消）",
    call_consulting: "咨询中", call_transferred: "已转出",
    pick_up_phone: "已接受：请拿起话机接听。", transfer_to: "转接到（按数字键选择，Esc 取消）",
    no_targets: "暂无可转接的坐席或队列。", to_agent: "坐席", to_queue: "队列", waiting_n: "{n} 人排队",
    heading_offered: "来电", heading_bridged: "通话中", heading_held: "保持中", heading_ended: "通话结束",
    call_held: "保持中", idle_logged_out: "已签出：勾选队列后点“就绪”开始接听。",
    idle_available: "等待来电……", idle_break: "小休中：点“就绪”继续接听。", idle_wrap_up: "话后处理中。",
    unit_d: "天", unit_h: "小时", unit_m: "分",
    phone_mobile: "手机", phone_home: "住宅", phone_work: "单位", phone_other: "其他", "phone_来电": "来电",
    choose_appliance: "请先选择报修的电器", customer_file: "客户档案", recording_call: "通话录音", recording_fault: "故障录音",
    recording_voicemail: "留言", "queue_hotline-zh-CN": "中文热线", "queue_hotline-en": "英文热线",
  },
  en: {
    title: "Hotline console", logout: "Sign out", username: "Username", password: "Password", sign_in: "Sign in",
    offline: "offline", online: "live", session_expired: "Your session has expired; please sign in again.", login_failed: "Login failed",
    my_state: "My state", queues: "Queues", available: "Available", wrap_up: "Wrap-up", logged_out: "Leave queues", break: "Break", decline: "Decline",
    reason_rest: "Rest", reason_lunch: "Lunch", reason_training: "Training", reason_meeting: "Meeting", reason_supervisor: "set by supervisor",
    state_logged_out: "Logged out", state_available: "Available", state_offered: "Ringing", state_on_call: "On a call",
    state_wrap_up: "Wrap-up", state_break: "On break",
    current_call: "Current call", number: "Number", queue: "Queue", call_status: "Status", duration: "Duration",
    call_offered: "ringing", call_bridged: "connected", call_ended: "ended", call_ringing: "incoming",
    call_in_ivr: "in IVR", call_queued: "waiting",
    notes: "Notes and outcome", choose_disposition: "Choose an outcome", save: "Save", saved: "Saved",
    outcome_order_created: "Order created", outcome_status_enquiry: "Status enquiry", outcome_resolved: "Resolved",
    outcome_callback_needed: "Callback needed", outcome_complaint: "Complaint", outcome_wrong_number: "Wrong number", outcome_other: "Other",
    shared_number: "{n} customers share this number: check who is calling.",
    unknown_caller: "Unknown caller: create a customer.", no_pop: "No caller data.",
    phone: "Phone", name: "Name", title_field: "Title", province: "Province", city: "City", district: "District", street: "Street",
    category: "Category", brand: "Brand", model: "Model", purchase_date: "Purchased", create_customer: "Create customer",
    customer_created: "Customer created",
    phones: "Phones", addresses: "Addresses", appliances: "Appliances", open_orders: "Open orders", recent_orders: "Recent orders",
    complaints: "Open complaints", satisfaction: "Last satisfaction", no_score: "none", earlier_calls: "Earlier calls",
    no_transcript: "no transcript yet", play: "Play", none: "none",
    in_warranty: "In warranty", extended: "Extended", out_of_warranty: "Out of warranty", days_left: "{n} days left", last_day: "last day today",
    sla_ok: "left", sla_warning_left: "due soon", sla_overdue: "overdue",
    repair_warranty: "within the 90-day repair warranty", milestone_acknowledge: "acknowledge", milestone_contact: "contact customer", milestone_on_site: "on site", milestone_repair: "repaired in 5 days",
    create_order: "Create order", order_created: "Order created", fault: "Fault", urgent: "Urgent", no_appliance: "No appliance on file.",
    agent: "Agent", customer: "Customer",
    status_new: "new", status_assigned: "assigned", status_accepted: "accepted", status_contacted: "contacted",
    status_in_service: "in service", status_waiting_parts: "waiting for parts", status_hard_to_repair: "hard to repair",
    status_completed: "completed", status_ready_for_pickup: "ready for pickup", status_picked_up: "picked up",
    status_closed: "closed", status_cancelled: "cancelled", status_reopened: "reopened",
    cat_washing_machine: "Washing machine", cat_refrigerator: "Refrigerator", cat_air_conditioner: "Air conditioner", cat_tv: "TV",
    cat_water_heater: "Water heater", cat_range_hood: "Range hood", cat_gas_stove: "Gas stove", cat_microwave: "Microwave",
    cat_dishwasher: "Dishwasher", cat_other: "Other",
    accept: "Accept", hold: "Hold", resume: "Resume", transfer: "Transfer", hang_up: "Hang up",
    consult: "Consult", complete_transfer: "Complete transfer", cancel_consult: "Cancel consult",
    consult_ringing: "Calling {n}; the caller is on hold…", consult_talking: "Talking to {n}; the caller is on hold.",
    consult_asked: "A colleague asks to consult: talk to them first, then take the caller.", consult_to: "Consult (press a number, Esc to cancel)",
    call_consulting: "consulting", call_transferred: "transferred",
    pick_up_phone: "Accepted: pick up your phone.", transfer_to: "Transfer to (press a number, Esc to cancel)",
    no_targets: "No agent or queue to transfer to.", to_agent: "Agent", to_queue: "Queue", waiting_n: "{n} waiting",
    heading_offered: "Incoming call", heading_bridged: "On a call", heading_held: "On hold", heading_ended: "Call ended",
    call_held: "on hold", idle_logged_out: "Off the queues: tick your queues and press Available.",
    idle_available: "Waiting for calls…", idle_break: "On break: press Available to take calls.", idle_wrap_up: "Wrapping up.",
    unit_d: "d", unit_h: "h", unit_m: "min",
    phone_mobile: "mobile", phone_home: "home", phone_work: "work", phone_other: "other", "phone_来电": "called from",
    choose_appliance: "Choose the appliance first", customer_file: "Customer file", recording_call: "call", recording_fault: "fault",
    recording_voicemail: "voicemail", "queue_hotline-zh-CN": "Chinese line", "queue_hotline-en": "English line",
  },
};
const CHOSEN = ["available", "break", "wrap_up", "logged_out"];

const state = {
  token: sessionStorage.getItem("token"), me: null, lang: localStorage.getItem("lang") || "zh-CN",
  lastEventId: null, socket: null, skew: 0, mine: null, moves: {}, call: null, pop: null, wall: null,
  queues: [], targets: [],
};
const $ = (id) => document.getElementById(id);
const t = (key, n) => {
  const text = (TEXT[state.lang] || TEXT["zh-CN"])[key];
  return text === undefined ? key : text.replace("{n}", n);
};

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function serverNow() { return Date.now() + state.skew; }
function syncClock(serverTime) { if (serverTime) state.skew = Date.parse(serverTime) - Date.now(); }

function span(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function longSpan(seconds) {
  const s = Math.abs(Math.floor(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}${t("unit_d")} ${h}${t("unit_h")}`;
  return h > 0 ? `${h}${t("unit_h")} ${String(m).padStart(2, "0")}${t("unit_m")}` : `${m}${t("unit_m")}`;
}

// Numbers as people read them: Chinese ones in national groups (138 0013 8000,
// 010 6552 0000), others in international form with the country code apart.
function phoneText(e164) {
  const digits = String(e164 || "");
  if (!digits.startsWith("+86")) return digits.replace(/^\+(\d{1,3})(\d+)$/, "+$1 $2");
  const national = digits.slice(3);
  if (/^1\d{10}$/.test(national)) return `${national.slice(0, 3)} ${national.slice(3, 7)} ${national.slice(7)}`;
  const area = /^(10|2\d)/.test(national) ? 2 : 3;
  const local = national.slice(area);
  return `0${national.slice(0, area)} ${local.length > 4 ? `${local.slice(0, local.length - 4)} ${local.slice(-4)}` : local}`;
}

// A queue by its title, else by the name the console knows it by, else by its id.
function queueName(queue, titles = queueTitles()) {
  return titles[queue] || (TEXT[state.lang] || TEXT["zh-CN"])[`queue_${queue}`] || queue;
}

function queueTitles() {
  return Object.fromEntries(state.queues.filter((q) => q.title).map((q) => [q.queue, q.title]));
}

// Every element with data-since counts up, every one with data-due counts down.
function tick() {
  const now = serverNow();
  for (const node of document.querySelectorAll("[data-since]")) {
    node.textContent = span((now - Date.parse(node.dataset.since)) / 1000);
  }
  for (const node of document.querySelectorAll("[data-due]")) {
    const left = (Date.parse(node.dataset.due) - now) / 1000;
    const kind = left < 0 ? "breached" : node.dataset.warnAt && now >= Date.parse(node.dataset.warnAt) ? "warning" : "ok";
    node.className = `sla ${kind}`;
    node.dataset.sla = kind;
    node.textContent = left < 0 ? `${t("sla_overdue")} ${longSpan(left)}` : `${t(kind === "warning" ? "sla_warning_left" : "sla_ok")} ${longSpan(left)}`;
  }
}

function translate() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = state.lang === "zh-CN" ? "English" : "中文";
  if (state.mine) showState(state.mine);
  for (const node of document.querySelectorAll(".queue-name")) node.textContent = queueName(node.dataset.queue, queueTitles());
  if (state.call) showCall();
  if (state.pop) renderPop();
  if (state.wall) renderWall(state.wall);
  if (board.view) renderStation();
  if (board.unassigned) { renderUnassigned(); renderCancellations(); renderEscalations(); }
  // Status lines written earlier follow the language too.
  const made = $("order-result").dataset.order;
  if (made) $("order-result").textContent = `${t("order_created")}: ${made}`;
  if ($("note-result").dataset.saved) $("note-result").textContent = t("saved");
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: { "Authorization": `Bearer ${state.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) { expire(); throw new Error(t("session_expired")); }
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(data && data.message ? data.message : response.statusText);
  return data;
}

async function login(event) {
  event.preventDefault();
  const form = new FormData($("login-form"));
  const response = await fetch("/api/auth/token", { method: "POST", body: new URLSearchParams(form) });
  if (!response.ok) { $("login-error").textContent = t("login_failed"); return; }
  state.token = (await response.json()).access_token;
  sessionStorage.setItem("token", state.token);
  $("login-error").textContent = "";
  $("login-note").textContent = "";
  await start();
}

function logout() {
  sessionStorage.removeItem("token");
  state.token = null;
  if (state.socket) state.socket.close();
  location.reload();
}

// The token ran out (HTTP 401 or websocket 4401): back to the login form, saying why.
function expire() {
  sessionStorage.removeItem("token");
  state.token = null;
  if (state.socket) { state.socket.onclose = null; state.socket.close(); }
  for (const id of ["agent", "wall", "station", "logout"]) $(id).hidden = true;
  $("login").hidden = false;
  $("login-note").textContent = t("session_expired");
  $("who").textContent = "";
  setLink(false);
}

async function start() {
  // Signed in again in this tab (the session ran out), maybe as someone else: what was
  // shown is not theirs, nor newer than their state.
  state.mine = null;
  state.lastEventId = null;
  if (state.call) forgetCall();
  state.me = await api("GET", "/api/me");
  // The language follows the user from one browser to another.
  if (state.me.language && state.me.language !== state.lang) {
    state.lang = state.me.language;
    localStorage.setItem("lang", state.lang);
    translate();
  }
  $("who").textContent = `${state.me.full_name || state.me.username} (${state.me.role})`;
  $("login").hidden = true;
  $("logout").hidden = false;
  const supervisor = state.me.role === "supervisor" || state.me.role === "admin";
  const station = isStationStaff();
  $("wall").hidden = !supervisor;
  $("station").hidden = !station;
  $("agent").hidden = supervisor || station;
  if (station) await loadStation();
  else if (supervisor) await loadUnassigned();
  else await loadMine();
  await startOffice();
  startOutbound();
  startTranscripts();
  connect();
}

async function loadMine() {
  const mine = await api("GET", "/api/console/me");
  syncClock(mine.server_time);
  // The events start where this reading was taken: none published since is lost.
  if (!state.lastEventId) state.lastEventId = mine.last_event_id;
  state.moves = mine.moves;
  await loadQueues(mine.state === "logged_out" ? null : mine.queues);
  showState(mine);
  if (mine.call_id && ["offered", "on_call", "wrap_up"].includes(mine.state)) {
    try {
      const pop = await api("GET", `/api/console/calls/${mine.call_id}/pop`);
      const status = { offered: "offered", on_call: "bridged", wrap_up: "ended" }[mine.state];
      beginCall({ call_id: mine.call_id, queue: mine.call_queue || "", at: mine.since }, status);
      showPop(pop);
    } catch (error) { /* the call is gone: nothing to show */ }
  }
}

function setLink(up) {
  $("link").dataset.link = up ? "up" : "down";
  $("link").dataset.i18n = up ? "online" : "offline";
  $("link").textContent = t(up ? "online" : "offline");
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/console`);
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: state.token, last_event_id: state.lastEventId, batch: true }));
  socket.onmessage = (message) => {
    const frames = JSON.parse(message.data);  // a burst comes as one array (batch: true)
    for (const frame of Array.isArray(frames) ? frames : [frames]) {
      try { handle(frame); } catch (error) { console.error("frame not handled", frame, error); }  // the rest of a batch still is
    }
  };
  socket.onclose = (event) => {
    setLink(false);
    document.body.dataset.console = "closed";
    if (event.code === 4401) { expire(); return; }
    if (state.token) setTimeout(connect, 1000);  // resumes from lastEventId
  };
}

function handle(frame) {
  syncClock(frame.server_time);
  if (frame.last_event_id) state.lastEventId = frame.last_event_id;
  if (frame.type === "ready") { setLink(true); document.body.dataset.console = "ready"; return; }
  if (frame.type === "wall") { state.wall = frame.wall; renderWall(frame.wall); return; }
  if (frame.type !== "event") return;
  state.lastEventId = frame.id;
  if (stationEvent(frame) || outboundEvent(frame) || liveEvent(frame) || consultEvent(frame)) return;
  const data = frame.data;
  // An agent hears order events only for the customers of its call: the pop follows.
  if (frame.name.startsWith("order.")) { if (state.me && state.me.role === "agent") refreshPop(); return; }
  if (!state.me || data.agent_id !== state.me.id) return;  // supervisors: the wall says it all
  if (frame.name === "call.offered" && !older(data)) { beginCall(data, "offered"); showPop(frame.pop); }
  if (frame.name === "call.bridged" && state.call && data.call_id === state.call.id) {
    state.call.status = "bridged"; state.call.since = data.at; state.call.held = false; showCall();
    refreshPop();  // what the IVR logged while the caller waited shows now
  }
  if ((frame.name === "call.held" || frame.name === "call.resumed") && state.call && data.call_id === state.call.id) {
    state.call.held = frame.name === "call.held"; showCall();
  }
  if (frame.name === "call.ended" && state.call && data.call_id === state.call.id) {
    state.call.status = "ended"; state.call.since = null; state.call.held = false; closeTransfer(); showCall();
  }
  if (frame.name === "agent.state_changed" && !older(data)) {
    const ringing = state.call && state.call.status === "offered" && !state.call.consultFrom;
    if (ringing && data.previous === "offered" && data.state !== "on_call") forgetUnlessOffered(state.call.id);
    showState({ state: data.state, since: data.at, reason: data.reason, changes: data.changes });
  }
}

// The ring ended without the call (it rang out, or the offer was taken back), and the
// caller is someone else's now, or gone. Two decisions of the ACD may publish out of
// order, so the end of an earlier offer can come after the next offer's: the agent's own
// record says which call, if any, still rings for them.
async function forgetUnlessOffered(callId) {
  let mine;
  try { mine = await api("GET", "/api/console/me"); } catch (error) { return; }
  const shown = state.call && state.call.id === callId && state.call.status === "offered";
  if (!shown || older(mine)) return;
  if (mine.call_id !== callId) forgetCall();
  else if (mine.state === "offered" && state.mine.state !== "offered") showState(mine);  // the late event's state was not theirs
}

// Agent state

// Moves made by different processes (the agent's own requests, the ACD, the worker's
// sweeps) reach the page out of order, as events and as replies: each carries its number
// in the count of the service's presence changes, and only the newest is shown (an offer
// stored before offers had a number has 0, and shows).
function older(mine) {
  return Boolean(state.mine) && mine.changes > 0 && mine.changes < state.mine.changes;
}

function showState(mine) {
  if (older(mine)) return;
  state.mine = mine;
  const node = $("agent-state");
  node.textContent = t(`state_${mine.state}`);
  node.dataset.state = mine.state;
  $("state-timer").dataset.since = mine.since;
  $("state-reason").textContent = mine.reason ? (TEXT[state.lang][`reason_${mine.reason}`] || mine.reason) : "";
  const allowed = state.moves[mine.state] || [];
  for (const button of document.querySelectorAll("#state-panel button[data-target]")) {
    const target = button.dataset.target;
    button.disabled = !(allowed.includes(target) || (target === "available" && mine.state === "logged_out"));
  }
  $("queue-choice").disabled = mine.state !== "logged_out";
  const idle = { logged_out: "idle_logged_out", available: "idle_available", break: "idle_break", wrap_up: "idle_wrap_up" }[mine.state];
  $("idle").textContent = idle ? t(idle) : "";
  $("idle").dataset.state = mine.state;
  if (state.call) showCall(); else controls();
  tick();
}

async function decline() {
  $("call-error").textContent = "";
  const declined = state.call && state.call.id;
  try {
    const agent = await api("POST", "/api/agents/me/decline");
    if (older(agent)) return;  // an offer made since (another call, or this one again) shows
    // On its way to another agent, or back with the colleague who asked.
    if (state.call && state.call.id === declined && agent.call_id !== declined) forgetCall();
    showState(agent);
  } catch (error) { $("call-error").textContent = error.message; }
}

// The queues an agent may log in to, named; ticked as last time (or as now, when in).
async function loadQueues(current) {
  try { state.queues = await api("GET", "/api/queues"); } catch (error) { return; }
  const remembered = JSON.parse(localStorage.getItem("queues") || "null");
  const ticked = new Set(current || remembered || [...document.querySelectorAll("#queue-choice input:checked")].map((b) => b.value));
  const fieldset = $("queue-choice");
  const legend = fieldset.querySelector("legend");
  fieldset.replaceChildren(legend, ...state.queues.map((q) => {
    const label = el("label");
    const box = el("input");
    box.type = "checkbox"; box.name = "queue"; box.value = q.queue; box.checked = ticked.has(q.queue);
    const name = el("span", queueName(q.queue, queueTitles()), "queue-name");
    name.dataset.queue = q.queue;
    label.append(box, " ", name);
    return label;
  }));
}

// Which call controls the call's state allows: the rest are disabled, never hidden, so
// the buttons do not move under the agent's hand.
function controls() {
  const call = state.call;
  const agentState = state.mine ? state.mine.state : "logged_out";
  const ringing = !!call && call.status === "offered" && agentState === "offered";
  const talking = !!call && call.status === "bridged";
  $("accept").disabled = !ringing || call.accepted;
  $("decline").disabled = !ringing;
  const consulting = talking && !!call.consult;
  $("hold").disabled = !talking || call.held || consulting;
  $("resume").disabled = !talking || !call.held || consulting;
  $("transfer").disabled = !talking || consulting;
  $("consult").disabled = !talking || consulting;
  $("complete-transfer").disabled = !consulting || call.consult.state !== "talking";
  $("cancel-consult").disabled = !consulting;
  $("hang-up").disabled = !talking || consulting;
  $("accepted-note").hidden = !(ringing && call.accepted);
  const note = $("consult-note");
  note.hidden = !(consulting || (call && call.consultFrom && call.status === "offered"));
  if (consulting) note.textContent = t(`consult_${call.consult.state}`, call.consult.name);
  else if (!note.hidden) note.textContent = t("consult_asked");
  if (!talking) closeTransfer();
}

async function completeTransfer() {
  const call = state.call;
  await callAction(async () => { await api("POST", `/api/calls/${call.id}/consult/complete`); return true; });
}

async function cancelConsult() {
  const call = state.call;
  await callAction(async () => { await api("POST", `/api/calls/${call.id}/consult/cancel`); return true; });
}

// An attended transfer's steps reach both agents in it: the one who asks (from) and the
// colleague asked (agent, or consultant once they talk).
function consultEvent(frame) {
  if (!frame.name.startsWith("call.consult_") || !state.me) return false;
  const data = frame.data, me = state.me.id;
  const mine = state.call && state.call.id === data.call_id ? state.call : null;
  if (frame.name === "call.consult_offered" && data.agent_id === me) {
    if (older(data)) return true;  // the consultation ended before this reached the page
    beginCall({ call_id: data.call_id, queue: data.queue, at: data.at }, "offered");
    state.call.consultFrom = data.from_agent_id;
    showPop(frame.pop);
  } else if (!mine) {
    return true;
  } else if (frame.name === "call.consult_offered" && data.from_agent_id === me && mine.consult) {
    mine.consult.state = "ringing";
  } else if (frame.name === "call.consult_answered") {
    if (data.agent_id === me && mine.consult) mine.consult.state = "talking";
    if (data.consultant_id === me) { mine.status = "consulting"; mine.since = data.at; }
  } else if (frame.name === "call.consult_completed") {
    if (data.agent_id === me) { mine.status = "bridged"; mine.consultFrom = null; mine.since = data.at; }
    if (data.from_agent_id === me) { mine.status = "ended"; mine.transferred = true; mine.consult = null; mine.since = null; }
  } else if (frame.name === "call.consult_ended") {
    if (data.agent_id === me) mine.consult = null;
    if (data.consultant_id === me) { forgetCall(); return true; }
  }
  showCall();
  return true;
}

// The call is not this agent's any more (declined, or a consultation over): off the screen.
function forgetCall() {
  state.call = null;
  state.pop = null;
  $("pop").hidden = true;
  showCall();
}

async function callAction(action) {
  $("call-error").textContent = "";
  try { return await action(); } catch (error) { $("call-error").textContent = error.message; return null; }
}

async function acceptCall() {
  const taken = await callAction(() => api("POST", "/api/agents/me/accept"));
  if (taken && state.call && taken.call_id === state.call.id) { state.call.accepted = true; controls(); }
}

async function holdCall(held) {
  const call = state.call;
  const done = await callAction(async () => { await api("POST", `/api/calls/${call.id}/${held ? "hold" : "resume"}`); return true; });
  if (done && state.call === call) { call.held = held; showCall(); }
}

async function hangUp() {
  await callAction(async () => { await api("POST", `/api/calls/${state.call.id}/hangup`); return true; });
}

// Blind transfer goes to an agent or a queue; a consultation to an agent only.
async function openTransfer(consult = false) {
  const targets = await callAction(() => api("GET", "/api/transfer-targets"));
  if (!targets) return;
  state.targets = [
    ...targets.agents.map((a) => ({ body: { agent_id: a.agent_id }, name: a.name, text: `${t("to_agent")} ${a.name}`, kind: "agent", consult })),
    ...(consult ? [] : targets.queues.map((q) => ({ body: { queue: q.queue }, text: `${t("to_queue")} ${queueName(q.queue, queueTitles())} · ${t("waiting_n", q.waiting)}`, kind: "queue", consult }))),
  ].slice(0, 9);
  $("transfer-panel").querySelector("h3").textContent = t(consult ? "consult_to" : "transfer_to");
  const list = $("transfer-targets");
  list.replaceChildren(...state.targets.map((target, index) => {
    const item = el("li");
    const button = el("button", null, `target ${target.kind}`);
    button.type = "button";
    button.append(el("kbd", String(index + 1)), ` ${target.text}`);
    button.addEventListener("click", () => transferTo(index));
    item.append(button);
    return item;
  }));
  if (!state.targets.length) list.append(el("li", t("no_targets"), "muted"));
  $("transfer-panel").hidden = false;
  if (document.activeElement) document.activeElement.blur();  // digits pick, not type
}

function closeTransfer() {
  $("transfer-panel").hidden = true;
  state.targets = [];
}

async function transferTo(index) {
  const target = state.targets[index];
  const call = state.call;
  if (!target || !call) return;
  closeTransfer();
  if (target.consult) {
    const asked = await callAction(async () => { await api("POST", `/api/calls/${call.id}/consult`, target.body); return true; });
    if (asked && state.call === call) { call.consult = { agentId: target.body.agent_id, name: target.name, state: "ringing" }; showCall(); }
    return;
  }
  await callAction(async () => { await api("POST", `/api/calls/${call.id}/transfer`, target.body); return true; });
}

// Alt+letter works the call from anywhere on the page (the letter is on each button);
// while the transfer list is open, a digit picks a target and Esc closes it.
function shortcut(event) {
  if (!$("transfer-panel").hidden && !event.altKey && !event.ctrlKey && !event.metaKey) {
    if (event.key === "Escape") { closeTransfer(); event.preventDefault(); return; }
    const digit = /^Digit([1-9])$/.exec(event.code);
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement && document.activeElement.tagName);
    if (digit && !typing) { transferTo(Number(digit[1]) - 1); event.preventDefault(); }
    return;
  }
  if (!event.altKey || event.ctrlKey || event.metaKey || $("agent").hidden) return;
  const letter = /^Key([A-Z])$/.exec(event.code);
  const button = letter && document.querySelector(`#call-controls button[data-key="${letter[1]}"]`);
  if (!button) return;
  event.preventDefault();
  if (!button.disabled && !$("call-panel").hidden) button.click();
}

async function setState(target) {
  $("state-error").textContent = "";
  try {
    let agent;
    if (target === "available" && $("agent-state").dataset.state === "logged_out") {
      const queues = [...document.querySelectorAll("#queue-choice input:checked")].map((box) => box.value);
      if (!queues.length) { $("state-error").textContent = t("queues"); return; }
      localStorage.setItem("queues", JSON.stringify(queues));
      agent = await api("PUT", "/api/agents/me/login", { queues });
    } else {
      const reason = target === "break" ? $("break-reason").value : "";
      agent = await api("PUT", "/api/agents/me/state", { state: target, reason });
    }
    showState(agent);
  } catch (error) { $("state-error").textContent = error.message; }
}

// The call and its notes

function beginCall(data, status) {
  const sameCall = state.call && state.call.id === data.call_id;
  state.call = { id: data.call_id, queue: data.queue, status, since: data.at, number: "", held: false, accepted: false };
  if (!sameCall) {
    closeTransfer();
    $("call-error").textContent = "";
    $("disposition").value = "";
    $("call-notes").value = "";
    $("note-result").textContent = "";
    delete $("note-result").dataset.saved;
    $("order-result").textContent = "";
    delete $("order-result").dataset.order;
  }
  showCall();
}

function showCall() {
  const call = state.call;
  $("call-panel").hidden = !call;
  $("idle").hidden = !!call;
  if (!call) return;
  $("call-number").textContent = phoneText(call.number || (state.pop && state.pop.phone) || "");
  $("call-queue").textContent = call.queue ? queueName(call.queue, queueTitles()) : "";
  const held = call.status === "bridged" && call.held;
  const status = call.transferred ? "transferred" : call.status;
  $("call-status").textContent = held ? t("call_held") : t(`call_${status}`);
  $("call-status").dataset.status = call.status;
  $("call-status").dataset.held = held ? "yes" : "no";
  const heading = held ? "held" : ["bridged", "consulting"].includes(call.status) ? "bridged" : call.status === "ended" ? "ended" : "offered";
  $("pop-heading").dataset.heading = heading;
  $("pop-heading").textContent = t(`heading_${heading}`);
  controls();
  const timer = $("call-timer");
  if (call.since && call.status !== "ended") timer.dataset.since = call.since;
  else delete timer.dataset.since;
  tick();
}

async function saveNote() {
  if (!state.call) return;
  try {
    await api("PUT", `/api/console/calls/${state.call.id}/note`, {
      disposition: $("disposition").value || null, notes: $("call-notes").value,
    });
    $("note-result").textContent = t("saved");
    $("note-result").dataset.saved = "yes";
  } catch (error) { $("note-result").textContent = error.message; delete $("note-result").dataset.saved; }
}

// The screen pop

function showPop(pop) {
  state.pop = pop || { phone: "", customers: [], call_id: state.call && state.call.id };
  if (state.call) state.call.number = state.pop.phone;
  const form = $("new-customer");
  form.reset();
  form.elements.phone.value = state.pop.phone;
  $("new-customer-error").textContent = "";
  renderPop();
  showCall();
}

// The pop again, as the server has it now: an order the IVR logged, a status a station
// changed during the call. What the agent was typing stays.
async function refreshPop() {
  const call = state.call;
  if (!call) return;
  try {
    const pop = await api("GET", `/api/console/calls/${call.id}/pop`);
    if (state.call === call) { state.pop = pop; renderPop(); }
  } catch (error) { /* the call is gone: the pop stays as it was */ }
}

function typed() {
  const kept = {};
  for (const card of document.querySelectorAll("#pop-customers .customer")) {
    const chosen = card.querySelector("input[type=radio]:checked");
    kept[card.dataset.customerId] = {
      fault: card.querySelector("input.fault") ? card.querySelector("input.fault").value : "",
      urgent: !!(card.querySelector("input.urgent") && card.querySelector("input.urgent").checked),
      appliance: chosen ? chosen.value : null,
      key: card.dataset.requestKey,
    };
  }
  return kept;
}

function retype(kept) {
  for (const card of document.querySelectorAll("#pop-customers .customer")) {
    const was = kept[card.dataset.customerId];
    if (!was) continue;
    const fault = card.querySelector("input.fault");
    if (fault) fault.value = was.fault;
    const urgent = card.querySelector("input.urgent");
    if (urgent) urgent.checked = was.urgent;
    const radio = was.appliance && card.querySelector(`input[type=radio][value="${was.appliance}"]`);
    if (radio) radio.checked = true;
    if (was.key) card.dataset.requestKey = was.key;
    ready(card);
  }
}

function renderPop() {
  const pop = state.pop;
  const kept = typed();
  $("pop").hidden = false;
  $("pop-number").textContent = phoneText(pop.phone);
  const shared = $("pop-shared");
  shared.hidden = pop.customers.length < 2;
  shared.textContent = pop.customers.length > 1 ? t("shared_number", pop.customers.length) : "";
  $("new-customer").hidden = pop.customers.length > 0;
  const container = $("pop-customers");
  container.replaceChildren(...pop.customers.map(customerCard));
  retype(kept);
  tick();
}

function list(title, items, className) {
  const box = el("div", null, className);
  box.append(el("h4", title));
  const ul = el("ul");
  if (items.length === 0) ul.append(el("li", t("none"), "muted"));
  for (const item of items) ul.append(item);
  box.append(ul);
  return box;
}

function statusText(status) { return t(`status_${status}`); }

function orderLine(order, withSla) {
  const line = el("li", null, "order");
  line.dataset.order = order.number;
  const parts = [order.number, statusText(order.status)];
  if (order.urgency === "urgent") parts.push(t("urgent"));
  if (order.fault_description) parts.push(order.fault_description);
  line.append(el("span", `${parts.join(" · ")} `));
  // Back within 90 days of a repair: free if the fault is the same (the agent asks).
  if (order.repair_warranty_of) line.append(el("span", t("repair_warranty"), "pill alert repair-warranty"));
  if (withSla && order.sla) line.append(slaBadge(order.sla));
  return line;
}

function slaBadge(sla) {
  const badge = el("span", null, `sla ${sla.state}`);
  badge.dataset.due = sla.due_at;
  if (sla.warn_at) badge.dataset.warnAt = sla.warn_at;  // the server's warning moment
  if (sla.milestone) badge.title = t(`milestone_${sla.milestone}`);
  badge.dataset.sla = sla.state;
  return badge;
}

function applianceLine(customer, appliance) {
  const line = el("li", null, "appliance");
  const radio = el("input");
  radio.type = "radio"; radio.name = `appliance-${customer.id}`; radio.value = appliance.id;
  const label = el("label");
  label.append(radio, el("span", ` ${appliance.brand} ${t(`cat_${appliance.category}`)} ${appliance.model} `));
  const warranty = appliance.warranty;
  const badge = el("span", t(warranty.status), `badge ${warranty.status}`);
  badge.dataset.warranty = warranty.status;
  label.append(badge);
  if (warranty.days_left !== null) {
    const left = el("span", warranty.days_left === 0 ? t("last_day") : t("days_left", warranty.days_left), "days-left");
    left.dataset.daysLeft = warranty.days_left;
    label.append(left);
  }
  line.append(label);
  if (appliance.fees && appliance.fees.length) line.append(feeCard(appliance.fees));
  return line;
}

function earlierCall(recordings) {
  const line = el("li", null, "earlier-call");
  const first = recordings[recordings.length - 1];
  line.dataset.call = first.call_id;
  const when = new Date(first.at).toLocaleString(state.lang);
  line.append(el("span", `${when} · ${span(first.duration_seconds)} `));
  for (const call of [...recordings].reverse()) {
    const play = el("button", `${t("play")} ${t(`recording_${call.kind || "call"}`)}`, "play");
    play.type = "button";
    play.dataset.kind = call.kind || "call";
    play.addEventListener("click", () => playRecording(call.recording_id, line));
    line.append(play, " ");
  }
  for (const call of recordings) {
    if (call.transcript) line.append(el("div", call.transcript, "transcript"));
  }
  if (!recordings.some((call) => call.transcript)) line.append(el("div", t("no_transcript"), "transcript muted"));
  return line;
}

// The whole file is fetched once (with the token a plain <audio src> cannot send); a
// transcript's hit plays from the second it was said.
async function playRecording(recordingId, line, from = 0) {
  const response = await fetch(`/api/recordings/${recordingId}/audio`, { headers: { "Authorization": `Bearer ${state.token}` } });
  if (!response.ok) return;
  const audio = line.querySelector("audio") || el("audio");
  audio.controls = true;
  audio.src = URL.createObjectURL(await response.blob());
  audio.dataset.from = from;
  audio.addEventListener("loadedmetadata", () => { audio.currentTime = from; }, { once: true });
  line.append(audio);
  audio.play().catch(() => {});
}

function customerCard(customer) {
  const card = el("article", null, "customer");
  card.dataset.customerId = customer.id;
  const head = el("div", null, "customer-head");
  head.append(el("h3", `${customer.name} ${customer.title || ""}`.trim(), "customer-name"));
  const score = customer.last_satisfaction_score;
  const satisfaction = el("span", `${t("satisfaction")}: ${score === null || score === undefined ? t("no_score") : score}`, "pill satisfaction");
  const complaints = el("span", `${t("complaints")}: ${customer.open_complaints}`, customer.open_complaints > 0 ? "pill alert complaints" : "pill complaints");
  complaints.dataset.count = customer.open_complaints;
  const file = el("button", t("customer_file"), "open-file");
  file.type = "button";
  file.addEventListener("click", () => openCustomerFile(customer.id));
  head.append(satisfaction, complaints, file);
  card.append(head);
  if (customer.notes) card.append(el("p", customer.notes, "customer-notes"));

  const grid = el("div", null, "card-grid");
  const appliances = customer.appliances.map((a) => applianceLine(customer, a));
  // Only a customer's one appliance is chosen for the agent: of several, the agent picks.
  if (appliances.length === 1) appliances[0].querySelector("input").checked = true;
  for (const line of appliances) line.querySelector("input").addEventListener("change", () => ready(card));
  const left = el("div");
  left.append(list(t("appliances"), appliances, "appliances"));
  left.append(orderBar(customer, card));
  left.append(list(t("open_orders"), customer.open_orders.map((o) => orderLine(o, true)), "open-orders"));
  const right = el("div");
  right.append(list(t("phones"), customer.phones.map(phoneLine), "phones"));
  right.append(list(t("addresses"), customer.addresses.map((a) => el("li", `${a.province}${a.city}${a.district}${a.street}`)), "addresses"));
  grid.append(left, right);
  card.append(grid);
  const lower = el("div", null, "card-grid");
  lower.append(list(t("recent_orders"), customer.recent_orders.map((o) => orderLine(o, false)), "recent recent-orders"));
  lower.append(list(t("earlier_calls"), earlierCalls(customer.earlier_calls), "recent earlier-calls"));
  card.append(lower);
  ready(card);
  return card;
}

function phoneLine(phone) {
  const line = el("li", phoneText(phone.e164));
  line.dataset.e164 = phone.e164;
  if (phone.label) {
    const key = `phone_${phone.label}`;
    line.append(el("span", ` (${t(key) === key ? phone.label : t(key)})`, "muted"));
  }
  return line;
}

// Create is for a chosen appliance only; the hint says what is missing.
function ready(card) {
  const create = card.querySelector("button.create-order");
  if (!create) return;
  const chosen = !!card.querySelector("input[type=radio]:checked");
  create.disabled = !chosen || card.dataset.sending === "yes";
  const hint = card.querySelector(".choose-hint");
  if (hint) hint.hidden = chosen;
}

// One line per call: its recordings (the call, a fault told to the IVR) side by side.
function earlierCalls(recordings) {
  const calls = [];
  const byCall = new Map();
  for (const recording of recordings) {
    let group = byCall.get(recording.call_id);
    if (!group) { group = []; byCall.set(recording.call_id, group); calls.push(group); }
    group.push(recording);
  }
  return calls.map(earlierCall);
}

function orderBar(customer, card) {
  const bar = el("div", null, "order-bar");
  if (customer.appliances.length === 0) { bar.append(el("span", t("no_appliance"), "muted")); return bar; }
  const fault = el("input", null, "fault");
  fault.placeholder = t("fault");
  fault.maxLength = 5000;
  const urgentBox = el("input");
  urgentBox.type = "checkbox"; urgentBox.className = "urgent";
  const urgent = el("label");
  urgent.append(urgentBox, el("span", t("urgent")));
  const create = el("button", t("create_order"), "create-order");
  create.type = "button";
  create.addEventListener("click", () => createOrder(customer, card, fault, urgentBox, create));
  bar.append(fault, urgent, create, el("span", t("choose_appliance"), "choose-hint muted"));
  return bar;
}

// The key names this one order until it is made: a second click, or the same click sent
// again after a network error, gets the same order back.
async function createOrder(customer, card, fault, urgent, button) {
  const chosen = card.querySelector(`input[name="appliance-${customer.id}"]:checked`);
  if (!chosen || card.dataset.sending === "yes") return;
  if (!card.dataset.requestKey) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));  // also where the page is not https
    card.dataset.requestKey = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  card.dataset.sending = "yes";
  ready(card);
  try {
    const response = await fetch(`/api/console/calls/${state.pop.call_id || state.call.id}/orders`, {
      method: "POST",
      headers: { "Authorization": `Bearer ${state.token}`, "Content-Type": "application/json", "Idempotency-Key": card.dataset.requestKey },
      body: JSON.stringify({
        customer_id: customer.id, appliance_id: Number(chosen.value),
        fault_description: fault.value, urgency: urgent.checked ? "urgent" : "normal",
      }),
    });
    if (response.status === 401) { expire(); return; }
    const order = await response.json();
    if (!response.ok) throw new Error(order && order.message ? order.message : response.statusText);
    $("order-result").textContent = `${t("order_created")}: ${order.number}`;
    $("order-result").dataset.order = order.number;
    if (!$("disposition").value) $("disposition").value = "order_created";
    fault.value = "";
    urgent.checked = false;
    delete card.dataset.requestKey;
    delete card.dataset.sending;
    await refreshPop();
  } catch (error) {
    $("order-result").textContent = error.message;
    delete $("order-result").dataset.order;
  } finally {
    delete card.dataset.sending;
    ready(card);
  }
}

async function createCustomer(event) {
  event.preventDefault();
  const form = event.target;
  const value = (name) => form.elements[name].value.trim();
  const body = { name: value("name"), title: value("title") };
  if (value("province") && value("city") && value("street")) {
    body.address = { province: value("province"), city: value("city"), district: value("district"), street: value("street"), is_primary: true };
  }
  if (value("category") && value("brand")) {
    body.appliance = { category: value("category"), brand: value("brand"), model: value("model"), purchase_date: value("purchase_date") || null, has_invoice: !!value("purchase_date") };
  }
  try {
    const card = await api("POST", `/api/console/calls/${state.pop.call_id || state.call.id}/customers`, body);
    state.pop = { ...state.pop, customers: [card] };
    renderPop();
    $("order-result").textContent = `${t("customer_created")}: ${card.name}`;
  } catch (error) { $("new-customer-error").textContent = error.message; }
}

function row(cells) {
  const tr = el("tr");
  cells.forEach((value, index) => tr.append(el("td", value, index > 0 && typeof value === "number" ? "num" : undefined)));
  return tr;
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "zh-CN" ? "en" : "zh-CN";
    localStorage.setItem("lang", state.lang);
    translate();
    if (state.token) api("PUT", "/api/me/language", { language: state.lang }).catch(() => {});
  });
  for (const button of document.querySelectorAll("#state-panel button[data-target]")) {
    button.addEventListener("click", () => setState(button.dataset.target));
  }
  $("decline").addEventListener("click", decline);
  $("accept").addEventListener("click", acceptCall);
  $("hold").addEventListener("click", () => holdCall(true));
  $("resume").addEventListener("click", () => holdCall(false));
  $("transfer").addEventListener("click", () => openTransfer(false));
  $("consult").addEventListener("click", () => openTransfer(true));
  $("complete-transfer").addEventListener("click", completeTransfer);
  $("cancel-consult").addEventListener("click", cancelConsult);
  $("hang-up").addEventListener("click", hangUp);
  document.addEventListener("keydown", shortcut);
  $("save-note").addEventListener("click", saveNote);
  $("new-customer").addEventListener("submit", createCustomer);
  setInterval(tick, 1000);
  if (state.token) start().catch(() => expire());
});
