"use strict";
// The agent's outbound work in the console: today's callback tasks in the agent's
// calendar, a due alert when one's time comes, a click that calls the customer (and pops
// the customer's record), and the outcome of the call. Loaded after console.js.

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
});

const outbound = { tasks: [], loads: 0, timer: null };

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

// The supervisor's outbound desk: each campaign's progress, and the do-not-call list.
async function loadOutboundDesk() {
  try {
    const campaigns = await api("GET", "/api/campaigns");
    const reports = await Promise.all(campaigns.map((c) => api("GET", `/api/campaigns/${c.id}/report`)));
    $("campaign-table").tBodies[0].replaceChildren(...reports.map((report, index) => {
      const [, eligible, sampled, , , reached, , mean, share] = report.sections[0].rows[0];
      const tr = row([campaigns[index].name, eligible, sampled, reached, mean ?? "–", share == null ? "–" : `${Math.round(share * 100)}%`]);
      tr.dataset.campaign = campaigns[index].id;
      return tr;
    }));
    const numbers = await api("GET", "/api/dnc?limit=50");
    $("dnc-list").replaceChildren(...numbers.map((entry) => {
      const item = el("li", `${entry.e164} ${entry.reason}`);
      item.dataset.dnc = entry.id;
      const remove = el("button", t("dnc_remove"));
      remove.type = "button";
      remove.addEventListener("click", () => api("DELETE", `/api/dnc/${entry.id}`).then(loadOutboundDesk, showOutboundError));
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
    await loadOutboundDesk();
  } catch (error) { showOutboundError(error); }
}

function startOutbound() {
  if (state.me && !$("wall").hidden) {
    $("dnc-form").onsubmit = addNumber;
    loadOutboundDesk();
    setInterval(loadOutboundDesk, 30000);
    return;
  }
  if (!state.me || state.me.role !== "agent") return;
  $("tasks-panel").hidden = false;
  loadTasks();
  clearInterval(outbound.timer);
  outbound.timer = setInterval(() => { markDue(); }, 1000);
  setInterval(loadTasks, 60000);
}
