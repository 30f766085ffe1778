"use strict";
// The agent's outbound work in the console: today's callback tasks in the agent's
// calendar, a due alert when one's time comes, a click that calls the customer (and pops
// the customer's record), the outcome of the call, and the agent's week. The supervisor's
// outbound desk: each campaign's progress, live; agents' calendars; the do-not-call list.
// Loaded after console.js.

Object.assign(TEXT["zh-CN"], {
  campaigns: "回访活动", campaign: "活动", eligible: "应回访", sampled: "抽中", reached: "联系上",
  mean_score: "平均分", satisfied_share: "满意率", dnc_list: "免打扰号码", dnc_add: "加入", dnc_remove: "移除",
  tasks_today: "今日回访任务", no_tasks: "今天没有回访任务。", task_due: "回访到时：{n}",
  call_customer: "拨打", calling: "正在拨打 {n}", dial_on_phone: "请用话机拨打 {n}",
  record_outcome: "记录结果", give_score: "评分", outcome_no_answer: "无人接听", outcome_busy: "忙线",
  outcome_refused: "拒绝回访", outcome_wrong_number: "号码错误", outcome_voicemail: "语音信箱",
  outcome_score_given: "已评分", purpose_satisfaction: "满意度回访", purpose_booked_callback: "预约回电",
  purpose_promised_callback: "承诺回电", purpose_station_follow_up: "网点回访", purpose_notice_repaired: "修复通知",
  purpose_notice_parts_arrived: "到件通知", purpose_appointment_reminder: "预约提醒",
  task_scheduled: "待拨打", task_in_progress: "通话中", task_done: "已完成", task_failed: "未联系上",
  task_unplaced: "待安排", task_pending: "待安排", task_cancelled: "已取消",
  my_week: "我的一周", week_tasks: "{n} 个任务", progress: "进度", scheduled: "已排期", attempted: "已拨打",
  score_distribution: "评分分布", score_n: "{n} 分", agent_calendars: "坐席排班", choose_agent: "选择坐席",
  no_calendar: "未排班", weekly_shifts: "每周班次（如 09:00-12:00, 13:00-18:00）",
  listed_days: "请假与加班", day_off: "新增请假或加班", day_kind: "类型", day_hours: "加班时段", day_note: "备注",
  save_calendar: "保存排班", tasks_moved: "已保存：移出任务 {n} 个", tasks_unplaced: "，未能重新安排 {n} 个",
  remove_day: "删除", kind_shift: "上班", kind_extra_shift: "加班", kind_make_up_day: "调休上班",
  kind_holiday: "法定节假日", kind_leave: "请假", kind_sick: "病假", kind_rest_day: "休息",
});
Object.assign(TEXT.en, {
  campaigns: "Callback campaigns", campaign: "Campaign", eligible: "Eligible", sampled: "Sampled", reached: "Reached",
  mean_score: "Mean score", satisfied_share: "Satisfied", dnc_list: "Do-not-call numbers", dnc_add: "Add", dnc_remove: "Remove",
  tasks_today: "Today's callbacks", no_tasks: "No callbacks today.", task_due: "Callback due: {n}",
  call_customer: "Call", calling: "Calling {n}", dial_on_phone: "Dial {n} on your phone",
  record_outcome: "Outcome", give_score: "Score", outcome_no_answer: "No answer", outcome_busy: "Busy",
  outcome_refused: "Refused", outcome_wrong_number: "Wrong number", outcome_voicemail: "Voicemail",
  outcome_score_given: "Scored", purpose_satisfaction: "Satisfaction callback", purpose_booked_callback: "Booked callback",
  purpose_promised_callback: "Promised callback", purpose_station_follow_up: "Station follow-up",
  purpose_notice_repaired: "Repair done notice", purpose_notice_parts_arrived: "Parts arrived notice",
  purpose_appointment_reminder: "Appointment reminder",
  task_scheduled: "to call", task_in_progress: "calling", task_done: "done", task_failed: "not reached",
  task_unplaced: "to place", task_pending: "to place", task_cancelled: "cancelled",
  my_week: "My week", week_tasks: "{n} tasks", progress: "Progress", scheduled: "Scheduled", attempted: "Attempted",
  score_distribution: "Scores", score_n: "{n}", agent_calendars: "Agents' calendars", choose_agent: "Choose an agent",
  no_calendar: "no calendar", weekly_shifts: "Weekly shifts (e.g. 09:00-12:00, 13:00-18:00)",
  listed_days: "Days off and extra shifts", day_off: "Add a day off or an extra shift", day_kind: "Kind", day_hours: "Extra shift hours", day_note: "Note",
  save_calendar: "Save calendar", tasks_moved: "Saved: {n} tasks moved", tasks_unplaced: ", {n} could not be placed again",
  remove_day: "Remove", kind_shift: "Shift", kind_extra_shift: "Extra shift", kind_make_up_day: "Make-up working day",
  kind_holiday: "Public holiday", kind_leave: "Leave", kind_sick: "Sick leave", kind_rest_day: "Rest day",
});

const outbound = {
  tasks: [], loads: 0, timer: null, week: null, weekLoads: 0,
  campaigns: [], reports: new Map(), chosen: null, stale: new Set(), pushed: null,
  agent: null, calendar: null, days: [], agentWeek: null, started: false,
};
const STAGES = ["eligible", "sampled", "scheduled", "attempted", "reached"];
// A burst of outcomes (a dialer ending many calls) costs each desk one report read a second.
const PUSH_REFRESH_MS = 1000;

function clock(iso) {
  return new Date(iso).toLocaleTimeString(state.lang, { hour: "2-digit", minute: "2-digit", hour12: false });
}

async function loadTasks() {
  const load = ++outbound.loads;
  try {
    const tasks = await api("GET", "/api/tasks?assignee=me");
    if (load !== outbound.loads) return;
    outbound.tasks = tasks;
    renderTasks();
  } catch (error) { $("tasks-error").textContent = error.message; }
}

function renderTasks() {
  const box = $("tasks");
  $("no-tasks").hidden = outbound.tasks.length > 0;
  box.replaceChildren(...outbound.tasks.map(taskItem));
  markDue();
}

function taskItem(task) {
  const item = el("li", null, "task");
  item.dataset.task = task.id;
  item.dataset.status = task.status;
  item.dataset.taskDue = task.due_at || "";
  const head = el("p", null, "task-head");
  head.append(
    el("strong", task.due_at ? clock(task.due_at) : "–", "task-time"),
    " ", el("span", task.customer_name || task.phone, "task-name"),
    " ", el("span", t(`purpose_${task.purpose}`), "muted"),
    " ", el("span", t(`task_${task.status}`), "task-status"),
  );
  item.append(head);
  if (["scheduled", "unplaced", "pending"].includes(task.status)) {
    const call = el("button", t("call_customer"), "task-call");
    call.type = "button";
    call.addEventListener("click", () => callTask(task, item));
    item.append(call);
  }
  if (task.status === "in_progress") item.append(outcomeForm(task));
  return item;
}

function outcomeForm(task) {
  const form = el("div", null, "task-outcome");
  const score = el("select");
  score.setAttribute("aria-label", t("give_score"));
  for (const value of ["5", "4", "3", "2", "1"]) score.append(new Option(value, value));
  const scored = el("button", t("give_score"), "task-score");
  scored.type = "button";
  scored.addEventListener("click", () => outcome(task, { outcome: "score_given", score: Number(score.value) }));
  form.append(score, scored);
  for (const name of ["no_answer", "busy", "refused", "wrong_number"]) {
    const button = el("button", t(`outcome_${name}`));
    button.type = "button";
    button.dataset.outcome = name;
    button.addEventListener("click", () => outcome(task, { outcome: name }));
    form.append(button);
  }
  return form;
}

async function callTask(task, item) {
  $("tasks-error").textContent = "";
  try {
    const placed = await api("POST", `/api/tasks/${task.id}/call`);
    const pop = await api("GET", `/api/console/calls/${placed.call_id}/pop`);
    showPop(pop);
    const line = el("p", null, "task-dialling");
    if (placed.dialled_by === "softphone") {
      const link = el("a", t("dial_on_phone", placed.phone));
      link.href = `tel:${placed.phone}`;
      line.append(link);
    } else line.append(t("calling", placed.phone));
    await loadTasks();
    const again = document.querySelector(`#tasks li[data-task="${task.id}"]`);
    if (again) again.append(line);
  } catch (error) { $("tasks-error").textContent = error.message; item.dataset.refused = "yes"; }
}

async function outcome(task, body) {
  $("tasks-error").textContent = "";
  try {
    await api("POST", `/api/tasks/${task.id}/outcome`, body);
    await loadTasks();
  } catch (error) { $("tasks-error").textContent = error.message; }
}

// A task whose time has come is marked due, and the first one is announced.
function markDue() {
  const now = serverNow();
  let first = null;
  for (const item of document.querySelectorAll("#tasks li.task")) {
    const due = item.dataset.taskDue && Date.parse(item.dataset.taskDue) <= now && item.dataset.status === "scheduled";
    item.classList.toggle("due", !!due);
    if (due && !first) first = item;
  }
  const alert = $("task-alert");
  alert.hidden = !first;
  alert.textContent = first
    ? t("task_due", `${first.querySelector(".task-time").textContent} ${first.querySelector(".task-name").textContent}`)
    : "";
}

// The week: each day's hours and why (shift, extra shift, make-up working day, public
// holiday, day off), as the server resolves it, with the day's tasks. The agent's own in
// the side column; any agent's on the supervisor's desk.
async function loadWeek() {
  const load = ++outbound.weekLoads;
  try {
    const week = await api("GET", `/api/agents/${state.me.id}/week`);
    if (load !== outbound.weekLoads) return;
    outbound.week = week;
    $("week-error").textContent = "";
    renderWeek($("week"), week);
  } catch (error) { $("week-error").textContent = error.message; }
}

function dayLabel(day) {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString(state.lang, { timeZone: "UTC", weekday: "short", month: "numeric", day: "numeric" });
}

function spansText(hours) { return hours.map(([start, end]) => `${start}–${end}`).join(" "); }

function renderWeek(box, week) {
  const at = (iso) => new Date(iso).toLocaleTimeString(state.lang, { timeZone: week.time_zone, hour: "2-digit", minute: "2-digit", hour12: false });
  box.replaceChildren(...week.days.map((day) => {
    const item = el("li", null, `week-day ${day.kind}`);
    item.dataset.day = day.day;
    item.dataset.kind = day.kind;
    item.dataset.tasks = day.tasks.length;
    const head = el("p", null, "week-head");
    head.append(el("strong", dayLabel(day.day), "week-date"));
    if (day.kind !== "shift") head.append(" ", el("span", t(`kind_${day.kind}`), "week-kind"));
    if (day.hours.length) head.append(" ", el("span", spansText(day.hours), "week-hours"));
    if (day.note) head.append(" ", el("span", day.note, "muted week-note"));
    if (day.tasks.length) head.append(" ", el("span", t("week_tasks", day.tasks.length), "pill week-count"));
    item.append(head);
    if (day.tasks.length) {
      const tasks = el("ul", null, "week-tasks");
      tasks.append(...day.tasks.map((task) => {
        const line = el("li", `${at(task.due_at)} ${task.customer_name || task.phone}`);
        line.dataset.task = task.id;
        return line;
      }));
      item.append(tasks);
    }
    return item;
  }));
}

// The supervisor's outbound desk: each campaign's progress (the chosen one's funnel and
// scores as bars, redrawn when an outcome is pushed), agents' calendars, and the
// do-not-call list.
async function loadOutboundDesk() {
  await Promise.all([loadCampaigns(), loadNumbers()]);
}

async function loadCampaigns() {
  try {
    const campaigns = await api("GET", "/api/campaigns");
    const reports = await Promise.all(campaigns.map((c) => api("GET", `/api/campaigns/${c.id}/report`)));
    outbound.campaigns = campaigns;
    outbound.reports = new Map(campaigns.map((c, index) => [c.id, reports[index]]));
    if (!outbound.reports.has(outbound.chosen)) outbound.chosen = campaigns.length ? campaigns[0].id : null;
    renderCampaigns();
  } catch (error) { showOutboundError(error); }
}

// A report's overall figures by column name.
function figures(report) {
  const [section] = report.sections;
  return Object.fromEntries(section.columns.map((name, index) => [name, section.rows[0][index]]));
}

function renderCampaigns() {
  $("campaign-table").tBodies[0].replaceChildren(...outbound.campaigns.map((campaign) => {
    const f = figures(outbound.reports.get(campaign.id));
    const share = f["satisfied share"];
    const tr = row(["", f.eligible, f.sampled, f.reached, f["mean score"] ?? "–", share == null ? "–" : `${Math.round(share * 100)}%`]);
    const pick = el("button", campaign.name, "campaign-pick");
    pick.type = "button";
    pick.addEventListener("click", () => { outbound.chosen = campaign.id; renderCampaigns(); });
    tr.cells[0].append(pick);
    tr.dataset.campaign = campaign.id;
    tr.classList.toggle("chosen", campaign.id === outbound.chosen);
    return tr;
  }));
  renderCharts();
}

function renderCharts() {
  const report = outbound.reports.get(outbound.chosen);
  $("campaign-charts").hidden = !report;
  if (!report) return;
  const chosen = outbound.campaigns.find((c) => c.id === outbound.chosen);
  $("chart-campaign").textContent = chosen.name;
  $("campaign-charts").dataset.campaign = chosen.id;
  const f = figures(report);
  $("funnel").replaceChildren(...STAGES.map((stage) => meter(t(stage), f[stage], f.eligible, stage)));
  const scores = report.sections.find((section) => section.title === "scores").rows;
  const top = Math.max(...scores.map(([, count]) => count));
  $("score-bars").replaceChildren(...scores.map(([score, count]) => meter(t("score_n", score), count, top, `score-${score}`)));
}

// One bar: its label, its length against the largest, and its count.
function meter(label, count, top, name) {
  const item = el("li", null, `meter ${name}`);
  item.dataset.name = name;
  item.dataset.count = count;
  const track = el("span", null, "meter-track");
  const fill = el("span", null, "meter-fill");
  fill.style.width = `${top ? (count / top) * 100 : 0}%`;
  track.append(fill);
  item.append(el("span", label, "meter-label"), track, el("strong", count, "meter-count"));
  return item;
}

// An outcome recorded anywhere: the campaigns it moved are read again, once per burst.
function progressed(campaignId) {
  outbound.stale.add(campaignId);
  if (!outbound.pushed) outbound.pushed = setTimeout(refreshProgressed, PUSH_REFRESH_MS);
}

async function refreshProgressed() {
  const ids = [...outbound.stale];
  outbound.stale.clear();
  try {
    if (ids.some((id) => !outbound.reports.has(id))) await loadCampaigns();  // a new campaign
    else {
      const reports = await Promise.all(ids.map((id) => api("GET", `/api/campaigns/${id}/report`)));
      ids.forEach((id, index) => outbound.reports.set(id, reports[index]));
      renderCampaigns();
    }
  } catch (error) { showOutboundError(error); }
  outbound.pushed = null;
  if (outbound.stale.size) outbound.pushed = setTimeout(refreshProgressed, PUSH_REFRESH_MS);
}

// console.js hands every frame of the socket to handle(); the desk hears campaign progress
// there too (a supervisor's console receives every event, an agent's none of these).
// Called by console.js for each event frame; true when the outbound desk took it.
function outboundEvent(frame) {
  if (frame.name !== "campaign.progressed") return false;
  progressed(frame.data.campaign_id);
  return true;
}

async function loadNumbers() {
  try {
    const numbers = await api("GET", "/api/dnc?limit=50");
    $("dnc-list").replaceChildren(...numbers.map((entry) => {
      const item = el("li", `${entry.e164} ${entry.reason}`);
      item.dataset.dnc = entry.id;
      const remove = el("button", t("dnc_remove"));
      remove.type = "button";
      remove.addEventListener("click", () => api("DELETE", `/api/dnc/${entry.id}`).then(loadNumbers, showOutboundError));
      item.append(" ", remove);
      return item;
    }));
  } catch (error) { showOutboundError(error); }
}

function showOutboundError(error) { $("outbound-error").textContent = error.message; }

async function addNumber(event) {
  event.preventDefault();
  const form = new FormData($("dnc-form"));
  $("outbound-error").textContent = "";
  try {
    await api("POST", "/api/dnc", { phone: form.get("phone"), reason: form.get("reason") });
    $("dnc-form").reset();
    await loadNumbers();
  } catch (error) { showOutboundError(error); }
}

// An agent's calendar on the desk: the week as the server resolves it, and a form for the
// weekly shifts and the days off and extra shifts. The API checks what is typed; until it
// accepts it, nothing typed is cleared.
async function loadCallers() {
  try {
    const callers = await api("GET", "/api/calendars");
    const select = $("calendar-agent");
    select.replaceChildren(new Option(t("choose_agent"), ""), ...callers.map((caller) => {
      const option = new Option(caller.has_calendar ? caller.name : `${caller.name} (${t("no_calendar")})`, caller.user_id);
      option.dataset.name = caller.name;
      return option;
    }));
    if (outbound.agent) select.value = outbound.agent;
  } catch (error) { $("calendar-error").textContent = error.message; }
}

async function chooseAgent() {
  outbound.agent = Number($("calendar-agent").value) || null;
  $("calendar-desk").hidden = !outbound.agent;
  $("calendar-result").textContent = "";
  $("calendar-error").textContent = "";
  if (!outbound.agent) return;
  try {
    const [calendar, week] = await Promise.all([
      api("GET", `/api/agents/${outbound.agent}/calendar`),
      api("GET", `/api/agents/${outbound.agent}/week`),
    ]);
    showCalendar(calendar);
    outbound.agentWeek = week;
    renderWeek($("agent-week"), week);
  } catch (error) { $("calendar-error").textContent = error.message; }
}

function weekdayName(weekday) {
  // 2024-01-01 was a Monday: ISO weekday n falls on January n.
  return new Date(Date.UTC(2024, 0, weekday)).toLocaleDateString(state.lang, { timeZone: "UTC", weekday: "short" });
}

function showCalendar(calendar) {
  outbound.calendar = calendar;
  outbound.days = calendar.days.map((day) => ({ ...day }));
  for (const input of document.querySelectorAll("#calendar-form input[data-weekday]")) {
    input.value = (calendar.weekly_hours[input.dataset.weekday] || []).map((span) => span.join("-")).join(", ");
  }
  const form = $("calendar-form").elements;
  form.day.value = ""; form.day_hours.value = ""; form.day_note.value = "";
  renderCalendarLabels();
}

function renderCalendarLabels() {
  for (const label of document.querySelectorAll("#calendar-form .weekday-name")) label.textContent = weekdayName(Number(label.dataset.weekday));
  $("calendar-form").elements.day_note.placeholder = t("day_note");
  $("calendar-days").replaceChildren(...outbound.days.map((day, index) => {
    const item = el("li", `${day.day} ${t(`kind_${day.kind === "shift" ? "extra_shift" : day.kind}`)} ${spansText(day.hours)} ${day.note}`);
    item.dataset.day = day.day;
    const remove = el("button", t("remove_day"));
    remove.type = "button";
    remove.addEventListener("click", () => { outbound.days.splice(index, 1); renderCalendarLabels(); });
    item.append(" ", remove);
    return item;
  }));
}

// "09:00-12:00, 13:00-18:00" as the API's spans; whether they are times is the API's to say.
function spansOf(text) {
  return text.split(/[,，;；]/).map((part) => part.trim()).filter(Boolean)
    .map((part) => part.split(/[-–~]/).map((time) => time.trim()));
}

async function saveCalendar(event) {
  event.preventDefault();
  const calendar = outbound.calendar;
  const form = $("calendar-form").elements;
  const weekly = {};
  for (const input of document.querySelectorAll("#calendar-form input[data-weekday]")) {
    const spans = spansOf(input.value);
    if (spans.length) weekly[input.dataset.weekday] = spans;
  }
  const days = [...outbound.days];
  if (form.day.value) {
    const kind = form.day_kind.value;
    days.push({ day: form.day.value, kind, hours: kind === "shift" ? spansOf(form.day_hours.value) : [], note: form.day_note.value });
  }
  const body = { time_zone: calendar.time_zone, weekly_hours: weekly, capacity_per_hour: calendar.capacity_per_hour, skills: calendar.skills, days };
  // Someone without a calendar yet has no languages: the API's default then applies.
  if (calendar.languages.length) body.languages = calendar.languages;
  $("calendar-result").textContent = "";
  $("calendar-error").textContent = "";
  try {
    const saved = await api("PUT", `/api/agents/${calendar.user_id}/calendar`, body);
    showCalendar(saved);
    const result = $("calendar-result");
    result.dataset.moved = saved.tasks_moved;
    result.dataset.unplaced = saved.tasks_unplaced;
    result.textContent = `${t("tasks_moved", saved.tasks_moved)}${t("tasks_unplaced", saved.tasks_unplaced)}`;
    outbound.agentWeek = await api("GET", `/api/agents/${calendar.user_id}/week`);
    renderWeek($("agent-week"), outbound.agentWeek);
    await loadCallers();
  } catch (error) { $("calendar-error").textContent = error.message; }
}

// What is drawn here follows the language when it is switched.
function translateOutbound() {
  if (outbound.week) renderWeek($("week"), outbound.week);
  if (!$("tasks-panel").hidden) renderTasks();
  if (outbound.campaigns.length) renderCampaigns();
  if (outbound.agentWeek) renderWeek($("agent-week"), outbound.agentWeek);
  if (outbound.calendar) renderCalendarLabels();
}

function startOutbound() {
  if (!outbound.started) {
    outbound.started = true;
    $("lang").addEventListener("click", translateOutbound);
  }
  if (state.me && !$("wall").hidden) {
    $("dnc-form").onsubmit = addNumber;
    $("calendar-agent").onchange = chooseAgent;
    $("calendar-form").onsubmit = saveCalendar;
    loadOutboundDesk();
    loadCallers();
    setInterval(loadOutboundDesk, 30000);
    return;
  }
  if (!state.me || state.me.role !== "agent") return;
  $("tasks-panel").hidden = false;
  loadTasks();
  loadWeek();
  clearInterval(outbound.timer);
  outbound.timer = setInterval(() => { markDue(); }, 1000);
  setInterval(() => { loadTasks(); loadWeek(); }, 60000);
}
