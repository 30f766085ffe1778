"use strict";
// The customer's file (客户服务档案): a search box in the header for hotline staff (phone in
// any form, name, order number, address), its results, and one page with everything the
// hotline knows of a customer, printable alone. Routed by the hash (#search/<q>,
// #customer/<id>) so reload and back work. Loaded after console.js and built on its
// helpers ($, t, el, api, state, statusText, playRecording); every name here starts with
// "file" so it meets no other script's globals.

Object.assign(TEXT["zh-CN"], {
  f_search_label: "查找客户", f_placeholder: "电话、姓名、工单号或地址", f_find: "查找",
  f_back: "返回坐席台", f_print: "打印档案", f_results: "查找结果", f_found: "找到 {n} 位客户",
  f_showing: "显示前 {n} 位", f_none_found: "没有找到客户。", f_loading: "正在载入……",
  f_title: "客户服务档案", f_customer_no: "客户编号 {n}", f_since: "建档 {n}", f_generated: "生成于 {n}",
  f_zone: "时间均为热线当地时间（{n}）", f_notes: "备注", f_last_score: "最近满意度",
  f_grade_individual: "个人客户", f_grade_dealer: "经销商", f_grade_mall: "大卖场", f_grade_group: "集团客户",
  f_appliances: "电器", f_contacts: "联系记录", f_calls: "通话", f_topics: "来电事由",
  f_orders: "工单", f_records: "装机与保养", f_installations: "装机单", f_maintenance: "保养记录",
  f_plans: "保养计划", f_complaints: "投诉", f_callbacks: "回访与外呼", f_satisfaction: "满意度",
  f_none: "无", f_total: "共 {n} 条", f_newest: "显示最新 {n} 条",
  f_inbound: "呼入", f_outbound: "外呼", f_agent: "坐席", f_order: "工单", f_recording: "录音",
  f_no_hearing: "仅主管或接听坐席可收听", f_transcript_pending: "转写中", f_transcript_failed: "转写失败",
  f_play: "播放", f_play_from: "从此处播放",
  f_speaker_customer: "客户", f_speaker_agent: "坐席", f_speaker_caller: "来电人",
  f_disp_completed: "正常结束", f_disp_abandoned: "放弃", f_disp_busy: "占线", f_disp_no_answer: "无人接听",
  f_disp_failed: "失败", f_disp_canceled: "已取消",
  f_type_repair: "维修", f_type_installation: "安装", f_type_maintenance: "保养", f_urgent: "加急",
  f_history: "处理过程", f_visits: "预约上门", f_station: "网点", f_engineer: "工程师",
  f_visit_scheduled: "已预约", f_visit_kept: "已上门", f_visit_rescheduled: "已改约", f_visit_missed: "失约",
  f_complaint_open: "待处理", f_complaint_in_progress: "处理中", f_complaint_resolved: "已解决",
  f_complaint_closed: "已关闭", f_crisis_0: "无危机", f_crisis_1: "普通危机", f_crisis_2: "潜在危机",
  f_crisis_3: "严重危机", f_owner: "负责人", f_due: "时限", f_by_rule: "系统规则",
  f_purpose_satisfaction: "满意度回访", f_purpose_station_follow_up: "网点回访",
  f_purpose_notice_repaired: "修复通知", f_purpose_notice_parts_arrived: "配件到货通知",
  f_purpose_notice_repair_extended: "延长修理期通知", f_purpose_notice_waiting_parts: "待料通知",
  f_purpose_notice_ordered_part_arrived: "预订件到货通知", f_purpose_appointment_reminder: "预约提醒",
  f_purpose_booked_callback: "预约回电", f_purpose_promised_callback: "承诺回电",
  f_task_pending: "待安排", f_task_scheduled: "已排期", f_task_unplaced: "未能排期", f_task_in_progress: "进行中",
  f_task_done: "已完成", f_task_failed: "未联系上", f_task_cancelled: "已取消",
  f_outcome_score_given: "已评分", f_outcome_no_answer: "无人接听", f_outcome_busy: "占线",
  f_outcome_voicemail: "语音信箱", f_outcome_wrong_number: "号码错误", f_outcome_refused: "拒绝回访",
  f_outcome_opted_out: "不再回访", f_outcome_reached: "已联系", f_outcome_window_closed: "回访时限已过",
  f_outcome_do_not_call: "免打扰号码", f_outcome_completed_again: "再次完工，另行回访",
  f_outcome_visit_changed: "上门时间已改", f_no_outcome: "尚无结果",
  f_score: "评分 {n}", f_attempts: "尝试", f_surveyed: "回访于 {n}",
  f_unboxing_ok: "开箱验机合格", f_unboxing_bad: "开箱验机有问题", f_commissioned: "已调试",
  f_not_commissioned: "未调试", f_trained: "已培训", f_not_trained: "未培训", f_confirmed_by: "客户确认：{n}",
  f_recorded_by: "记录人：{n}", f_findings: "发现", f_every_months: "每 {n} 个月", f_next_due: "下次到期 {n}",
  f_inactive: "已停用", f_topic_repair_request: "报修", f_topic_complaint: "投诉", f_topic_praise: "赞誉",
  f_topic_inquiry: "咨询", f_purchased: "购于 {n}",
});
Object.assign(TEXT.en, {
  f_search_label: "Find a customer", f_placeholder: "Phone, name, order no. or address", f_find: "Find",
  f_back: "Back to console", f_print: "Print file", f_results: "Search results", f_found: "{n} customers found",
  f_showing: "showing the first {n}", f_none_found: "No customer found.", f_loading: "Loading…",
  f_title: "Customer service file", f_customer_no: "Customer no. {n}", f_since: "customer since {n}", f_generated: "Generated {n}",
  f_zone: "All times are the hotline's local time ({n})", f_notes: "Notes", f_last_score: "Last satisfaction score",
  f_grade_individual: "Individual", f_grade_dealer: "Dealer", f_grade_mall: "Mall", f_grade_group: "Group customer",
  f_appliances: "Appliances", f_contacts: "Contact history", f_calls: "Calls", f_topics: "Contact topics",
  f_orders: "Orders", f_records: "Installation and maintenance", f_installations: "Installation records",
  f_maintenance: "Maintenance records", f_plans: "Maintenance plans", f_complaints: "Complaints",
  f_callbacks: "Callbacks and outbound tasks", f_satisfaction: "Satisfaction scores",
  f_none: "none", f_total: "{n} in all", f_newest: "newest {n} shown",
  f_inbound: "inbound", f_outbound: "outbound", f_agent: "agent", f_order: "order", f_recording: "Recording",
  f_no_hearing: "only supervisors and the agent on the call may listen", f_transcript_pending: "transcript pending",
  f_transcript_failed: "transcription failed", f_play: "Play", f_play_from: "Play from here",
  f_speaker_customer: "Customer", f_speaker_agent: "Agent", f_speaker_caller: "Caller",
  f_disp_completed: "completed", f_disp_abandoned: "abandoned", f_disp_busy: "busy", f_disp_no_answer: "no answer",
  f_disp_failed: "failed", f_disp_canceled: "cancelled",
  f_type_repair: "repair", f_type_installation: "installation", f_type_maintenance: "maintenance", f_urgent: "urgent",
  f_history: "History", f_visits: "Visits", f_station: "station", f_engineer: "engineer",
  f_visit_scheduled: "scheduled", f_visit_kept: "kept", f_visit_rescheduled: "rescheduled", f_visit_missed: "missed",
  f_complaint_open: "open", f_complaint_in_progress: "in progress", f_complaint_resolved: "resolved",
  f_complaint_closed: "closed", f_crisis_0: "no crisis", f_crisis_1: "ordinary crisis", f_crisis_2: "potential crisis",
  f_crisis_3: "severe crisis", f_owner: "owner", f_due: "due", f_by_rule: "raised by rule",
  f_purpose_satisfaction: "Satisfaction callback", f_purpose_station_follow_up: "Station follow-up",
  f_purpose_notice_repaired: "Repaired notice", f_purpose_notice_parts_arrived: "Parts arrived notice",
  f_purpose_notice_repair_extended: "Repair extended notice", f_purpose_notice_waiting_parts: "Waiting for parts notice",
  f_purpose_notice_ordered_part_arrived: "Ordered part arrived notice", f_purpose_appointment_reminder: "Appointment reminder",
  f_purpose_booked_callback: "Booked callback", f_purpose_promised_callback: "Promised callback",
  f_task_pending: "pending", f_task_scheduled: "scheduled", f_task_unplaced: "not placed", f_task_in_progress: "in progress",
  f_task_done: "done", f_task_failed: "not reached", f_task_cancelled: "cancelled",
  f_outcome_score_given: "score given", f_outcome_no_answer: "no answer", f_outcome_busy: "busy",
  f_outcome_voicemail: "voicemail", f_outcome_wrong_number: "wrong number", f_outcome_refused: "refused",
  f_outcome_opted_out: "opted out", f_outcome_reached: "reached", f_outcome_window_closed: "window closed",
  f_outcome_do_not_call: "do-not-call number", f_outcome_completed_again: "completed again, followed up anew",
  f_outcome_visit_changed: "visit changed", f_no_outcome: "no outcome yet",
  f_score: "score {n}", f_attempts: "attempts", f_surveyed: "surveyed {n}",
  f_unboxing_ok: "unboxed and checked", f_unboxing_bad: "unboxing found problems", f_commissioned: "commissioned",
  f_not_commissioned: "not commissioned", f_trained: "customer trained", f_not_trained: "not trained",
  f_confirmed_by: "confirmed by {n}", f_recorded_by: "recorded by {n}", f_findings: "Findings",
  f_every_months: "every {n} months", f_next_due: "next due {n}", f_inactive: "inactive",
  f_topic_repair_request: "repair request", f_topic_complaint: "complaint", f_topic_praise: "praise",
  f_topic_inquiry: "inquiry", f_purchased: "bought {n}",
});

const fileView = { data: null, matches: null, load: 0 };
const FILE_STAFF = ["agent", "supervisor", "admin"];
const FILE_ROUTE = /^#customer\/(\d{1,18})$/;
const SEARCH_ROUTE = /^#search\/(.+)$/;

function fileStaff() { return !!state.me && FILE_STAFF.includes(state.me.role); }

// The pop's link (and anything else) opens a customer's file through the route.
function openCustomerFile(customerId) {
  const hash = `#customer/${customerId}`;
  if (location.hash === hash) fileRoute();
  else location.hash = hash;
}

function fileShow(on) {
  // The console's own views keep their hidden flags; the body's view hides them meanwhile.
  if (on) document.body.dataset.view = "file";
  else delete document.body.dataset.view;
  $("file").hidden = !on;
}

function fileRoute() {
  if (!fileStaff()) { fileShow(false); return; }
  const customer = FILE_ROUTE.exec(location.hash);
  const search = SEARCH_ROUTE.exec(location.hash);
  if (customer) loadCustomerFile(Number(customer[1]));
  else if (search) fileSearch(fileDecoded(search[1]));
  else fileShow(false);
}

// A hash typed by hand may be no valid escape: searched for as it stands.
function fileDecoded(text) {
  try { return decodeURIComponent(text); } catch (error) { return text; }
}

function fileBack() {
  history.pushState(null, "", location.pathname + location.search);
  fileShow(false);
}

function fileBegin(mode) {
  fileShow(true);
  $("file-error").textContent = "";
  $("file-status").textContent = t("f_loading");
  $("file-results").hidden = mode !== "results";
  $("file-body").hidden = mode !== "file";
  $("file-print").hidden = mode !== "file";
  return ++fileView.load;
}

async function fileSearch(q) {
  const load = fileBegin("results");
  $("customer-q").value = q;
  try {
    const found = await api("GET", `/api/customers/search?q=${encodeURIComponent(q)}`);
    if (load !== fileView.load) return;
    fileView.matches = found;
    renderFileResults();
  } catch (error) {
    if (load !== fileView.load) return;
    fileView.matches = null;
    $("file-result-list").replaceChildren();
    $("file-result-count").textContent = "";
    $("file-error").textContent = error.message;
  } finally { if (load === fileView.load) $("file-status").textContent = ""; }
}

function renderFileResults() {
  const found = fileView.matches;
  if (!found) return;
  let count = found.total ? t("f_found", found.total) : t("f_none_found");
  if (found.items.length < found.total) count += ` · ${t("f_showing", found.items.length)}`;
  $("file-result-count").textContent = count;
  $("file-result-list").replaceChildren(...found.items.map((customer) => {
    const item = el("li", null, "file-result");
    item.dataset.customerId = customer.id;
    const link = el("a", `${customer.name} ${customer.title || ""}`.trim(), "file-result-name");
    link.href = `#customer/${customer.id}`;
    const phones = customer.phones.map((p) => p.e164).join(", ");
    item.append(link, el("span", ` ${phones} `, "muted"), el("span", customer.addresses.map(fileAddress).join("; ")));
    return item;
  }));
}

async function loadCustomerFile(customerId) {
  const load = fileBegin("file");
  try {
    const data = await api("GET", `/api/customers/${customerId}/file`);
    if (load !== fileView.load) return;
    fileView.data = data;
    renderCustomerFile();
  } catch (error) {
    if (load !== fileView.load) return;
    fileView.data = null;
    $("file-body").replaceChildren();
    $("file-print").hidden = true;
    $("file-error").textContent = error.message;
  } finally { if (load === fileView.load) $("file-status").textContent = ""; }
}

// Moments in the hotline's zone, whatever the browser's: 2026-11-23 10:00.
function fileMoment(iso) {
  if (!iso) return "";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: fileView.data.time_zone, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(new Date(iso)).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

// A value the console has no words for (a new outcome) is shown as it is.
function fileWord(key, raw) {
  const text = t(key);
  return text === key ? raw : text;
}

function fileAddress(a) { return `${a.province}${a.city}${a.district}${a.street}`; }

function fileSection(key, name, { total, shown, wide } = {}) {
  const section = el("section", null, `file-section panel${wide ? " wide" : ""}`);
  section.dataset.section = name;
  section.append(fileHeading("h2", key, total, shown));
  return section;
}

// A heading with how many there are, and how many of them the file shows.
function fileHeading(tag, key, total, shown) {
  const head = el(tag, t(key));
  if (total !== undefined) {
    const counted = total > shown ? `${t("f_total", total)} · ${t("f_newest", shown)}` : t("f_total", total);
    head.append(el("span", ` ${counted}`, "muted file-count"));
  }
  return head;
}

function fileList(items, render, className) {
  const list = el("ul", null, `file-list ${className || ""}`.trim());
  if (items.length === 0) list.append(el("li", t("f_none"), "muted file-empty"));
  for (const item of items) list.append(render(item));
  return list;
}

function fileFacts(pairs) {
  return el("span", pairs.filter(Boolean).join(" · "));
}

function renderCustomerFile() {
  const data = fileView.data;
  if (!data) return;
  const body = $("file-body");
  body.replaceChildren(
    fileHead(data),
    fileAppliances(data),
    fileScores(data),
    fileContacts(data),
    fileOrders(data),
    fileRecords(data),
    fileComplaints(data),
    fileCallbacks(data),
  );
  body.dataset.customerId = data.customer.id;
}

function fileHead(data) {
  const customer = data.customer;
  const head = el("section", null, "file-head panel wide");
  head.dataset.section = "customer";
  const title = el("h2", null, "file-title");
  title.append(el("span", t("f_title"), "file-kind"), " ", el("span", `${customer.name} ${customer.title || ""}`.trim(), "file-name"));
  const ident = el("p", `${t("f_customer_no", customer.id)} · ${t(`f_grade_${data.grade}`)}`, "file-ident");
  const score = data.last_satisfaction_score;
  const facts = el("dl", null, "facts file-facts");
  const fact = (label, value, className) => facts.append(el("dt", label), el("dd", value, className));
  fact(t("phones"), customer.phones.map((p) => `${p.e164}${p.label ? ` (${p.label})` : ""}`).join(", ") || t("f_none"), "file-phones");
  fact(t("addresses"), customer.addresses.map(fileAddress).join("; ") || t("f_none"), "file-addresses");
  fact(t("f_last_score"), score === null ? t("f_none") : String(score), "file-last-score");
  if (customer.notes) fact(t("f_notes"), customer.notes, "file-notes");
  head.append(title, ident, facts, el("p", `${t("f_since", fileMoment(customer.created_at))} · ${t("f_generated", fileMoment(data.generated_at))} · ${t("f_zone", data.time_zone)}`, "muted file-generated"));
  return head;
}

function fileAppliances(data) {
  const section = fileSection("f_appliances", "appliances");
  section.append(fileList(data.appliances, (a) => {
    const item = el("li", null, "file-appliance");
    const badge = el("span", t(a.warranty_status), `badge ${a.warranty_status}`);
    item.append(fileFacts([`${a.brand} ${t(`cat_${a.category}`)}`, a.model, a.serial, a.purchase_date ? t("f_purchased", a.purchase_date) : ""]), " ", badge);
    return item;
  }));
  return section;
}

function fileContacts(data) {
  const section = fileSection("f_contacts", "contacts", { wide: true });
  section.append(fileHeading("h3", "f_calls", data.calls.total, data.calls.items.length), fileList(data.calls.items, fileCall, "file-calls"));
  section.append(fileHeading("h3", "f_topics", data.contacts.total, data.contacts.items.length), fileList(data.contacts.items, (c) => {
    const item = el("li", null, "file-topic");
    item.append(fileFacts([fileMoment(c.created_at), t(`f_topic_${c.topic}`), c.content, c.note, c.created_by]));
    return item;
  }, "file-topics"));
  return section;
}

function fileCall(call) {
  const item = el("li", null, "file-call");
  item.dataset.call = call.id;
  const talked = call.answered_at && call.ended_at ? span((Date.parse(call.ended_at) - Date.parse(call.answered_at)) / 1000) : "";
  item.append(fileFacts([
    fileMoment(call.ringing_at), t(call.direction === "outbound" ? "f_outbound" : "f_inbound"), call.number,
    call.disposition ? t(`f_disp_${call.disposition}`) : t(`call_${call.state}`), talked,
    call.agent_name ? `${t("f_agent")} ${call.agent_name}` : "", call.order_number ? `${t("f_order")} ${call.order_number}` : "",
  ]));
  for (const note of call.notes) {
    const line = el("div", null, "file-call-note");
    line.append(fileFacts([note.agent_name, note.disposition ? t(`outcome_${note.disposition}`) : "", note.notes]));
    item.append(line);
  }
  for (const recording of call.recordings) item.append(fileRecording(recording));
  return item;
}

function fileRecording(recording) {
  const line = el("div", null, "file-recording");
  line.dataset.recording = recording.id;
  line.append(el("span", `${t("f_recording")} #${recording.id} · ${span(recording.duration_seconds)} `));
  if (!recording.playable) {
    line.append(el("span", t("f_no_hearing"), "muted file-no-hearing"));
    return line;
  }
  const play = el("button", t("f_play"), "file-play");
  play.type = "button";
  play.addEventListener("click", () => playRecording(recording.id, line));
  line.append(play);
  if (recording.transcript === null) {
    const waiting = recording.transcript_state === "failed" ? "f_transcript_failed" : "f_transcript_pending";
    line.append(el("span", ` ${t(waiting)}`, "muted"));
    return line;
  }
  const said = el("ol", null, "file-transcript");
  for (const segment of recording.transcript) {
    const row = el("li", null, "file-segment");
    row.dataset.speaker = segment.speaker;
    const who = el("span", `${fileWord(`f_speaker_${segment.speaker}`, segment.speaker)} ${fileClock(segment.start_seconds)}`, "file-speaker");
    const from = el("button", "▶", "file-play-from");
    from.type = "button";
    from.title = t("f_play_from");
    from.setAttribute("aria-label", t("f_play_from"));
    from.addEventListener("click", () => playRecording(recording.id, line, segment.start_seconds));
    row.append(who, " ", el("span", segment.text, "file-said"), " ", from);
    said.append(row);
  }
  line.append(said);
  return line;
}

function fileClock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function fileOrders(data) {
  const section = fileSection("f_orders", "orders", { total: data.orders.total, shown: data.orders.items.length, wide: true });
  const appliances = Object.fromEntries(data.appliances.map((a) => [a.id, `${a.brand} ${t(`cat_${a.category}`)}`]));
  section.append(fileList(data.orders.items, (order) => {
    const item = el("li", null, "file-order");
    item.dataset.order = order.number;
    const status = el("strong", statusText(order.status), "file-status");
    status.dataset.status = order.status;
    item.append(el("span", `${order.number} `, "file-order-number"), status, " · ", fileFacts([
      t(`f_type_${order.order_type}`), order.urgency === "urgent" ? t("f_urgent") : "", appliances[order.appliance_id] || "",
      fileMoment(order.created_at), order.station_name ? `${t("f_station")} ${order.station_name}` : "",
      order.engineer_name ? `${t("f_engineer")} ${order.engineer_name}` : "",
    ]));
    if (order.fault_description) item.append(el("div", order.fault_description, "file-fault"));
    const history = el("ol", null, "file-history");
    for (const step of order.history) {
      const line = el("li", null, "file-step");
      line.dataset.status = step.to_status;
      const moved = step.from_status ? `${statusText(step.from_status)} → ${statusText(step.to_status)}` : statusText(step.to_status);
      line.append(fileFacts([fileMoment(step.at), moved, step.actor_name, step.note]));
      history.append(line);
    }
    item.append(el("h4", t("f_history")), history);
    if (order.appointments.length) {
      item.append(el("h4", t("f_visits")), fileList(order.appointments, (v) => {
        const visit = el("li", null, "file-visit");
        visit.append(fileFacts([`${fileMoment(v.window_start)}–${fileMoment(v.window_end).slice(11)}`, t(`f_visit_${v.status}`), v.reason]));
        return visit;
      }));
    }
    return item;
  }, "file-orders"));
  return section;
}

function fileRecords(data) {
  const section = fileSection("f_records", "records");
  section.append(el("h3", t("f_installations")), fileList(data.installations, (r) => {
    const item = el("li", null, "file-installation");
    item.append(fileFacts([
      fileMoment(r.recorded_at), r.order_number, t(r.unboxing_ok ? "f_unboxing_ok" : "f_unboxing_bad"), r.unboxing_notes,
      t(r.commissioned ? "f_commissioned" : "f_not_commissioned"), t(r.training_given ? "f_trained" : "f_not_trained"),
      t("f_confirmed_by", r.customer_confirmed_by), r.notes, t("f_recorded_by", r.recorded_by),
    ]));
    return item;
  }, "file-installations"));
  section.append(el("h3", t("f_maintenance")), fileList(data.maintenance_records, (r) => {
    const item = el("li", null, "file-maintenance");
    item.append(fileFacts([
      fileMoment(r.recorded_at), r.order_number, r.work_done, r.findings ? `${t("f_findings")}: ${r.findings}` : "",
      t("f_confirmed_by", r.customer_confirmed_by), t("f_recorded_by", r.recorded_by),
    ]));
    return item;
  }, "file-maintenance-records"));
  section.append(el("h3", t("f_plans")), fileList(data.maintenance_plans, (p) => {
    const item = el("li", null, "file-plan");
    item.append(fileFacts([p.task, t("f_every_months", p.interval_months), t("f_next_due", p.next_due), p.is_active ? "" : t("f_inactive")]));
    return item;
  }, "file-plans"));
  return section;
}

function fileComplaints(data) {
  const section = fileSection("f_complaints", "complaints", { total: data.complaints.total, shown: data.complaints.items.length });
  section.append(fileList(data.complaints.items, (c) => {
    const item = el("li", null, `file-complaint crisis-${c.crisis_level}`);
    item.dataset.level = c.crisis_level;
    const level = el("strong", t(`f_crisis_${c.crisis_level}`), "file-crisis");
    item.append(el("span", `${c.topic} `, "file-topic-name"), level, " ", fileFacts([
      t(`f_complaint_${c.status}`), fileMoment(c.created_at), c.order_number ? `${t("f_order")} ${c.order_number}` : "",
      c.owner_name ? `${t("f_owner")} ${c.owner_name}` : "", c.due_at ? `${t("f_due")} ${fileMoment(c.due_at)}` : "",
      c.raised_by_rule ? t("f_by_rule") : "",
    ]));
    if (c.description) item.append(el("div", c.description, "file-description"));
    return item;
  }, "file-complaints"));
  return section;
}

function fileCallbacks(data) {
  const section = fileSection("f_callbacks", "callbacks", { total: data.callbacks.total, shown: data.callbacks.items.length, wide: true });
  section.append(fileList(data.callbacks.items, (task) => {
    const item = el("li", null, "file-callback");
    item.dataset.status = task.status;
    item.dataset.purpose = task.purpose;
    const outcome = el("strong", task.outcome ? fileWord(`f_outcome_${task.outcome}`, task.outcome) : t("f_no_outcome"), "file-outcome");
    item.append(el("span", `${t(`f_purpose_${task.purpose}`)} `), outcome, " ", fileFacts([
      task.score !== null ? t("f_score", task.score) : "", t(`f_task_${task.status}`),
      `${t("f_attempts")} ${task.attempts}/${task.max_attempts}`, fileMoment(task.last_attempt_at || task.due_at || task.created_at),
      task.order_number ? `${t("f_order")} ${task.order_number}` : "", task.assignee_name || "", task.note,
    ]));
    return item;
  }, "file-callbacks"));
  return section;
}

function fileScores(data) {
  const section = fileSection("f_satisfaction", "satisfaction");
  section.append(fileList(data.satisfaction, (s) => {
    const item = el("li", null, `file-score score-${s.score}`);
    item.append(el("strong", t("f_score", s.score)), " ", fileFacts([s.order_number, s.surveyed_at ? t("f_surveyed", fileMoment(s.surveyed_at)) : "", s.comment]));
    return item;
  }, "file-scores"));
  return section;
}

// Attributes are no text nodes: translate() leaves them, so they follow the language here.
function fileTexts() {
  $("customer-q").placeholder = t("f_placeholder");
  $("customer-q").setAttribute("aria-label", t("f_search_label"));
}

function fileSubmit(event) {
  event.preventDefault();
  const q = $("customer-q").value.trim();
  if (!q) { $("customer-q").focus(); return; }
  const hash = `#search/${encodeURIComponent(q)}`;
  if (location.hash === hash) fileRoute();
  else location.hash = hash;
}

// console.js writes who is logged in into #who once it knows (and shows #login again when
// the session ends): the search box and the route follow that, with no hook in console.js.
function fileWatch() {
  const signedIn = () => {
    const staff = fileStaff() && $("login").hidden;
    $("customer-search").hidden = !staff;
    if (staff) fileRoute();
    else fileShow(false);
  };
  new MutationObserver(signedIn).observe($("who"), { childList: true, characterData: true, subtree: true });
  new MutationObserver(signedIn).observe($("login"), { attributes: true, attributeFilter: ["hidden"] });
  // A call ringing for the agent brings the console back in front of the file.
  const status = $("call-status");
  if (!status) return;
  new MutationObserver(() => {
    if (status.dataset.status === "offered" && !$("file").hidden) fileBack();
  }).observe(status, { attributes: true, attributeFilter: ["data-status"] });
}

document.addEventListener("DOMContentLoaded", () => {
  $("customer-search").addEventListener("submit", fileSubmit);
  $("file-back").addEventListener("click", fileBack);
  $("file-print").addEventListener("click", () => window.print());
  window.addEventListener("hashchange", fileRoute);
  // Registered after console.js's own listener, so the language has changed already.
  $("lang").addEventListener("click", () => { fileTexts(); renderFileResults(); renderCustomerFile(); });
  fileTexts();
  fileWatch();
});
