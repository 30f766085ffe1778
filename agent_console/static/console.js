"use strict";
// The hotline console: plain DOM, every customer field set with textContent (never HTML).

const TEXT = {
  "zh-CN": {
    title: "售后热线坐席台", logout: "退出", username: "用户名", password: "密码", sign_in: "登录",
    queues: "队列", available: "就绪", reason: "原因", break: "小休", logged_out: "签出",
    incoming: "来电", unknown_caller: "未知来电，请新建客户。", queue: "队列", waiting: "排队",
    longest_wait: "最长等待(秒)", answered: "接通", abandoned: "放弃", service_level: "服务水平",
    agents: "坐席", state: "状态", since: "开始", appliances: "电器", open_orders: "未完工单",
    recent_orders: "最近工单", complaints: "未结投诉", create_order: "一键建单",
    order_created: "已创建工单", fault: "故障描述", in_warranty: "保内", extended: "延保",
    out_of_warranty: "保外", phones: "电话", addresses: "地址", login_failed: "登录失败",
  },
  en: {
    title: "Hotline console", logout: "Log out", username: "Username", password: "Password",
    sign_in: "Sign in", queues: "Queues", available: "Available", reason: "Reason",
    break: "Break", logged_out: "Log off", incoming: "Incoming call",
    unknown_caller: "Unknown caller: create a customer.", queue: "Queue", waiting: "Waiting",
    longest_wait: "Longest wait (s)", answered: "Answered", abandoned: "Abandoned",
    service_level: "Service level", agents: "Agents", state: "State", since: "Since",
    appliances: "Appliances", open_orders: "Open orders", recent_orders: "Recent orders",
    complaints: "Open complaints", create_order: "Create order", order_created: "Order created",
    fault: "Fault", in_warranty: "In warranty", extended: "Extended", out_of_warranty: "Out of warranty",
    phones: "Phones", addresses: "Addresses", login_failed: "Login failed",
  },
};

const state = { token: sessionStorage.getItem("token"), me: null, lang: localStorage.getItem("lang") || "zh-CN", lastEventId: null, socket: null, call: null };
const $ = (id) => document.getElementById(id);
const t = (key) => (TEXT[state.lang] || TEXT["zh-CN"])[key] || key;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function translate() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = state.lang === "zh-CN" ? "English" : "中文";
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: { "Authorization": `Bearer ${state.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) { logout(); throw new Error("session expired"); }
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
  await start();
}

function logout() {
  sessionStorage.removeItem("token");
  state.token = null;
  if (state.socket) state.socket.close();
  location.reload();
}

async function start() {
  state.me = await api("GET", "/api/me");
  $("who").textContent = `${state.me.full_name || state.me.username} (${state.me.role})`;
  $("login").hidden = true;
  $("logout").hidden = false;
  const supervisor = state.me.role === "supervisor" || state.me.role === "admin";
  $("wall").hidden = !supervisor;
  $("agent").hidden = supervisor;
  if (supervisor) await refreshWall();
  connect();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/console`);
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: state.token, last_event_id: state.lastEventId }));
  socket.onmessage = (message) => handle(JSON.parse(message.data));
  socket.onclose = (event) => {
    if (event.code === 4401) { logout(); return; }
    if (state.token) setTimeout(connect, 1000);  // resumes from lastEventId
  };
}

function handle(frame) {
  if (frame.last_event_id) state.lastEventId = frame.last_event_id;
  if (frame.type === "ready") { document.body.dataset.console = "ready"; return; }
  if (frame.type !== "event") return;
  state.lastEventId = frame.id;
  if (frame.name === "call.offered" && frame.data.agent_id === state.me.id) showPop(frame);
  if (frame.name === "agent.state_changed" && frame.data.agent_id === state.me.id) showState(frame.data);
  if (!$("wall").hidden) refreshWall();
}

function showState(agent) {
  $("agent-state").textContent = agent.state;
  $("agent-state").dataset.state = agent.state;
  $("state-since").textContent = new Date(agent.at || agent.since).toLocaleTimeString();
}

async function setState(target) {
  let agent;
  if (target === "available" && $("agent-state").dataset.state === "logged_out") {
    const queues = $("queues").value.split(",").map((q) => q.trim()).filter(Boolean);
    agent = await api("PUT", "/api/agents/me/login", { queues });
  } else {
    const reason = target === "break" ? $("break-reason").value : "";
    agent = await api("PUT", "/api/agents/me/state", { state: target, reason });
  }
  showState(agent);
}

function section(title, items) {
  const box = el("div");
  box.append(el("h4", title));
  const list = el("ul");
  for (const item of items) list.append(item);
  box.append(list);
  return box;
}

function orderLine(order) {
  return el("li", `${order.number} · ${order.status} · ${order.fault_description}`);
}

function showPop(frame) {
  state.call = frame.data;
  const pop = frame.pop || { phone: "", customers: [] };
  $("pop").hidden = false;
  $("pop-number").textContent = pop.phone;
  $("order-result").textContent = "";
  const container = $("pop-customers");
  container.replaceChildren();
  $("pop-unknown").hidden = pop.customers.length > 0;
  for (const customer of pop.customers) container.append(customerCard(customer));
}

function customerCard(customer) {
  const card = el("div", null, "customer");
  card.dataset.customerId = customer.id;
  card.append(el("h3", `${customer.name} ${customer.title || ""}`.trim(), "customer-name"));
  card.append(section(t("phones"), customer.phones.map((p) => el("li", p.e164))));
  card.append(section(t("addresses"), customer.addresses.map((a) => el("li", `${a.province}${a.city}${a.district}${a.street}`))));
  const appliances = customer.appliances.map((a) => {
    const line = el("li");
    const radio = el("input");
    radio.type = "radio"; radio.name = `appliance-${customer.id}`; radio.value = a.id;
    line.append(radio, el("span", ` ${a.brand} ${a.category} ${a.model} `), el("span", t(a.warranty_status), `badge ${a.warranty_status}`));
    return line;
  });
  if (appliances.length) appliances[0].querySelector("input").checked = true;
  card.append(section(t("appliances"), appliances));
  card.append(section(t("open_orders"), customer.open_orders.map(orderLine)));
  card.append(section(t("recent_orders"), customer.recent_orders.map(orderLine)));
  card.append(el("p", `${t("complaints")}: ${customer.open_complaints}`));
  const fault = el("input", null, "fault");
  fault.placeholder = t("fault");
  const create = el("button", t("create_order"), "create-order");
  create.type = "button";
  create.addEventListener("click", () => createOrder(customer, card, fault.value));
  card.append(fault, create);
  return card;
}

async function createOrder(customer, card, fault) {
  const chosen = card.querySelector(`input[name="appliance-${customer.id}"]:checked`);
  try {
    const order = await api("POST", "/api/orders", {
      customer_id: customer.id, appliance_id: Number(chosen.value), channel: "phone",
      fault_description: fault,
    });
    $("order-result").textContent = `${t("order_created")}: ${order.number}`;
  } catch (error) {
    $("order-result").textContent = error.message;
  }
}

let wallVersion = 0;

async function refreshWall() {
  // Events can trigger refreshes faster than they complete: only the newest may paint.
  const version = ++wallVersion;
  const [queues, agents] = await Promise.all([api("GET", "/api/queues"), api("GET", "/api/agents")]);
  if (version !== wallVersion) return;
  const qbody = $("queue-table").querySelector("tbody");
  qbody.replaceChildren(...queues.map((q) => row([q.queue, q.waiting, Math.round(q.longest_wait_seconds), q.answered, q.abandoned,
    q.service_level === null ? "–" : `${Math.round(q.service_level * 100)}%`], q.queue)));
  const abody = $("agent-table").querySelector("tbody");
  abody.replaceChildren(...agents.map((a) => row([a.agent_id, a.state, a.reason, new Date(a.since).toLocaleTimeString()])));
}

function row(cells, key) {
  const tr = el("tr");
  if (key) tr.dataset.queue = key;
  cells.forEach((value, index) => tr.append(el("td", value, index > 0 && typeof value === "number" ? "num" : undefined)));
  return tr;
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("lang").addEventListener("click", () => { state.lang = state.lang === "zh-CN" ? "en" : "zh-CN"; localStorage.setItem("lang", state.lang); translate(); });
  $("go-available").addEventListener("click", () => setState("available"));
  $("go-break").addEventListener("click", () => setState("break"));
  $("go-logout").addEventListener("click", () => setState("logged_out"));
  if (state.token) start().catch(() => logout());
});
