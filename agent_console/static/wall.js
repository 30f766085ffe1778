"use strict";
// The supervisor's wall: queues, agents, live calls, SLA clocks, complaints and the day's
// calls, redrawn from each frame the server pushes; the desks are the second tab. Loaded
// after console.js and built on its helpers ($, t, el, span, longSpan, tick, serverNow,
// state, TEXT, CHOSEN, statusText, slaBadge, queueName, api). Every time shown is the
// hotline's (the frame's zone), whatever zone the browser runs in, as the hours of the
// charts are the server's.

Object.assign(TEXT["zh-CN"], {
  wall_live: "实时监控", wall_desks: "工作台",
  waiting: "排队", longest_wait: "最长等待", answered: "接通", abandoned: "放弃", service_level: "服务水平",
  complaints_by_level: "未结投诉（按危机等级）",
  crisis_none: "非危机", crisis_ordinary: "普通危机", crisis_potential: "潜在危机", crisis_severe: "严重危机",
  agents: "坐席", state: "状态", time_in_state: "持续", reason: "原因", change_state: "调整状态", apply: "设置",
  sla: "工单时效", sla_warning: "预警", sla_breached: "超时", sla_today: "今日达成率", sla_met: "按时", sla_missed: "超时",
  wall_due: "到期", live_calls: "进行中的通话", calls_per_hour: "今日每小时来电", calls: "来电", of_which_abandoned: "其中放弃",
  wall_more: "还有 {n} 条未列出", wall_warn: "预警", wall_alarm: "告警",
});
Object.assign(TEXT.en, {
  wall_live: "Live wall", wall_desks: "Desks",
  waiting: "Waiting", longest_wait: "Longest wait", answered: "Answered", abandoned: "Abandoned", service_level: "Service level",
  complaints_by_level: "Open complaints by crisis level",
  crisis_none: "No crisis", crisis_ordinary: "Ordinary crisis", crisis_potential: "Potential crisis", crisis_severe: "Severe crisis",
  agents: "Agents", state: "State", time_in_state: "Time", reason: "Reason", change_state: "Change state", apply: "Set",
  sla: "Order SLA", sla_warning: "Warning", sla_breached: "Breached", sla_today: "Met today", sla_met: "in time", sla_missed: "missed",
  wall_due: "due", live_calls: "Live calls", calls_per_hour: "Calls per hour today", calls: "Calls", of_which_abandoned: "of which abandoned",
  wall_more: "{n} more", wall_warn: "warning", wall_alarm: "alarm",
});

// A time in the hotline's zone, in the console's language.
function wallTime(moment, options) {
  const format = new Intl.DateTimeFormat(state.lang, { timeZone: state.wall.timezone, hourCycle: "h23", ...options });
  return format.format(new Date(moment));
}

// The hour of a moment in the hotline's zone, as a number (read in a locale that writes
// the hour as bare digits).
function wallHour(moment) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: state.wall.timezone, hour: "2-digit", hourCycle: "h23" })
    .formatToParts(new Date(moment));
  return Number(parts.find((part) => part.type === "hour").value);
}

// The queue's own title as the wall frame has it, else console.js's name for it (the name
// the console knows its id by, else the id).
function wallQueueName(queue, titles) {
  if (!queue) return "";
  return titles[queue] || queueName(queue);
}

function wallCell(text, className) { return el("td", text, className); }

function wallAlert(node, level) {
  node.classList.toggle("alert-warning", level === "warning");
  node.classList.toggle("alert-alarm", level === "alarm");
  node.dataset.alert = level;
  return node;
}

function wallPercent(share) { return `${Math.round(share * 100)}%`; }

function renderWall(wall) {
  const titles = Object.fromEntries(wall.queues.map((q) => [q.queue, q.title]));
  $("queue-table").querySelector("tbody").replaceChildren(...wall.queues.map((q) => wallQueueRow(q, wall.thresholds, titles)));
  const names = Object.fromEntries(wall.agents.map((a) => [a.agent_id, a.name]));
  $("agent-table").querySelector("tbody").replaceChildren(...wall.agents.map(agentRow));
  $("call-table").querySelector("tbody").replaceChildren(...wall.calls.map((c) => wallCallRow(c, names, titles)));
  wallMore($("calls-more"), wall.calls_total - wall.calls.length);
  $("sla-warning").textContent = wall.sla.warning;
  $("sla-breached").textContent = wall.sla.breached;
  $("sla-orders").replaceChildren(...wall.sla.orders.map(wallSlaLine));
  wallMore($("sla-more"), wall.sla_total - wall.sla.orders.length);
  $("complaint-levels").replaceChildren(...wall.complaints.map((level) => {
    const item = el("li", t(`crisis_${level.name}`), `level-${level.level}`);
    item.dataset.level = level.level;
    item.prepend(el("strong", level.open));
    return item;
  }));
  const hour = wallHour(wall.at);
  renderChart(wall.calls_per_hour, hour);
  renderAttainment(wall.sla.by_hour, hour);
  showWallClock();
  wallMarkAgents();
  tick();
}

function wallQueueRow(q, limits, titles) {
  const tr = el("tr");
  tr.dataset.queue = q.queue;
  const name = wallCell(wallQueueName(q.queue, titles), "queue-name");
  name.title = q.queue;
  const wait = wallAlert(wallCell(span(q.longest_wait_seconds), "num longest-wait"), q.longest_wait_alert);
  wait.title = `${t("wall_warn")} > ${limits.longest_wait_warn_seconds}s · ${t("wall_alarm")} > ${limits.longest_wait_alarm_seconds}s`;
  const level = wallCell(q.service_level === null ? "–" : wallPercent(q.service_level), "num service-level");
  wallAlert(level, q.service_level_alert);
  level.title = `${t("wall_warn")} < ${wallPercent(limits.service_level_warn)} · ${t("wall_alarm")} < ${wallPercent(limits.service_level_alarm)}`;
  tr.append(name, wallCell(q.waiting, "num"), wait, wallCell(q.answered, "num"), wallCell(q.abandoned, "num"), level);
  return tr;
}

function wallCallRow(call, names, titles) {
  const tr = el("tr");
  tr.dataset.call = call.call_id;
  const agent = call.agent_id ? names[call.agent_id] || call.agent_id : "";
  const duration = wallCell("", "num");
  duration.dataset.since = call.started_at;
  tr.append(wallCell(call.from_number), wallCell(call.customer_name || "", "caller"), wallCell(t(`call_${call.state}`)),
    wallCell(wallQueueName(call.queue, titles)), wallCell(agent, "call-agent"), duration);
  if (call.agent_id) tr.dataset.agent = call.agent_id;
  return tr;
}

function agentRow(agent) {
  const tr = el("tr");
  tr.dataset.agent = agent.agent_id;
  tr.append(el("td", agent.name, "agent-name"));
  const stateCell = el("td", t(`state_${agent.state}`), "agent-state");
  stateCell.dataset.state = agent.state;
  tr.append(stateCell);
  const since = el("td", "", "num time-in-state");
  since.dataset.since = agent.since;
  // Too long in this state from these moments on: markAgents moves the colour each second.
  if (agent.warn_at) {
    since.dataset.warnFrom = agent.warn_at;
    since.dataset.alarmFrom = agent.alarm_at;
    const after = (moment) => longSpan((Date.parse(moment) - Date.parse(agent.since)) / 1000);
    since.title = `${t("wall_warn")} ${after(agent.warn_at)} · ${t("wall_alarm")} ${after(agent.alarm_at)}`;
  }
  tr.append(since, el("td", agent.reason ? (TEXT[state.lang][`reason_${agent.reason}`] || agent.reason) : ""));
  const control = el("td");
  const select = el("select", null, "set-state");
  for (const target of CHOSEN) {
    const option = el("option", t(`state_${target}`));
    option.value = target;
    select.append(option);
  }
  const apply = el("button", t("apply"), "apply-state");
  apply.type = "button";
  apply.addEventListener("click", async () => {
    try {
      await api("PUT", `/api/agents/${agent.agent_id}/state`, { state: select.value, reason: select.value === "break" ? "supervisor" : "" });
    } catch (error) { apply.title = error.message; apply.dataset.error = error.message; }
  });
  control.append(select, apply);
  tr.append(control);
  return tr;
}

function wallMarkAgents() {
  const now = serverNow();
  for (const node of document.querySelectorAll("#agent-table [data-warn-from]")) {
    const level = now >= Date.parse(node.dataset.alarmFrom) ? "alarm" : now >= Date.parse(node.dataset.warnFrom) ? "warning" : "ok";
    wallAlert(node, level);
  }
}

function wallSlaLine(order) {
  const line = el("li", `${order.number} · ${statusText(order.status)}${order.urgency === "urgent" ? ` · ${t("urgent")}` : ""} `);
  line.dataset.order = order.number;
  const badge = slaBadge(order.sla);
  const due = `${t("wall_due")} ${wallTime(order.sla.due_at, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" })}`;
  badge.title = badge.title ? `${badge.title} · ${due}` : due;
  line.append(badge);
  return line;
}

// Where a list is cut, how many it leaves out.
function wallMore(node, count) {
  node.hidden = count <= 0;
  node.textContent = count > 0 ? t("wall_more", count) : "";
  node.dataset.more = Math.max(0, count);
}

function showWallClock() {
  if (!state.wall) return;
  const options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  $("wall-clock").textContent = wallTime(serverNow(), options);
  $("wall-clock").dataset.hour = wallHour(serverNow());
}

// The bar's height is the hour's calls; its top part the abandoned ones among them.
function renderChart(hours, now) {
  const chart = $("hour-chart");
  const top = Math.max(1, ...hours.map((h) => h.calls));
  chart.replaceChildren(...hours.map((h) => {
    const bar = el("div", null, h.hour === now ? "bar now" : "bar");
    bar.dataset.hour = h.hour;
    bar.dataset.calls = h.calls;
    bar.dataset.abandoned = h.abandoned;
    bar.title = `${h.hour}:00–${h.hour + 1}:00 · ${t("calls")} ${h.calls} · ${t("of_which_abandoned")} ${h.abandoned}`;
    const kept = el("div", null, "not-abandoned");
    kept.style.height = `${((h.calls - h.abandoned) / top) * 100}%`;
    const abandoned = el("div", null, "abandoned");
    abandoned.style.height = `${(h.abandoned / top) * 100}%`;
    bar.append(kept, abandoned, el("span", h.calls || "", "count"), el("span", h.hour % 3 === 0 ? h.hour : "", "hour"));
    return bar;
  }));
  chart.setAttribute("aria-label", hours.map((h) => `${h.hour}:00 ${h.calls}`).join(", "));
}

// Milestones decided in each hour of the day: met in time (bottom) and missed (top).
function renderAttainment(hours, now) {
  const chart = $("sla-chart");
  const top = Math.max(1, ...hours.map((h) => h.met + h.missed));
  const met = hours.reduce((sum, h) => sum + h.met, 0);
  const decided = met + hours.reduce((sum, h) => sum + h.missed, 0);
  $("sla-attainment").textContent = decided ? wallPercent(met / decided) : "–";
  chart.replaceChildren(...hours.map((h) => {
    const bar = el("div", null, h.hour === now ? "bar now" : "bar");
    bar.dataset.hour = h.hour;
    bar.dataset.met = h.met;
    bar.dataset.missed = h.missed;
    bar.title = `${h.hour}:00–${h.hour + 1}:00 · ${t("sla_met")} ${h.met} · ${t("sla_missed")} ${h.missed}`;
    const inTime = el("div", null, "met");
    inTime.style.height = `${(h.met / top) * 100}%`;
    const late = el("div", null, "missed");
    late.style.height = `${(h.missed / top) * 100}%`;
    const total = h.met + h.missed;
    bar.append(inTime, late, el("span", total || "", "count"), el("span", h.hour % 3 === 0 ? h.hour : "", "hour"));
    return bar;
  }));
  chart.setAttribute("aria-label", hours.map((h) => `${h.hour}:00 ${h.met}/${h.met + h.missed}`).join(", "));
}

// The live wall at a glance, the desks one click away.
function showWallView(view) {
  $("wall").dataset.view = view;
  for (const tab of document.querySelectorAll("#wall-tabs [data-view]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
}

for (const tab of document.querySelectorAll("#wall-tabs [data-view]")) {
  tab.addEventListener("click", () => showWallView(tab.dataset.view));
}
setInterval(() => { showWallClock(); wallMarkAgents(); }, 1000);
