"use strict";
// Searching what was said in calls (each hit plays from where it was said), and, for
// supervisors, the calls whose words wait for review (投诉, 曝光, 12315...). Loaded after
// console.js and built on its helpers ($, t, el, api, state, playRecording).

Object.assign(TEXT["zh-CN"], {
  search_calls: "搜索通话内容", search: "搜索", no_hits: "没有找到。", hits: "找到 {n} 处",
  speaker_customer: "客户", speaker_agent: "坐席", speaker_caller: "来电人", play_from: "从此处播放",
  flagged_calls: "敏感词待审通话", no_flags: "没有待审的通话。", mark_reviewed: "已审",
  crisis_2: "潜在危机", crisis_3: "严重危机",
});
Object.assign(TEXT.en, {
  search_calls: "Search what was said", search: "Search", no_hits: "Nothing found.", hits: "{n} found",
  speaker_customer: "Customer", speaker_agent: "Agent", speaker_caller: "Caller", play_from: "Play from here",
  flagged_calls: "Calls to review (watched words)", no_flags: "No calls to review.", mark_reviewed: "Reviewed",
  crisis_2: "potential crisis", crisis_3: "severe crisis",
});

const transcripts = { started: false };

function startTranscripts() {
  if (!state.me || transcripts.started) return;
  transcripts.started = true;
  const supervisor = state.me.role === "supervisor" || state.me.role === "admin";
  const host = $(supervisor ? "wall" : "agent");
  if (!host || (!supervisor && state.me.role !== "agent")) return;
  host.append(transcriptPanel(supervisor));
  if (supervisor) loadFlags();
}

function labelled(tag, key, className) {
  const node = el(tag, t(key), className);
  node.dataset.i18n = key;
  return node;
}

function transcriptPanel(supervisor) {
  const panel = el("section", null, "panel span2 transcripts");
  panel.id = "transcripts";
  const form = el("form", null, "row");
  const query = el("input");
  query.id = "transcript-q";
  query.type = "search";
  query.maxLength = 100;
  query.setAttribute("aria-label", t("search_calls"));
  const go = labelled("button", "search");
  go.type = "submit";
  form.append(query, go);
  form.addEventListener("submit", (event) => { event.preventDefault(); searchCalls(query.value); });
  panel.append(labelled("h2", "search_calls"), form, el("p", "", "muted hit-count"), el("ul", null, "compact transcript-hits"), el("p", "", "error"));
  if (supervisor) {
    panel.append(labelled("h2", "flagged_calls"), labelled("p", "no_flags", "muted no-flags"), el("ul", null, "compact flags"));
  }
  return panel;
}

async function searchCalls(q) {
  const panel = $("transcripts");
  const error = panel.querySelector(".error");
  error.textContent = "";
  try {
    const hits = await api("GET", `/api/transcripts/search?q=${encodeURIComponent(q)}&limit=50`);
    panel.querySelector(".hit-count").textContent = hits.length ? t("hits", hits.length) : t("no_hits");
    panel.querySelector(".transcript-hits").replaceChildren(...hits.map(hitItem));
  } catch (failure) { error.textContent = failure.message; }
}

function hitItem(hit) {
  const item = el("li", null, "hit");
  item.dataset.recording = hit.recording_id;
  const when = new Date(hit.recorded_at).toLocaleString(state.lang);
  const said = el("span", null, "said");
  said.append(hit.text.slice(0, hit.match_start), el("mark", hit.text.slice(hit.match_start, hit.match_end)), hit.text.slice(hit.match_end));
  item.append(el("span", `${when} · ${t(`speaker_${hit.speaker}`)} ${clockOf(hit.start_seconds)} `, "muted"), said, " ", playButton(hit.recording_id, hit.start_seconds, item));
  return item;
}

function clockOf(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function playButton(recordingId, seconds, line) {
  const play = labelled("button", "play_from", "play-from");
  play.type = "button";
  play.addEventListener("click", () => playRecording(recordingId, line, seconds));
  return play;
}

async function loadFlags() {
  const panel = $("transcripts");
  try {
    const flags = await api("GET", "/api/transcripts/flags?limit=50");
    panel.querySelector(".no-flags").hidden = flags.length > 0;
    panel.querySelector(".flags").replaceChildren(...flags.map(flagItem));
  } catch (failure) { panel.querySelector(".error").textContent = failure.message; }
}

function flagItem(flag) {
  const item = el("li", null, `flag crisis-${flag.crisis_level}`);
  item.dataset.call = flag.call_id;
  const done = labelled("button", "mark_reviewed", "review");
  done.type = "button";
  done.addEventListener("click", async () => {
    try {
      await api("POST", `/api/transcripts/flags/${flag.call_id}/review`);
      await loadFlags();
    } catch (failure) { $("transcripts").querySelector(".error").textContent = failure.message; }
  });
  item.append(
    el("strong", flag.keyword), ` · ${t(`crisis_${flag.crisis_level}`)} · ${t(`speaker_${flag.speaker}`)} ${clockOf(flag.start_seconds)} `,
    el("span", flag.text, "said"), " ", playButton(flag.recording_id, flag.start_seconds, item), " ", done,
  );
  return item;
}
