"use strict";
// Live captions of the agent's current call: the caller's words as they are heard (a
// partial line, replaced as it grows) and each finished utterance kept as a line. Loaded
// after console.js and built on its helpers ($, t, el, state).

Object.assign(TEXT["zh-CN"], { live_transcript: "实时转写", live_customer: "客户", live_agent: "坐席" });
Object.assign(TEXT.en, { live_transcript: "Live transcript", live_customer: "Customer", live_agent: "Agent" });

const live = { callId: null };

function livePanel() {
  let panel = $("live-transcript");
  if (panel) return panel;
  panel = el("section", null, "live-transcript");
  panel.id = "live-transcript";
  panel.hidden = true;
  const title = el("h3", t("live_transcript"));
  title.dataset.i18n = "live_transcript";
  const finals = el("ol", null, "live-finals");
  // A long call keeps its last lines in view and the notes below them on screen.
  finals.style.maxHeight = "7.5em";
  finals.style.overflowY = "auto";
  panel.append(title, finals, el("p", null, "live-partial muted"));
  panel.setAttribute("aria-live", "polite");
  // Right under the call's facts, above the notes.
  $("call-panel").querySelector(".facts").after(panel);
  return panel;
}

// The speaker's name follows the language (translate() rewrites every data-i18n node).
function captionParts(data) {
  const label = el("span", t(`live_${data.speaker}`), "live-speaker");
  label.dataset.i18n = `live_${data.speaker}`;
  return [label, ": ", el("span", data.text, "live-text")];
}

function clearLive(callId) {
  live.callId = callId;
  const panel = livePanel();
  panel.hidden = true;
  panel.querySelector(".live-finals").replaceChildren();
  panel.querySelector(".live-partial").replaceChildren();
}

// Called by handle() for every event; true when the event was a caption (and is done with).
function liveEvent(frame) {
  const data = frame.data;
  // A new call starts with an empty transcript; its offer goes on to handle() as before.
  const mine = state.me && data.agent_id === state.me.id;
  if (frame.name === "call.offered" && mine && data.call_id !== live.callId) clearLive(data.call_id);
  if (frame.name !== "call.transcript") return false;
  if (!mine || !state.call || data.call_id !== state.call.id) return true;
  if (data.call_id !== live.callId) clearLive(data.call_id);
  const panel = livePanel();
  panel.hidden = false;
  const partial = panel.querySelector(".live-partial");
  if (data.final) {
    const line = el("li", null, "live-final");
    line.dataset.speaker = data.speaker;
    line.append(...captionParts(data));
    const finals = panel.querySelector(".live-finals");
    finals.append(line);
    finals.scrollTop = finals.scrollHeight;
    partial.replaceChildren();
  } else {
    partial.replaceChildren(...captionParts(data));
  }
  return true;
}
