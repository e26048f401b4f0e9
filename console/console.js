// The operations console's logic: reads console events (contracts/console.ts) from the WebSocket API, renders live calls, sends operator actions.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  const wsUrl = params.get('ws') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const $ = (id) => document.getElementById(id);
  /** callSid → what the console knows of the call. */
  const calls = new Map();
  /** ack id → the action's label and its list item. */
  const pending = new Map();
  let selected = null;
  let socket = null;
  let seq = 0;

  function callOf(sid) {
    let c = calls.get(sid);
    if (!c) {
      c = { sid, agent: '?', caller: '', startedAt: Date.now(), ended: false, escalated: false, lines: [], tools: [], flags: [], events: [], cost: 0 };
      calls.set(sid, c);
    }
    return c;
  }

  function el(tag, props, text) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** One console event into the state. */
  function apply(e) {
    if (e.type === 'ack') return ack(e);
    if (!e.callSid) return;
    const c = callOf(e.callSid);
    switch (e.type) {
      case 'call-started':
        Object.assign(c, { agent: e.agent, caller: e.caller, startedAt: e.at, ended: false });
        break;
      case 'turn':
        addLine(c, e);
        break;
      case 'tool':
        c.tools.push(e);
        break;
      case 'cost':
        c.cost = e.usd;
        break;
      case 'flag':
        c.flags.push(e.flag);
        c.events.push({ cls: 'flag-event', text: `flag: ${e.flag.kind} — ${e.flag.detail} (recommended: ${e.flag.recommended})` });
        break;
      case 'escalation':
        c.escalated = true;
        c.events.push({ cls: 'flag-event', text: `escalated: ${e.reason}` });
        break;
      case 'operator-action':
        c.events.push({ cls: '', text: `${e.action} by ${e.by}: ${e.ok ? 'done' : 'failed'}` });
        break;
      case 'call-ended':
        Object.assign(c, { ended: true, escalated: c.escalated || e.escalated });
        c.events.push({ cls: '', text: `call ended${e.escalated ? ' (escalated)' : ''}` });
        break;
    }
  }

  /** A `turn` event is one transcript line (caller or agent) with, for agent replies, its waterfall. */
  function addLine(c, e) {
    const who = e.caller !== undefined ? 'caller' : e.agent !== undefined ? 'agent' : 'redacted';
    const text = who === 'caller' ? e.caller : who === 'agent' ? e.agent : '(words hidden: no transcript rights)';
    c.lines.push({ turn: e.turn, who, text, interrupted: e.interrupted, waterfall: e.waterfall || {} });
  }

  function ack(e) {
    const p = pending.get(e.id);
    if (!p) return;
    pending.delete(e.id);
    p.li.dataset.ok = String(e.ok);
    p.li.textContent = `${p.label}: ${e.ok ? 'acknowledged' : `refused — ${e.error || 'error'}`}`;
  }

  function renderList() {
    const ul = $('calls');
    ul.replaceChildren();
    $('no-calls').hidden = calls.size > 0;
    for (const c of [...calls.values()].sort((a, b) => b.startedAt - a.startedAt)) {
      const li = el('li');
      li.dataset.callSid = c.sid;
      li.classList.toggle('selected', c.sid === selected);
      li.classList.toggle('flagged', c.flags.length > 0);
      li.classList.toggle('ended', c.ended);
      li.append(el('div', {}, `${c.agent} · ${c.caller}${c.flags.length ? ' ⚑' : ''}${c.ended ? ' · ended' : ''}`), el('div', { className: 'sid' }, c.sid));
      li.addEventListener('click', () => select(c.sid));
      ul.append(li);
    }
  }

  function renderCall() {
    const c = selected && calls.get(selected);
    $('call').hidden = !c;
    if (!c) return;
    $('call').dataset.callSid = c.sid;
    $('call-title').textContent = `${c.agent} · ${c.caller}`;
    $('call-meta').textContent = `${c.sid} · ${c.ended ? 'ended' : 'live'}${c.escalated ? ' · escalated' : ''}`;
    $('call-cost').textContent = `$${c.cost.toFixed(4)}`;
    $('flags').replaceChildren(...c.flags.map((f) => el('div', { className: 'flag' }, `⚑ ${f.kind}: ${f.detail} — recommended: ${f.recommended}`)));
    for (const id of ['take-over', 'hang-up', 'whisper']) $(id).disabled = c.ended;
    $('transcript').replaceChildren(...c.lines.map((l) => {
      const li = el('li', { className: `${l.who}${l.interrupted ? ' interrupted' : ''}` }, l.text);
      li.dataset.turn = String(l.turn);
      return li;
    }));
    renderWaterfall(c);
    $('tools').replaceChildren(...c.tools.map((t) => {
      const li = el('li', {}, `${t.name} · ${Math.round(t.ms)} ms · ${t.ok ? 'ok' : 'failed'}`);
      li.dataset.ok = String(t.ok);
      return li;
    }));
    $('events').replaceChildren(...c.events.map((ev) => el('li', { className: ev.cls }, ev.text)));
  }

  /** Bars per stage, one row per agent reply: STT final, then LLM first token, then TTS first byte; voice to voice under them. */
  function renderWaterfall(c) {
    const rows = c.lines.filter((l) => l.who !== 'caller' && l.waterfall && l.waterfall.voiceToVoiceMs !== undefined);
    const max = Math.max(1000, ...rows.map((l) => l.waterfall.voiceToVoiceMs || 0));
    const pct = (ms) => `${Math.max(0, (ms / max) * 100).toFixed(2)}%`;
    $('waterfall').replaceChildren(...rows.map((l) => {
      const w = l.waterfall;
      const track = el('div', { className: 'track' });
      let at = 0;
      for (const [cls, ms, name] of [['stt', w.sttFinalDelayMs, 'STT final'], ['llm', w.llmTimeToFirstTokenMs, 'LLM first token'], ['tts', w.ttsTimeToFirstByteMs, 'TTS first byte']]) {
        if (ms === undefined) continue;
        const bar = el('div', { className: `bar ${cls}`, title: `${name} ${Math.round(ms)} ms` });
        bar.style.left = pct(at);
        bar.style.width = pct(ms);
        track.append(bar);
        at += ms;
      }
      const v = el('div', { className: 'bar v2v', title: `voice to voice ${Math.round(w.voiceToVoiceMs)} ms` });
      v.style.width = pct(w.voiceToVoiceMs);
      track.append(v);
      const row = el('div', { className: 'row' });
      row.dataset.turn = String(l.turn);
      row.append(el('span', {}, `#${l.turn}`), track, el('span', {}, `${Math.round(w.voiceToVoiceMs)} ms`));
      return row;
    }));
  }

  function select(sid) {
    selected = sid;
    render();
  }

  function render() {
    if (!selected || !calls.has(selected)) {
      const live = [...calls.values()].filter((c) => !c.ended).sort((a, b) => b.startedAt - a.startedAt)[0];
      selected = live ? live.sid : null;
    }
    renderList();
    renderCall();
  }

  /** Sends an operator action (operatorActionSchema) and lists it until its ack comes. */
  function send(action, label, extra) {
    if (!selected || !socket || socket.readyState !== WebSocket.OPEN) return;
    const id = `a${Date.now().toString(36)}${(seq++).toString(36)}`;
    const li = el('li', {}, `${label}: sent…`);
    li.dataset.ok = 'pending';
    li.dataset.id = id;
    $('acks').prepend(li);
    pending.set(id, { label, li });
    socket.send(JSON.stringify(Object.assign({ action, id, callSid: selected }, extra)));
  }

  $('take-over-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const to = $('take-over-to').value.trim();
    send('take-over', `take over to ${to}`, { to });
  });
  $('hang-up').addEventListener('click', () => send('hang-up', 'hang up', {}));
  $('whisper-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('whisper-text').value.trim();
    if (!text) return;
    send('whisper', `whisper "${text}"`, { text });
    $('whisper-text').value = '';
  });

  async function onMessage(m) {
    const text = typeof m.data === 'string' ? m.data : await m.data.text();
    let batch;
    try {
      batch = JSON.parse(text);
    } catch {
      return;
    }
    for (const e of Array.isArray(batch) ? batch : [batch]) apply(e);
    render();
  }

  function connect(delay) {
    const status = $('status');
    socket = new WebSocket(wsUrl);
    status.dataset.state = 'connecting';
    status.textContent = 'connecting…';
    socket.addEventListener('open', () => {
      status.dataset.state = 'open';
      status.textContent = 'live';
      delay = 500;
    });
    socket.addEventListener('message', (m) => void onMessage(m));
    socket.addEventListener('close', () => {
      status.dataset.state = 'closed';
      status.textContent = 'disconnected — retrying';
      setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
    });
  }

  connect(500);
  render();
})();
