"use strict";
// The back office in the console: the parts desk and the audit desk on the supervisor's
// wall, an engineer's commission statement in the station view, and the fee schedule the
// pop shows for appliances out of warranty. Loaded after console.js and station.js.

Object.assign(TEXT["zh-CN"], {
  parts_desk: "配件台", store: "仓库", stock_value: "库存金额 {n}", part: "配件", quantity: "数量", value: "金额",
  part_requests: "备件申请（待审批）", no_part_requests: "没有待审批的备件申请。", approve_hotline: "呼叫中心批准",
  approve_manager: "售后经理批准", reject_reason: "驳回原因", ship: "发货", ship_on: "发货日 {n}",
  due_returns: "待返还备件", no_due_returns: "没有待返还的备件。", days_out: "已借 {n} 个工作日", unused_due: "未用件 {n} 前返还",
  bill_on: "{n} 起按维修站价结算", state_ok: "正常", state_overdue: "逾期", state_billed: "已结算",
  export_ledger: "导出台账", export_due: "导出待返还", audit_desk: "完工单审核", no_slips: "没有待审核的完工单。",
  quality: "质量评分", send_back: "退回", approve_slip: "审核通过", audit_note: "审核意见",
  score: "用户评分 {n}", commission: "我的提成", month: "月份", jobs: "单数", base: "基本提成", rewards: "奖惩",
  late_deductions: "期限扣款", total: "合计", fee_card: "有偿服务收费标准",
  fee_installation: "安装调试", fee_repair_minor: "小修", fee_repair_medium: "中修", fee_repair_major: "大修",
  fee_delivery: "送货", fee_exchange: "调换货", fee_mall_return_repair: "商返机维修", fee_cleaning_packing: "清洁打包",
  fee_gas_conversion: "燃气转换", fee_travel_urban: "市区上门费", fee_travel_non_urban: "郊区上门费",
  movements: "出入库记录", move_receipt: "入库", move_transfer: "调拨", move_issue: "领料", move_issue_change: "改数量",
  move_issue_return: "删除回加", move_scrap: "报损", move_adjustment: "盘点", move_shipment: "备件发货", move_return: "备件返还",
  move_loan: "借出备用机", move_loan_return: "备用机归还",
});
Object.assign(TEXT.en, {
  parts_desk: "Parts desk", store: "Store", stock_value: "Stock value {n}", part: "Part", quantity: "Qty", value: "Value",
  part_requests: "Parts requests to approve", no_part_requests: "No parts requests to approve.", approve_hotline: "Approve (hotline)",
  approve_manager: "Approve (after-sales manager)", reject_reason: "Reason to refuse", ship: "Ship", ship_on: "ships {n}",
  due_returns: "Parts due back", no_due_returns: "No borrowed parts out.", days_out: "{n} working days out", unused_due: "unused back by {n}",
  bill_on: "billed from {n}", state_ok: "ok", state_overdue: "overdue", state_billed: "billed",
  export_ledger: "Export the ledger", export_due: "Export due returns", audit_desk: "Completion slips to audit", no_slips: "No slips to audit.",
  quality: "Quality score", send_back: "Send back", approve_slip: "Approve", audit_note: "Audit note",
  score: "customer's score {n}", commission: "My commission", month: "Month", jobs: "Jobs", base: "Base", rewards: "Rewards",
  late_deductions: "Late deductions", total: "Total", fee_card: "Fees for paid service",
  fee_installation: "installation", fee_repair_minor: "minor repair", fee_repair_medium: "medium repair", fee_repair_major: "major repair",
  fee_delivery: "delivery", fee_exchange: "exchange", fee_mall_return_repair: "mall-return repair", fee_cleaning_packing: "cleaning and packing",
  fee_gas_conversion: "gas conversion", fee_travel_urban: "travel in town", fee_travel_non_urban: "travel outside town",
  movements: "Movements", move_receipt: "received", move_transfer: "transfer", move_issue: "issued", move_issue_change: "quantity changed",
  move_issue_return: "line removed", move_scrap: "scrapped", move_adjustment: "stock-take", move_shipment: "shipped", move_return: "returned",
  move_loan: "loaner out", move_loan_return: "loaner back",
});

const office = { stores: null, store: null, rewards: null, parts: null, loads: 0 };

function money(fen) {
  return new Intl.NumberFormat(state.lang, { style: "currency", currency: "CNY" }).format(fen / 100);
}

// The fee schedule under an out-of-warranty appliance in the pop.
function feeCard(fees) {
  const line = el("p", null, "fee-card");
  line.append(el("strong", `${t("fee_card")}: `));
  line.append(fees.map((fee) => `${t(`fee_${fee.item}`)} ${money(fee.amount_fen)}`).join(" · "));
  return line;
}

// A workbook from an export route, saved under its name (the route wants the token).
async function download(path, name) {
  const response = await fetch(path, { headers: { "Authorization": `Bearer ${state.token}` } });
  if (!response.ok) throw new Error(response.statusText);
  const link = el("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  link.click();
}

async function loadOffice() {
  const load = ++office.loads;
  try {
    if (!office.stores) {
      office.stores = await api("GET", "/api/warehouses");
      office.rewards = (await api("GET", "/api/rates")).rewards;
      office.parts = await api("GET", "/api/parts?limit=200");
      office.store = office.stores.length ? office.stores[0].id : null;
      renderStoreChoice();
    }
    const [stock, moves, requests, due, slips] = await Promise.all([
      office.store ? api("GET", `/api/warehouses/${office.store}/stock`) : null,
      office.store ? api("GET", `/api/ledger?warehouse=${office.store}&limit=15`) : [],
      api("GET", "/api/part-requests?status=pending"),
      api("GET", "/api/due-returns"),
      api("GET", "/api/completion-slips?status=submitted"),
    ]);
    if (load !== office.loads) return;
    renderStock(stock);
    renderMoves(moves);
    renderPartRequests(requests);
    renderDueReturns(due);
    renderSlips(slips);
    $("office-error").textContent = "";
  } catch (error) { $("office-error").textContent = error.message; }
}

function renderStoreChoice() {
  const select = $("store-choice");
  select.replaceChildren(...office.stores.map((store) => {
    const option = el("option", `${store.code} ${store.name}`);
    option.value = store.id;
    return option;
  }));
  select.onchange = () => { office.store = Number(select.value); loadOffice(); };
}

function renderStock(stock) {
  const body = $("stock-table").querySelector("tbody");
  body.replaceChildren(...(stock ? stock.lines : []).map((line) => {
    const row = el("tr");
    row.dataset.part = line.code;
    row.append(el("td", `${line.code} ${line.name}`), el("td", line.quantity), el("td", money(line.value_fen)));
    return row;
  }));
  $("stock-value").textContent = stock ? t("stock_value", money(stock.value_fen)) : "";
}

// The store's latest ledger rows: in (+) or out (−), why, and by whom.
function renderMoves(moves) {
  const codes = Object.fromEntries((office.parts || []).map((part) => [part.id, part.code]));
  $("moves").replaceChildren(...moves.map((move) => {
    const sign = move.to_warehouse_id === office.store ? "+" : "−";
    const item = el("li", `${new Date(move.at).toLocaleString(state.lang)} · ${codes[move.part_id] || move.part_id} ${sign}${move.quantity} · ${t(`move_${move.reason}`)} · ${move.actor_name}`, "move");
    item.dataset.reason = move.reason;
    return item;
  }));
}

function renderPartRequests(requests) {
  $("no-part-requests").hidden = requests.length > 0;
  $("part-requests").replaceChildren(...requests.map((request) => {
    const item = el("li", null, "part-request");
    item.dataset.request = request.id;
    const lines = request.lines.map((line) => `${line.part_code} × ${line.quantity}`).join(", ");
    item.append(el("strong", `#${request.id}`), ` · ${lines} · ${request.requested_by} `);
    const signed = [request.hotline_approved_by, request.manager_approved_by].filter(Boolean).join(", ");
    if (signed) item.append(el("span", signed, "pill ok"));
    const error = el("span", "", "error");
    const decide = (body) => async () => {
      error.textContent = "";
      try { await api("POST", `/api/part-requests/${request.id}/decision`, body); await loadOffice(); } catch (failure) { error.textContent = failure.message; }
    };
    const approve = el("button", t(state.me.role === "admin" ? "approve_manager" : "approve_hotline"), "approve");
    approve.type = "button";
    approve.addEventListener("click", decide({ approve: true }));
    const reason = el("input", null, "reject-reason");
    reason.placeholder = t("reject_reason");
    const reject = el("button", t("reject"), "reject");
    reject.type = "button";
    reject.addEventListener("click", () => decide({ approve: false, reason: reason.value })());
    item.append(approve, reason, reject, error);
    return item;
  }));
}

function renderDueReturns(due) {
  $("no-due-returns").hidden = due.length > 0;
  $("due-returns").replaceChildren(...due.map((line) => {
    const item = el("li", null, `due-return ${line.state}`);
    item.dataset.borrowed = line.borrowed_id;
    item.append(el("strong", `${line.part_code} × ${line.outstanding || line.billed_quantity}`), " ");
    item.append(el("span", t(`state_${line.state}`), `pill ${line.state === "ok" ? "ok" : "warn"}`), " ");
    item.append(`${t("days_out", line.working_days_out)} · ${t("unused_due", line.unused_due_on)} · ${t("bill_on", line.bill_on)}`);
    if (line.billed_fen) item.append(` · ${money(line.billed_fen)}`);
    return item;
  }));
}

function renderSlips(slips) {
  $("no-slips").hidden = slips.length > 0;
  $("slips").replaceChildren(...slips.map((slip) => {
    const item = el("li", null, "slip");
    item.dataset.order = slip.order_number;
    item.append(el("strong", slip.order_number), ` · ${slip.engineer_name || "–"} · ${t(`fee_${slip.service_kind}`)} · ${slip.work_done} · ${t("score", slip.engineer_score)} `);
    const quality = el("input", null, "quality");
    quality.type = "number"; quality.min = "0"; quality.max = "100";
    quality.setAttribute("aria-label", t("quality"));
    quality.placeholder = t("quality");
    const items = office.rewards.map((reward) => {
      const box = el("input");
      box.type = "checkbox"; box.value = reward.code;
      const label = el("label", null, "check");
      label.append(box, ` ${reward.name} ${money(reward.amount_fen)}`);
      return label;
    });
    const note = el("input", null, "audit-note");
    note.placeholder = t("audit_note");
    const error = el("span", "", "error");
    const audit = (approve) => async () => {
      error.textContent = "";
      const chosen = [...item.querySelectorAll("input[type=checkbox]:checked")].map((box) => ({ code: box.value }));
      const body = { approve, note: note.value, items: approve ? chosen : [] };
      if (approve && quality.value !== "") body.quality_score = Number(quality.value);
      try { await api("POST", `/api/completion-slips/${slip.id}/audit`, body); await loadOffice(); } catch (failure) { error.textContent = failure.message; }
    };
    const approve = el("button", t("approve_slip"), "approve-slip");
    approve.type = "button";
    approve.addEventListener("click", audit(true));
    const back = el("button", t("send_back"), "send-back");
    back.type = "button";
    back.addEventListener("click", audit(false));
    item.append(quality, ...items, note, approve, back, error);
    return item;
  }));
}

// An engineer's own commission statement for a month.
async function loadCommission() {
  const month = $("commission-month");
  if (!month.value) month.value = new Date(serverNow()).toISOString().slice(0, 7);
  try {
    const report = await api("GET", `/api/reports/commission?month=${month.value}`);
    const [mine] = report.sections[0].rows;
    const cells = mine ? mine.slice(2) : [0, 0, 0, 0, 0];
    const [jobs, base, rewards, late, total] = cells;
    $("commission-figures").replaceChildren(
      ...[["jobs", jobs], ["base", money(base)], ["rewards", money(rewards)], ["late_deductions", money(late)], ["total", money(total)]]
        .flatMap(([key, value]) => [el("dt", t(key)), el("dd", value, `figure-${key}`)]),
    );
    $("commission-error").textContent = "";
  } catch (error) { $("commission-error").textContent = error.message; }
}

function startOffice() {
  if (!$("wall").hidden) {
    $("export-ledger").onclick = () => download(`/api/ledger?format=xlsx${office.store ? `&warehouse=${office.store}` : ""}`, "ledger.xlsx").catch((e) => { $("office-error").textContent = e.message; });
    $("export-due").onclick = () => download("/api/due-returns?format=xlsx", "due-returns.xlsx").catch((e) => { $("office-error").textContent = e.message; });
    return loadOffice();
  }
  if (state.me.role === "engineer") {
    $("commission").hidden = false;
    $("commission-month").onchange = loadCommission;
    return loadCommission();
  }
  return null;
}
