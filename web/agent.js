// xiaoer agent console (the desk): the queue of escalated chats with search,
// filters and unread counts; the history with the bot's decisions, notes and
// markers; take over / reply / quick replies / drafts / notes / close / hand
// back / reassign; the buyer's context; notifications; the report.
// Text goes in only through textContent.
'use strict';

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const tid = (id) => $(`[data-testid="${id}"]`);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'text') node.textContent = value;
      else if (key in node && typeof value !== 'string') node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function api(method, url, body) {
    const res = await fetch(url, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    if (res.status === 401) {
      // The console needs a login here (it listens beyond loopback).
      location.href = '/login';
    }
    if (!res.ok) {
      const err = new Error((data && data.error) || `HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  const clock = (ms) => new Date(ms).toLocaleTimeString('zh-CN', { hour12: false });
  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return `${h}时${String(m).padStart(2, '0')}分`;
    if (m) return `${m}分${String(sec).padStart(2, '0')}秒`;
    return `${sec}秒`;
  }
  function ago(ms) {
    const s = Math.floor((Date.now() - ms) / 1000);
    if (s < 60) return '刚刚';
    if (s < 3600) return `${Math.floor(s / 60)}分钟前`;
    return clock(ms);
  }
  // A date and time, short: "今天 14:03" / "11月20日 14:03".
  function stamp(ms) {
    const d = new Date(ms);
    const hm = d.toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit', hour12: false });
    if (d.toDateString() === new Date().toDateString()) return `今天 ${hm}`;
    return `${d.getMonth() + 1}月${d.getDate()}日 ${hm}`;
  }
  // Relative within the hour, else a short date and time.
  const when = (ms) => (Date.now() - ms < 3_600_000 ? ago(ms) : stamp(ms));
  const fullTime = (ms) => new Date(ms).toLocaleString('zh-CN', { hour12: false });
  const whenNode = (ms, testid) => el('time', {
    class: 'when', datetime: new Date(ms).toISOString(), title: fullTime(ms),
    dataset: testid ? { when: String(ms), testid } : { when: String(ms) }, text: when(ms),
  });

  const STATUS_TEXT = { bot: '机器人接待 Bot', escalated: '待接管 Escalated', taken: '人工接待 Taken' };
  const OUTCOME_TEXT = {
    resolved: '已解决 Resolved', refund: '退款 Refund', exchange: '换货 Exchange',
    no_response: '买家未回复 No response', other: '其他 Other',
  };
  // Reasons the console names before the report brings the shop's own labels.
  const REASON_TEXT = {
    unclassified: '未能识别', low_confidence: '机器人不确定', repeated_bargain: '反复议价',
    repeated_question: '重复提问', too_long: '消息过长', unlisted_destination: '目的地不在配送名单',
    complaint: '买家投诉', defect: '质量问题', delivery_issue: '物流异常', human: '要求人工',
    order_change: '修改订单', none: '无关消息', marked_wrong: '客服标记答错', unknown: '未知',
  };
  const reasonText = (r) => REASON_TEXT[r] || r;
  const PRIORITY_TEXT = { high: '高 High', normal: '普通 Normal' };
  const ACTION_TEXT = { reply: '回复 reply', escalate: '转人工 escalate' };
  const ROLE_LABEL = { bot: '店小二 (机器人)', system: '系统 System' };

  const state = {
    view: 'chats', agent: '', me: null, team: [], outcomes: Object.keys(OUTCOME_TEXT),
    conversations: [], all: [], selected: null, conv: null,
    query: '', filter: '',
    listBusy: false, listAgain: false, convBusy: false, convAgain: false,
    known: null, // escalated conversation ids seen so far (null before the first list)
  };

  // ---- who this console works as (the session's agent) ----
  const agentName = (id) => {
    const m = state.team.find((a) => a.id === id);
    return m ? m.name : id;
  };
  async function loadMe() {
    try {
      const me = await api('GET', '/api/me');
      state.team = Array.isArray(me.team) ? me.team : [];
      if (Array.isArray(me.outcomes) && me.outcomes.length) state.outcomes = me.outcomes;
      state.me = me.agent || null;
      state.agent = state.me ? state.me.id : (localStorage.getItem('xiaoer.agent') || 'a-1');
      tid('me').dataset.agent = state.agent;
      tid('me-name').textContent = state.me ? `${state.me.name} (${state.me.id})` : state.agent;
      const role = state.me ? state.me.role : 'agent';
      tid('me-role').textContent = role === 'supervisor' ? '主管 Supervisor' : '客服 Agent';
      tid('me-role').dataset.role = role;
    } catch (err) {
      showError(`无法确认身份 Could not load who you are: ${err.message}`);
    }
    renderQueue();
    renderDetail();
  }

  function showError(text) {
    const banner = tid('page-error');
    banner.textContent = text;
    banner.hidden = !text;
  }

  // ---- unread: buyer messages since this agent last opened the chat ----
  const seenKey = () => `xiaoer.seen.${state.agent}`;
  function seenMap() {
    try { return JSON.parse(localStorage.getItem(seenKey()) || '{}') || {}; } catch { return {}; }
  }
  function markSeen(conv) {
    if (!conv || !Number.isFinite(conv.buyer_messages)) return;
    const seen = seenMap();
    if (seen[conv.id] === conv.buyer_messages) return;
    seen[conv.id] = conv.buyer_messages;
    const ids = Object.keys(seen);
    if (ids.length > 500) for (const id of ids.slice(0, ids.length - 500)) delete seen[id];
    localStorage.setItem(seenKey(), JSON.stringify(seen));
  }
  function unread(conv) {
    const n = Number(conv.buyer_messages) || 0;
    const seen = seenMap()[conv.id];
    if (seen === undefined) return conv.status === 'bot' ? 0 : n;
    return Math.max(0, n - seen);
  }

  // ---- notifications: title count, sound, desktop ----
  const baseTitle = () => `${state.shop || '店小二'} · 客服工作台 Agent console`;
  function renderTitle() {
    const waiting = state.all.filter((c) => c.status === 'escalated').length;
    document.title = waiting ? `(${waiting}) ${baseTitle()}` : baseTitle();
    document.documentElement.dataset.waiting = String(waiting);
  }
  const sound = { on: localStorage.getItem('xiaoer.sound') === 'on', ctx: null };
  function renderSound() {
    const b = tid('sound-toggle');
    b.setAttribute('aria-pressed', String(sound.on));
    b.textContent = sound.on ? '♪ 提示音 开 Sound on' : '♪ 提示音 关 Sound off';
  }
  tid('sound-toggle').addEventListener('click', () => {
    sound.on = !sound.on;
    localStorage.setItem('xiaoer.sound', sound.on ? 'on' : 'off');
    renderSound();
    if (sound.on) beep(1);
  });
  // Two short tones (three for high priority), made here: no audio file to fetch.
  function beep(count) {
    if (!sound.on) return;
    try {
      sound.ctx = sound.ctx || new AudioContext();
      const ctx = sound.ctx;
      for (let i = 0; i < count; i += 1) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.08;
        osc.connect(gain).connect(ctx.destination);
        const t = ctx.currentTime + i * 0.22;
        osc.start(t);
        osc.stop(t + 0.12);
      }
    } catch { /* no audio here */ }
  }
  const canNotify = () => typeof Notification !== 'undefined';
  function renderNotify() {
    const b = tid('notify-toggle');
    if (!canNotify()) { b.hidden = true; return; }
    const p = Notification.permission;
    b.dataset.permission = p;
    b.textContent = p === 'granted' ? '桌面通知 已开 Notifications on' : p === 'denied' ? '桌面通知 已拒绝 Blocked' : '开启桌面通知 Notify me';
    b.disabled = p !== 'default';
  }
  // Asked once: on the button, or on the agent's first click in the page.
  async function askNotify() {
    if (!canNotify() || Notification.permission !== 'default' || localStorage.getItem('xiaoer.notifyAsked')) return;
    localStorage.setItem('xiaoer.notifyAsked', '1');
    try { await Notification.requestPermission(); } catch { /* old API */ }
    renderNotify();
  }
  tid('notify-toggle').addEventListener('click', () => { localStorage.removeItem('xiaoer.notifyAsked'); askNotify(); });
  document.addEventListener('click', askNotify, { once: true });

  // New escalations since the last list: high priority first.
  function announce(list) {
    const escalated = list.filter((c) => c.status === 'escalated');
    const ids = new Set(escalated.map((c) => c.id));
    if (state.known === null) { state.known = ids; return; }
    const fresh = escalated.filter((c) => !state.known.has(c.id));
    state.known = ids;
    if (!fresh.length) return;
    const prio = { high: 0, normal: 1 };
    fresh.sort((a, b) => (prio[a.escalation?.priority] ?? 2) - (prio[b.escalation?.priority] ?? 2));
    const high = fresh.some((c) => c.escalation && c.escalation.priority === 'high');
    beep(high ? 3 : 2);
    if (!canNotify() || Notification.permission !== 'granted') return;
    for (const c of fresh.slice(0, 3)) {
      const esc = c.escalation || {};
      const buyer = (c.buyer && (c.buyer.name || c.buyer.id)) || '买家';
      try {
        const n = new Notification(`${esc.priority === 'high' ? '【高优先】' : ''}转人工 · ${buyer}`, {
          body: esc.summary || reasonText(esc.reason || ''), tag: c.id, requireInteraction: esc.priority === 'high',
        });
        n.onclick = () => { window.focus(); select(c.id); n.close(); };
      } catch { /* notifications need a secure context or were revoked */ }
    }
  }

  // ---- queue ----
  function waitNode(conv) {
    const since = conv.escalation && conv.escalation.since_ms;
    if (!since || conv.status !== 'escalated') return null;
    return el('span', { class: 'wait', dataset: { testid: 'queue-wait', since: String(since) }, text: `等待 ${duration(Date.now() - since)}` });
  }

  function queueItem(conv) {
    const esc = conv.escalation;
    const attention = conv.status !== 'bot';
    const buyer = (conv.buyer && (conv.buyer.name || conv.buyer.id)) || '买家';
    const priority = esc && esc.priority;
    const head = el('div', { class: 'q-head' },
      el('span', { class: 'q-buyer', text: buyer }),
      priority ? el('span', { class: `badge prio-${priority}`, dataset: { testid: 'queue-priority', priority }, text: PRIORITY_TEXT[priority] || priority }) : null,
      unread(conv) && conv.id !== state.selected ? el('span', { class: 'badge unread', dataset: { testid: 'unread' }, title: '未读买家消息 Unread buyer messages', text: String(unread(conv)) }) : null,
      conv.closed && conv.status === 'bot' ? el('span', { class: 'badge closed', dataset: { testid: 'queue-closed' }, text: `已结束 ${OUTCOME_TEXT[conv.closed.outcome] || conv.closed.outcome}` }) : null,
      el('span', { class: `badge status-${conv.status}${conv.agent && conv.agent === state.agent ? ' mine' : ''}`, text: conv.status === 'taken' && conv.agent ? `${agentName(conv.agent)} 接待中` : STATUS_TEXT[conv.status] || conv.status }));
    const last = conv.last ? el('p', { class: 'q-last', dataset: { testid: 'queue-last' } },
      el('span', { class: 'q-role', text: conv.last.role === 'buyer' ? '' : `${conv.last.role === 'agent' ? '客服' : conv.last.role === 'bot' ? '机器人' : '系统'}: ` }),
      conv.last.text) : null;
    const children = [head];
    if (attention && esc) {
      children.push(el('p', { class: 'q-reason' },
        el('span', { class: 'reason', dataset: { testid: 'queue-reason', reason: esc.reason || '' }, title: esc.reason || '', text: esc.reason ? reasonText(esc.reason) : '—' }),
        waitNode(conv)));
      if (esc.summary) children.push(el('p', { class: 'q-summary', dataset: { testid: 'queue-summary' }, text: esc.summary }));
    }
    if (last) children.push(last);
    children.push(el('p', { class: 'q-foot' },
      conv.item ? el('span', { class: 'q-item', text: `商品 ${conv.item.title}` }) : null,
      conv.updated_ms ? el('span', { class: 'q-time', dataset: { ago: String(conv.updated_ms) }, text: ago(conv.updated_ms) }) : null));
    const button = el('button', { type: 'button', class: 'q-button' }, ...children);
    button.addEventListener('click', () => select(conv.id));
    return el('li', {
      class: `queue-item${conv.id === state.selected ? ' selected' : ''}${attention ? '' : ' light'}`,
      dataset: { testid: 'queue-item', conversation: conv.id, status: conv.status },
    }, button);
  }

  function renderQueue() {
    const rank = { escalated: 0, taken: 1 };
    const prio = { high: 0, normal: 1 };
    const attention = state.conversations.filter((c) => c.status !== 'bot').sort((a, b) =>
      (rank[a.status] ?? 2) - (rank[b.status] ?? 2)
      || (prio[a.escalation?.priority] ?? 2) - (prio[b.escalation?.priority] ?? 2)
      || (a.escalation?.since_ms ?? a.updated_ms ?? 0) - (b.escalation?.since_ms ?? b.updated_ms ?? 0));
    const others = state.conversations.filter((c) => c.status === 'bot');
    tid('queue').replaceChildren(...attention.map(queueItem));
    tid('queue-bot').replaceChildren(...others.map(queueItem));
    tid('queue-count').textContent = String(attention.length);
    tid('bot-count').textContent = String(others.length);
    tid('queue-empty').hidden = attention.length > 0;
    tid('bot-empty').hidden = others.length > 0;
    tid('queue').dataset.filtered = String(Boolean(state.query || state.filter));
    renderTitle();
  }

  function setBotStatus(connected) {
    const node = tid('bot-status');
    node.dataset.connected = String(connected);
    node.textContent = connected ? '● 机器人在线 Bot online' : '● 机器人离线 Bot offline';
    tid('bot-offline').hidden = connected;
  }

  // The operator's health: the files in force failed to reload.
  function setReloadProblem(problem) {
    const box = tid('reload-problem');
    box.hidden = !problem;
    tid('reload-problem-text').textContent = problem || '';
  }

  function listUrl(withFilters) {
    const params = new URLSearchParams();
    if (withFilters && state.query) params.set('q', state.query);
    if (withFilters && state.filter) params.set('filter', state.filter);
    const qs = params.toString();
    return qs ? `/api/conversations?${qs}` : '/api/conversations';
  }

  async function refreshList() {
    if (state.listBusy) { state.listAgain = true; return; }
    state.listBusy = true;
    try {
      do {
        state.listAgain = false;
        const filtered = Boolean(state.query || state.filter);
        const [data, shown] = await Promise.all([
          api('GET', listUrl(false)),
          filtered ? api('GET', listUrl(true)) : null,
        ]);
        state.all = Array.isArray(data.conversations) ? data.conversations : [];
        state.conversations = shown ? (Array.isArray(shown.conversations) ? shown.conversations : []) : state.all;
        setBotStatus(Boolean(data.bot_connected));
        setReloadProblem(data.reload_problem);
        announce(state.all);
        renderQueue();
      } while (state.listAgain);
    } catch (err) {
      showError(`无法加载会话列表 Could not load conversations: ${err.message}`);
    } finally {
      state.listBusy = false;
    }
  }

  // ---- finding chats: search and filters ----
  let searchTimer = null;
  tid('search').addEventListener('input', (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.query = e.target.value.trim(); refreshList(); }, 200);
  });
  for (const button of document.querySelectorAll('[data-testid="filter"]')) {
    button.addEventListener('click', () => {
      state.filter = button.dataset.filter || '';
      for (const b of document.querySelectorAll('[data-testid="filter"]')) {
        b.setAttribute('aria-pressed', String(b === button));
      }
      refreshList();
    });
  }

  // ---- view: chats or report ----
  const REPORT_HASH = 'report';
  function setView(view) {
    const report = view === 'report';
    state.view = report ? 'report' : 'chats';
    $('.console').dataset.view = state.view;
    for (const [id, on] of [['tab-chats', !report], ['tab-report', report]]) {
      const tab = tid(id);
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    tid('detail').hidden = report;
    tid('report').hidden = !report;
  }

  function showChats() {
    setView('chats');
    const hash = state.selected ? `#${encodeURIComponent(state.selected)}` : location.pathname + location.search;
    history.replaceState(null, '', hash);
    renderDetail();
  }

  function showReport() {
    const was = state.view;
    setView('report');
    if (location.hash !== `#${REPORT_HASH}`) history.replaceState(null, '', `#${REPORT_HASH}`);
    if (was !== 'report' || !report.data) refreshReport();
  }

  tid('tab-chats').addEventListener('click', showChats);
  tid('tab-report').addEventListener('click', showReport);
  $('.tabs').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    if (state.view === 'report') { showChats(); tid('tab-chats').focus(); } else { showReport(); tid('tab-report').focus(); }
  });

  // ---- selected conversation ----
  function select(id) {
    setView('chats');
    if (state.selected !== id) {
      state.selected = id;
      state.conv = null;
      tid('history').replaceChildren();
      tid('agent-input').value = '';
      draft.active = null;
      hideQuick();
      ctx.data = null;
    }
    if (location.hash !== `#${id}`) history.replaceState(null, '', `#${encodeURIComponent(id)}`);
    renderQueue();
    renderDetail();
    refreshConv();
  }

  async function refreshConv() {
    if (!state.selected) return;
    if (state.convBusy) { state.convAgain = true; return; }
    state.convBusy = true;
    try {
      do {
        state.convAgain = false;
        const id = state.selected;
        try {
          const conv = await api('GET', `/api/conversations/${encodeURIComponent(id)}`);
          if (id === state.selected) { state.conv = conv; markSeen(conv); }
        } catch (err) {
          if (id === state.selected) { state.conv = null; showError(`会话 ${id}: ${err.message}`); }
        }
        renderDetail();
        refreshContext();
      } while (state.convAgain);
    } finally {
      state.convBusy = false;
    }
  }

  function decisionNode(d, acked) {
    const parts = [];
    if (d) {
      parts.push(el('span', { class: `badge action-${d.action}`, dataset: { testid: 'decision-action' }, text: ACTION_TEXT[d.action] || d.action }));
      const intents = Array.isArray(d.intents) ? d.intents : [];
      parts.push(el('span', { class: 'intents', dataset: { testid: 'decision-intents' } },
        ...(intents.length ? intents.map((i) => el('code', { class: 'intent', text: i })) : [el('code', { class: 'intent', text: '—' })])));
      if (typeof d.confidence === 'number') {
        parts.push(el('span', { class: 'conf', dataset: { testid: 'decision-confidence' }, text: `置信度 ${d.confidence.toFixed(2)}` }));
      }
      if (d.reason) parts.push(el('span', { class: 'reason', title: d.reason, text: `原因 ${reasonText(d.reason)}` }));
      if (d.priority) parts.push(el('span', { class: `badge prio-${d.priority}`, text: PRIORITY_TEXT[d.priority] || d.priority }));
    } else {
      parts.push(el('span', { class: 'muted', text: '机器人未判断 · no decision' }));
    }
    // Acknowledged: the bot stored the message (not "read by the buyer").
    if (acked === true) parts.push(el('span', { class: 'acked', dataset: { testid: 'acked' }, title: '机器人已收到并存档 · stored by the bot', text: '✓ 机器人已存档' }));
    else if (acked === false) parts.push(el('span', { class: 'muted', title: '机器人尚未存档 · not yet stored by the bot', text: '待存档' }));
    return el('div', { class: 'decision', dataset: { testid: 'decision' } }, ...parts);
  }

  // ---- teaching: an escalated message becomes an example of the right intent ----
  // The intents come from GET /api/intents (404: this bot runs on built-in
  // files, so there is nothing to teach into, and no button is shown). The
  // open forms live in `teach.forms`, so re-rendering the history keeps them.
  const teach = { intents: null, loading: false, forms: new Map() };

  async function loadIntents() {
    if (teach.intents || teach.loading) return;
    teach.loading = true;
    try {
      const data = await api('GET', '/api/intents');
      teach.intents = Array.isArray(data && data.intents) ? data.intents : [];
    } catch {
      teach.intents = [];
    } finally {
      teach.loading = false;
    }
    renderDetail();
    renderReport();
  }

  // texts: the buyer messages to teach (one, or a report cluster's examples).
  function teachNode(key, texts) {
    if (!teach.intents || !teach.intents.length) return null;
    const form = teach.forms.get(key);
    if (!form) {
      return el('div', { class: 'teach' }, el('button', {
        type: 'button', class: 'btn btn-small', dataset: { testid: 'teach-open' },
        title: '把这条消息教给机器人 · Teach the bot what this message means',
        onclick: () => { teach.forms.set(key, { intent: '', busy: false, result: '', ok: null }); renderDetail(); renderReport(); },
      }, texts.length > 1 ? `教机器人这 ${texts.length} 条 Teach these` : '教机器人 Teach'));
    }
    const select = el('select', {
      class: 'input input-small', dataset: { testid: 'teach-intent' }, 'aria-label': '应该是哪个意图 Which intent',
      onchange: (e) => { form.intent = e.target.value; },
    }, el('option', { value: '', text: '选择意图… Pick the intent' }),
    ...teach.intents.map((i) => el('option', { value: String(i.id), text: `${i.id} — ${i.description || ''}` })));
    select.value = form.intent;
    const save = el('button', {
      type: 'button', class: 'btn btn-small btn-primary', dataset: { testid: 'teach-save' }, disabled: form.busy,
      onclick: async () => {
        if (!form.intent) { form.result = '请先选择意图 · Pick an intent first'; form.ok = false; renderDetail(); renderReport(); return; }
        form.busy = true;
        const done = [], refused = [];
        for (const text of texts) {
          try {
            const r = await api('POST', '/api/teach', { text, intent: form.intent, agent: state.agent });
            done.push(r.taught);
          } catch (err) {
            refused.push(`「${text}」: ${err.message}`);
          }
        }
        form.busy = false;
        form.ok = refused.length === 0;
        form.result = [
          done.length ? `已加入 Added: ${done.join(', ')}` : '',
          refused.length ? `未加入 Refused: ${refused.join('; ')}` : '',
        ].filter(Boolean).join(' · ');
        renderDetail(); renderReport();
      },
    }, form.busy ? '保存中… Saving' : '保存 Save');
    const cancel = el('button', {
      type: 'button', class: 'btn btn-small', dataset: { testid: 'teach-cancel' },
      onclick: () => { teach.forms.delete(key); renderDetail(); renderReport(); },
    }, form.result ? '关闭 Close' : '取消 Cancel');
    return el('div', { class: 'teach teach-open' },
      select, save, cancel,
      form.result ? el('p', {
        class: form.ok ? 'teach-result ok' : 'teach-result refused', role: 'status',
        dataset: { testid: 'teach-result', ok: String(form.ok) }, text: form.result,
      }) : null);
  }

  // A marker in the history: who took over, handed back, reassigned, closed,
  // or marked an answer wrong.
  function markerItem(msg) {
    const who = msg.name || '';
    const text = {
      takeover: `${who} 接管了会话 · took over`,
      release: `${who} 交还给机器人 · handed back to the bot`,
      reassign: `改派 Reassigned — ${msg.text}`,
      close: `${who} 结束了会话 · closed: ${OUTCOME_TEXT[msg.text] || msg.text}`,
      wrong: `${who} 标记机器人回答有误 · marked the bot's answer wrong${msg.text ? `: 「${msg.text}」` : ''}`,
      catalog: `${who} 保存到商品资料 · saved to the catalog: ${msg.text}`,
    }[msg.marker] || `${who} ${msg.text}`;
    return el('li', { class: `msg msg-event marker-${msg.marker || 'other'}`, dataset: { testid: 'marker', marker: msg.marker || '', id: msg.id || '' } },
      el('span', { class: 'marker-text' }, el('span', { text }),
        msg.ts_ms ? el('time', { class: 'msg-time', text: ` ${clock(msg.ts_ms)}` }) : null));
  }

  function noteItem(msg) {
    return el('li', { class: 'msg msg-note', dataset: { testid: 'note', id: msg.id || '' } },
      el('div', { class: 'bubble' },
        el('div', { class: 'msg-meta' },
          el('span', { class: 'msg-who', text: `内部备注 Note · ${msg.name || ''}` }),
          el('span', { class: 'muted', text: '买家看不到 · not shown to the buyer' }),
          msg.ts_ms ? el('time', { class: 'msg-time', text: clock(msg.ts_ms) }) : null),
        el('div', { class: 'msg-text', dataset: { testid: 'msg-text' }, text: msg.text })));
  }

  // Under a bot answer: mark it wrong (it feeds the report), or see who did.
  function wrongNode(msg, conv) {
    if (msg.wrong) {
      return el('div', { class: 'decision wrong-mark', dataset: { testid: 'marked-wrong' } },
        el('span', { class: 'badge prio-high', text: '答错' }), ` ${msg.wrong} 标记为回答有误 · marked wrong`);
    }
    if (!msg.in_reply_to) return null;
    const owned = conv.status === 'taken' && conv.agent && conv.agent !== state.agent;
    if (owned) return null;
    return el('div', { class: 'wrong-tools' }, el('button', {
      type: 'button', class: 'btn btn-small btn-ghost', dataset: { testid: 'mark-wrong' },
      title: '机器人这条回答不对：记入报告，用来教机器人 · The bot got this wrong: it goes to the report',
      onclick: () => action('wrong', { agent: state.agent, message: msg.id }),
    }, '✗ 标记答错 Wrong answer'));
  }

  function historyItem(msg, conv) {
    if (msg.role === 'event') return markerItem(msg);
    if (msg.role === 'note') return noteItem(msg);
    const role = ['buyer', 'bot', 'agent', 'system'].includes(msg.role) ? msg.role : 'system';
    let label;
    if (role === 'buyer') label = msg.name || (conv.buyer && conv.buyer.name) || '买家';
    else if (role === 'agent') label = `客服 ${msg.name || agentName(conv.agent || '')}`.trim();
    else label = ROLE_LABEL[role];
    const bubble = el('div', { class: 'bubble' },
      el('div', { class: 'msg-meta' },
        el('span', { class: 'msg-who', dataset: { testid: 'msg-who' }, text: label }),
        msg.ts_ms ? el('time', { class: 'msg-time', text: clock(msg.ts_ms) }) : null),
      el('div', { class: 'msg-text', dataset: { testid: 'msg-text' }, text: msg.text }));
    const escalated = role === 'buyer' && msg.decision && msg.decision.action === 'escalate';
    return el('li', { class: `msg msg-${role}`, dataset: { testid: 'msg', role, id: msg.id || '' } },
      bubble, role === 'buyer' ? decisionNode(msg.decision, msg.acked) : null,
      role === 'bot' ? wrongNode(msg, conv) : null,
      escalated ? teachNode(`m:${conv.id}/${msg.id || msg.ts_ms}`, [String(msg.text || '')]) : null);
  }

  function renderDetail() {
    const conv = state.conv;
    tid('detail-empty').hidden = Boolean(state.selected);
    $('.detail-body').hidden = !state.selected;
    if (!state.selected) return;
    const summary = state.conversations.find((c) => c.id === state.selected);
    const c = conv || summary;
    if (!c) { tid('detail-title').textContent = state.selected; return; }

    const buyer = (c.buyer && (c.buyer.name || c.buyer.id)) || '买家';
    tid('detail-title').textContent = buyer;
    tid('detail-meta').textContent = [c.id, c.buyer && c.buyer.id, c.item && `商品 ${c.item.title}`].filter(Boolean).join(' · ');

    const status = tid('conv-status');
    status.dataset.status = c.status;
    status.className = `badge status-${c.status}`;
    status.dataset.agent = c.agent || '';
    status.textContent = c.status === 'taken' && c.agent ? `${agentName(c.agent)} 接待中 Taken` : STATUS_TEXT[c.status] || c.status;
    if (c.closed && c.status === 'bot') {
      status.dataset.closed = c.closed.outcome;
      status.textContent = `已结束 Closed · ${OUTCOME_TEXT[c.closed.outcome] || c.closed.outcome}`;
    } else {
      delete status.dataset.closed;
    }

    const esc = c.escalation;
    const box = tid('escalation');
    box.hidden = !esc || c.status === 'bot';
    if (esc) {
      box.replaceChildren(...[
        esc.priority ? el('span', { class: `badge prio-${esc.priority}`, text: PRIORITY_TEXT[esc.priority] || esc.priority }) : null,
        el('strong', { class: 'reason', title: esc.reason || '', text: ` ${reasonText(esc.reason || '')} ` }),
        waitNode(c),
        el('p', { class: 'summary', text: esc.summary || '' }),
      ].filter(Boolean));
    }

    // Ownership: the owner replies, notes, closes and hands back; others
    // see who has it (a supervisor may reassign).
    const taken = c.status === 'taken';
    const mine = taken && c.agent === state.agent;
    const othersChat = taken && !mine;
    tid('takeover').hidden = taken;
    tid('release').hidden = !mine;
    tid('close-form').hidden = !mine;
    const outcome = tid('close-outcome');
    if (outcome.options.length !== state.outcomes.length) {
      outcome.replaceChildren(...state.outcomes.map((o) => el('option', { value: o, text: OUTCOME_TEXT[o] || o })));
    }
    const supervisor = state.me && state.me.role === 'supervisor';
    tid('assign-form').hidden = !supervisor || c.status === 'bot';
    const assignTo = tid('assign-to');
    const others = state.team.filter((a) => a.id !== c.agent);
    if (assignTo.dataset.for !== `${c.id}/${c.agent}/${others.length}`) {
      assignTo.dataset.for = `${c.id}/${c.agent}/${others.length}`;
      assignTo.replaceChildren(...others.map((a) => el('option', { value: a.id, text: `${a.name} (${a.id})` })));
    }
    const composer = tid('agent-composer');
    composer.hidden = othersChat;
    if (!mine && composer.dataset.mode === 'reply') { setMode('note'); composer.dataset.forced = '1'; }
    if (mine && composer.dataset.forced) { delete composer.dataset.forced; setMode('reply'); }
    tid('mode-reply').disabled = !mine;
    tid('draft').hidden = !mine;
    const note = tid('composer-note');
    if (othersChat) {
      note.hidden = false;
      note.dataset.owner = c.agent;
      note.textContent = `此会话由 ${agentName(c.agent)} 接管，只有 TA 能回复、备注、结束或交还 · Taken by ${agentName(c.agent)}: only they can act here${supervisor ? '（主管可改派 · you may reassign）' : ''}`;
    } else if (!taken) {
      note.hidden = false;
      delete note.dataset.owner;
      note.textContent = '接管后才能回复买家（可先写内部备注） · Take over to reply (notes are open to all)';
    } else {
      note.hidden = true;
    }
    renderDraft();

    if (conv) {
      const list = tid('history');
      const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      const prevCount = list.children.length;
      list.replaceChildren(...(conv.messages || []).map((m) => historyItem(m, conv)));
      if (atBottom || prevCount === 0 || list.children.length > prevCount) list.scrollTop = list.scrollHeight;
    }
  }

  async function action(kind, body) {
    if (!state.selected) return null;
    showError('');
    try {
      const res = await api('POST', `/api/conversations/${encodeURIComponent(state.selected)}/${kind}`, body);
      await Promise.all([refreshConv(), refreshList()]);
      return res;
    } catch (err) {
      showError(`操作失败 ${kind}: ${err.message}`);
      refreshConv();
      return null;
    }
  }

  tid('takeover').addEventListener('click', async () => {
    await action('takeover', { agent: state.agent });
    tid('agent-input').focus();
  });
  tid('release').addEventListener('click', () => action('release', { agent: state.agent }));
  tid('close').addEventListener('click', () => action('close', { agent: state.agent, outcome: tid('close-outcome').value }));
  tid('assign').addEventListener('click', () => action('assign', { agent: state.agent, to: tid('assign-to').value }));
  const composer = tid('agent-composer');
  const replyInput = tid('agent-input');

  // Reply to the buyer, or an internal note only agents see.
  function setMode(mode) {
    composer.dataset.mode = mode;
    tid('mode-reply').setAttribute('aria-pressed', String(mode === 'reply'));
    tid('mode-note').setAttribute('aria-pressed', String(mode === 'note'));
    replyInput.placeholder = mode === 'note'
      ? '内部备注，买家看不到… · Internal note, never sent to the buyer'
      : '回复买家… (Enter 发送, Shift+Enter 换行, / 快捷回复)';
    tid('agent-send').textContent = mode === 'note' ? '保存备注 Save note' : '发送 Send';
  }
  tid('mode-reply').addEventListener('click', () => { delete composer.dataset.forced; setMode('reply'); replyInput.focus(); });
  tid('mode-note').addEventListener('click', () => { delete composer.dataset.forced; setMode('note'); replyInput.focus(); });

  composer.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (quick.open && quick.items.length) { pickQuick(quick.index); return; }
    const text = replyInput.value.trim();
    if (!text) return;
    replyInput.value = '';
    const kind = composer.dataset.mode === 'note' ? 'note' : 'reply';
    const res = await action(kind, { agent: state.agent, text });
    if (!res && !replyInput.value) replyInput.value = text;
    if (res && kind === 'reply') { draft.active = null; renderDraft(); }
  });
  replyInput.addEventListener('keydown', (e) => {
    if (quick.open && ['ArrowDown', 'ArrowUp', 'Escape', 'Tab'].includes(e.key)) {
      e.preventDefault();
      if (e.key === 'Escape') { hideQuick(); return; }
      const n = quick.items.length;
      if (!n) return;
      if (e.key === 'Tab') { pickQuick(quick.index); return; }
      quick.index = (quick.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      renderQuick();
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });

  // ---- quick replies (replies/_agent.toml): "/" searches them ----
  const quick = { all: null, open: false, items: [], index: 0, start: -1 };
  async function loadQuick() {
    try {
      const data = await api('GET', '/api/quick-replies');
      quick.all = Array.isArray(data.replies) ? data.replies : [];
    } catch { quick.all = []; }
  }
  // The "/word" being typed at the caret, if any.
  function slashQuery() {
    const v = replyInput.value;
    const caret = replyInput.selectionStart ?? v.length;
    const before = v.slice(0, caret);
    const at = before.lastIndexOf('/');
    if (at < 0) return null;
    if (at > 0 && !/\s/.test(before[at - 1])) return null;
    const q = before.slice(at + 1);
    if (/\s/.test(q)) return null;
    return { at, q: q.toLowerCase(), caret };
  }
  function hideQuick() {
    quick.open = false;
    tid('quick-list').hidden = true;
  }
  function renderQuick() {
    const list = tid('quick-list');
    list.replaceChildren(...quick.items.map((r, i) => el('li', {
      class: `quick-item${i === quick.index ? ' active' : ''}`, role: 'option', 'aria-selected': String(i === quick.index),
      dataset: { testid: 'quick-item', key: r.key },
      onmousedown: (e) => { e.preventDefault(); pickQuick(i); },
    }, el('code', { class: 'quick-key', text: `/${r.key}` }), el('strong', { text: ` ${r.title} ` }), el('span', { class: 'muted', text: r.text }))));
    if (!quick.items.length) list.append(el('li', { class: 'empty', text: quick.all && quick.all.length ? '没有匹配的快捷回复 · No match' : '没有快捷回复：在 replies/_agent.toml 里添加 · None: add them to replies/_agent.toml' }));
    list.hidden = false;
    quick.open = true;
  }
  async function updateQuick() {
    const s = slashQuery();
    if (!s) { hideQuick(); return; }
    if (quick.all === null) await loadQuick();
    quick.start = s.at;
    quick.items = quick.all.filter((r) => !s.q
      || String(r.key).toLowerCase().includes(s.q)
      || String(r.title).toLowerCase().includes(s.q)
      || String(r.text).toLowerCase().includes(s.q)).slice(0, 8);
    quick.index = Math.min(quick.index, Math.max(0, quick.items.length - 1));
    renderQuick();
  }
  function pickQuick(i) {
    const r = quick.items[i];
    const s = slashQuery();
    if (!r || !s) { hideQuick(); return; }
    const v = replyInput.value;
    replyInput.value = v.slice(0, s.at) + r.text + v.slice(s.caret);
    const caret = s.at + r.text.length;
    replyInput.setSelectionRange(caret, caret);
    hideQuick();
    replyInput.focus();
  }
  replyInput.addEventListener('input', () => { quick.index = 0; updateQuick(); });
  replyInput.addEventListener('blur', () => setTimeout(hideQuick, 150));

  // ---- the bot's draft for the last buyer message: edit it, or discard it ----
  const draft = { active: null, busy: false };
  function renderDraft() {
    const bar = tid('draft-bar');
    bar.hidden = !draft.active;
    if (draft.active) {
      tid('draft-label').textContent = draft.active.text
        ? `机器人草稿（${draft.active.intent || '—'}）已放入输入框：修改后发送，或放弃 · The bot's draft is in the composer: edit and send, or discard`
        : `${draft.active.why || '机器人没有草稿 · no draft'}`;
      bar.dataset.state = draft.active.text ? 'ready' : 'none';
    }
  }
  tid('draft').addEventListener('click', async () => {
    if (!state.selected || draft.busy) return;
    draft.busy = true;
    try {
      const d = await api('GET', `/api/conversations/${encodeURIComponent(state.selected)}/draft`);
      draft.active = { text: d.text || '', intent: d.intent || '', why: d.why ? `机器人没有可用的草稿 · ${d.why}` : '' };
      if (d.text) {
        setMode('reply');
        replyInput.value = d.text;
        replyInput.focus();
      }
    } catch (err) {
      showError(`无法生成草稿 Could not draft: ${err.message}`);
    } finally {
      draft.busy = false;
      renderDraft();
    }
  });
  tid('draft-discard').addEventListener('click', () => {
    if (draft.active && draft.active.text && replyInput.value === draft.active.text) replyInput.value = '';
    draft.active = null;
    renderDraft();
  });

  // ---- buyer context: a side panel of sections; other scripts add theirs ----
  // window.xiaoerDesk.addSection({ id, title, render(context, conversation) -> Node | null })
  // renders under the built-in ones (item, earlier chats) whenever a chat is shown.
  const ctx = { data: null, seq: 0, sections: [] };
  // The catalog's facts about the item (from the bot's catalog files), when it has them.
  function factsNode(f) {
    if (!f || typeof f !== 'object') return null;
    const attrs = Array.isArray(f.attributes) ? f.attributes : [];
    const variants = Array.isArray(f.variants) ? f.variants : [];
    const stockText = (v) => (v.stock === 0
      ? `售罄${v.restock ? ` · ${v.restock} 到货` : ''}` : (Number.isFinite(v.stock) ? `${v.stock} 件` : '库存未知'));
    return el('div', { class: 'ctx-facts', dataset: { testid: 'context-facts', item: String(f.id || '') } },
      Number.isFinite(f.price) ? el('p', { text: `价格 ¥${f.price}` }) : null,
      attrs.length ? el('ul', { class: 'ctx-attrs' }, ...attrs.map(([k, v]) => el('li', { text: `${k}: ${v}` }))) : null,
      variants.length ? el('ul', { class: 'ctx-variants' }, ...variants.map((v) => el('li', {
        dataset: { testid: 'context-variant', stock: String(v.stock ?? '') },
        text: `${v.label}${Number.isFinite(v.price) ? ` ¥${v.price}` : ''} · ${stockText(v)}`,
      }))) : null);
  }
  function itemSection(c) {
    const item = c.item;
    if (!item) return el('p', { class: 'empty', text: '买家没有在看商品 · No item' });
    const opts = item.options && typeof item.options === 'object'
      ? Object.entries(item.options).map(([k, v]) => `${k}: ${v}`).join(' · ') : '';
    return el('div', { class: 'ctx-item', dataset: { testid: 'context-item', item: String(item.id || '') } },
      el('strong', { text: String(item.title || item.id || '') }),
      el('p', { class: 'muted', text: [item.id, opts, Number.isFinite(item.price) ? `¥${item.price}` : ''].filter(Boolean).join(' · ') }),
      factsNode(c.facts));
  }
  function earlierSection(c) {
    const list = Array.isArray(c.earlier) ? c.earlier : [];
    if (!list.length) return el('p', { class: 'empty', dataset: { testid: 'context-earlier-empty' }, text: '没有其他会话 · No earlier chats' });
    return el('ul', { class: 'ctx-earlier' }, ...list.map((e) => el('li', { dataset: { testid: 'context-earlier', conversation: String(e.id) } },
      el('a', { class: 'link', href: `#${encodeURIComponent(String(e.id))}`, text: String(e.id) }),
      el('span', { class: `badge status-${e.status}`, text: e.closed ? `已结束 ${OUTCOME_TEXT[e.closed.outcome] || ''}` : STATUS_TEXT[e.status] || e.status }),
      e.match === 'name' ? el('span', { class: 'muted', title: '同名买家（可能是同一人） · same name', text: '同名' }) : null,
      e.last ? el('p', { class: 'ctx-last', text: String(e.last.text || '') }) : null,
      Number.isFinite(e.updated_ms) ? whenNode(e.updated_ms) : null)));
  }
  const BUILT_IN = [
    { id: 'item', title: '正在看的商品 Item', render: itemSection },
    { id: 'earlier', title: '历史会话 Earlier chats', render: earlierSection },
  ];
  function renderContext() {
    const root = tid('context-sections');
    tid('context-empty').hidden = Boolean(state.selected && ctx.data);
    if (!state.selected || !ctx.data) { root.replaceChildren(); return; }
    const conv = state.conv;
    root.replaceChildren(...[...BUILT_IN, ...ctx.sections].map((sec) => {
      let body = null;
      try { body = sec.render(ctx.data, conv); } catch (err) { body = el('p', { class: 'empty', text: `出错 ${err.message}` }); }
      if (!body) return null;
      return el('section', { class: 'ctx-section', dataset: { testid: `context-${sec.id}-section` } },
        el('h3', { text: sec.title }), body);
    }).filter(Boolean));
  }
  async function refreshContext() {
    if (!state.selected) return;
    const mine = ++ctx.seq;
    const id = state.selected;
    try {
      const data = await api('GET', `/api/conversations/${encodeURIComponent(id)}/context`);
      if (mine !== ctx.seq || id !== state.selected) return;
      ctx.data = data;
    } catch { if (mine === ctx.seq) ctx.data = null; }
    renderContext();
  }
  window.xiaoerDesk = Object.freeze({
    addSection(section) {
      if (!section || typeof section.render !== 'function' || !section.id) return;
      ctx.sections.push({ id: String(section.id), title: String(section.title || section.id), render: section.render });
      renderContext();
    },
    api,
    el,
  });

  // ---- report: what the bot could not answer, grouped ----
  const REPORT_RANGES = [1, 24, 168];
  const savedHours = Number(localStorage.getItem('xiaoer.reportHours'));
  const report = {
    hours: REPORT_RANGES.includes(savedHours) ? savedHours : 24,
    data: null, seq: 0, last: 0, timer: null,
  };
  const count = (n) => (Number.isFinite(Number(n)) ? Number(n).toLocaleString('zh-CN') : '—');

  // The shop's Chinese label first, the id beside it (never broken mid-word).
  function reasonLabel(reason, n) {
    const labels = (report.data && report.data.labels) || {};
    const label = labels[reason] || REASON_TEXT[reason];
    return el('span', { class: 'reason-label', dataset: { testid: 'reason-label' } },
      label ? el('span', { class: 'reason-zh', text: label }) : null,
      el('code', { class: 'reason', text: reason }),
      n === undefined ? null : el('span', { class: 'chip-count', text: ` ×${count(n)}` }));
  }

  function renderRange() {
    for (const button of document.querySelectorAll('[data-testid="report-range"]')) {
      button.setAttribute('aria-pressed', String(Number(button.dataset.hours) === report.hours));
    }
  }

  function exampleNode(ex) {
    const conv = String(ex.conversation || '');
    const link = conv ? el('a', {
      class: 'link ex-conv', href: `#${encodeURIComponent(conv)}`, title: `打开会话 Open ${conv}`,
      dataset: { testid: 'example-link', conversation: conv }, text: conv,
    }) : null;
    return el('li', { class: 'example', dataset: { testid: 'cluster-example', conversation: conv } },
      el('span', { class: 'ex-text', title: String(ex.text ?? ''), dataset: { testid: 'example-text' }, text: String(ex.text ?? '') }),
      el('span', { class: 'ex-meta' }, link, Number.isFinite(ex.ts_ms) ? whenNode(ex.ts_ms) : null));
  }

  function clusterNode(c) {
    const size = Number(c.size) || 0;
    const examples = (Array.isArray(c.examples) ? c.examples : []).slice(0, 3);
    const reasons = Array.isArray(c.reasons) ? c.reasons : [];
    const suggest = typeof c.suggest === 'string' && c.suggest ? c.suggest : null;
    const more = size - examples.length;
    return el('li', { class: 'cluster', dataset: { testid: 'report-cluster', size: String(size) } },
      el('div', { class: 'cluster-head' },
        el('span', { class: 'size-badge', title: `${size} 条消息 messages`, dataset: { testid: 'cluster-size' }, text: `${count(size)} 条` }),
        el('span', { class: 'chips' }, ...reasons.map((r) => el('span', {
          class: 'chip', dataset: { testid: 'cluster-reason', reason: String(r.reason) },
        }, reasonLabel(String(r.reason), r.count)))),
        Number.isFinite(c.latest_ms) ? el('span', { class: 'cluster-time' }, '最近 ', whenNode(c.latest_ms, 'cluster-latest')) : null),
      el('p', { class: 'cluster-suggest-line' },
        suggest ? '建议加入 Add to ' : '',
        el('code', {
          class: suggest ? 'file' : 'file file-none', dataset: { testid: 'cluster-suggest', suggest: suggest || '' },
          text: suggest ? `intents/${suggest}.toml` : '无相近意图，可新建一个意图文件 · No close intent: add a new one',
        })),
      el('ul', { class: 'examples' }, ...examples.map(exampleNode)),
      teachNode(`c:${examples.map((e) => String(e.text ?? '')).join('\u0000')}`, examples.map((e) => String(e.text ?? '')).filter(Boolean)),
      more > 0 ? el('p', { class: 'more', text: `还有 ${count(more)} 条类似消息 · ${count(more)} more like these` }) : null);
  }

  function renderReport() {
    const node = tid('report');
    const r = report.data;
    if (!r) return;
    node.dataset.hours = String(r.hours);
    tid('report-loading').hidden = true;
    $('.report-content', node).hidden = false;
    const rate = typeof r.automation_rate === 'number' && Number.isFinite(r.automation_rate) ? r.automation_rate : null;
    const automation = tid('report-automation');
    automation.textContent = rate === null ? '—' : `${(rate * 100).toFixed(1)}%`;
    automation.dataset.value = rate === null ? '' : String(rate);
    tid('report-automation-bar').value = rate === null ? 0 : Math.min(1, Math.max(0, rate));
    tid('report-decided').textContent = Number(r.decided) > 0
      ? `共 ${count(r.decided)} 条买家消息 · of ${count(r.decided)} decided`
      : '这段时间机器人没有判断过消息 · Nothing decided in this range';
    for (const [id, value] of [['report-replied', r.replied], ['report-escalated', r.escalated]]) {
      tid(id).textContent = count(value);
      tid(id).dataset.value = String(Number(value) || 0);
    }
    const from = Number(r.from_ms), to = Number(r.to_ms);
    tid('report-period').textContent = Number.isFinite(from) && Number.isFinite(to) && from && to
      ? `${stamp(from)} – ${stamp(to)}` : '\u00a0';

    const reasons = Array.isArray(r.reasons) ? r.reasons : [];
    const total = reasons.reduce((sum, x) => sum + (Number(x.count) || 0), 0);
    $('tbody', tid('report-reasons')).replaceChildren(...reasons.map((x) => {
      const n = Number(x.count) || 0;
      return el('tr', { dataset: { testid: 'report-reason', reason: String(x.reason) } },
        el('td', {}, reasonLabel(String(x.reason))),
        el('td', { class: 'num', dataset: { testid: 'reason-count' }, text: count(n) }),
        el('td', { class: 'share-col' }, el('progress', { class: 'share', max: String(total || 1), value: String(n), title: total ? `${Math.round((n / total) * 100)}%` : '' })));
    }));
    tid('report-reasons').hidden = !reasons.length;
    tid('reasons-empty').hidden = reasons.length > 0;

    const clusters = Array.isArray(r.clusters) ? r.clusters : [];
    tid('report-clusters').replaceChildren(...clusters.map(clusterNode));
    tid('report-empty').hidden = clusters.length > 0;
    tid('report-updated').textContent = `更新于 Updated ${clock(r.loaded_ms)}`;
  }

  // Loads the report for the chosen range; an answer to an older request is dropped.
  async function refreshReport() {
    const node = tid('report');
    const mine = ++report.seq;
    const hours = report.hours;
    report.last = Date.now();
    if (!report.data || report.data.hours !== hours) node.dataset.state = 'loading';
    node.setAttribute('aria-busy', 'true');
    try {
      const data = await api('GET', `/api/report?hours=${hours}`);
      if (mine !== report.seq) return;
      if (!data || typeof data !== 'object') throw new Error('empty answer');
      report.data = { ...data, hours, loaded_ms: Date.now() };
      if (data.labels && typeof data.labels === 'object') Object.assign(REASON_TEXT, data.labels);
      tid('report-error').hidden = true;
      renderReport();
      node.dataset.state = 'ready';
    } catch (err) {
      if (mine !== report.seq) return;
      const box = tid('report-error');
      box.textContent = `无法加载报告 Could not load the report: ${err.message}`;
      box.hidden = false;
      tid('report-loading').hidden = true;
      node.dataset.state = 'error';
    } finally {
      if (mine === report.seq) node.removeAttribute('aria-busy');
    }
  }

  // For live events: at most one refresh every 2 s while the report is shown.
  function refreshReportSoon() {
    if (state.view !== 'report' || report.timer) return;
    const wait = Math.max(0, report.last + 2000 - Date.now());
    report.timer = setTimeout(() => {
      report.timer = null;
      if (state.view === 'report') refreshReport();
    }, wait);
  }

  for (const button of document.querySelectorAll('[data-testid="report-range"]')) {
    button.addEventListener('click', () => {
      const hours = Number(button.dataset.hours);
      if (!REPORT_RANGES.includes(hours)) return;
      report.hours = hours;
      localStorage.setItem('xiaoer.reportHours', String(hours));
      renderRange();
      refreshReport();
    });
  }
  tid('report-refresh').addEventListener('click', () => refreshReport());
  renderRange();

  function fromLocationHash() {
    try { return decodeURIComponent(location.hash.slice(1)); } catch { return ''; }
  }
  // Example links are plain #conversation links; Back returns to the report.
  window.addEventListener('hashchange', () => {
    const target = fromLocationHash();
    if (target === REPORT_HASH) showReport();
    else if (target) select(target);
    else if (state.view === 'report') showChats();
  });

  // ---- live updates ----
  setInterval(() => {
    for (const node of document.querySelectorAll('[data-since]')) {
      node.textContent = `等待 ${duration(Date.now() - Number(node.dataset.since))}`;
    }
    for (const node of document.querySelectorAll('[data-ago]')) node.textContent = ago(Number(node.dataset.ago));
    for (const node of document.querySelectorAll('[data-when]')) node.textContent = when(Number(node.dataset.when));
  }, 1000);

  const source = new EventSource('/api/events');
  source.addEventListener('open', () => {
    showError('');
    refreshList();
    refreshConv();
    refreshReportSoon();
  });
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.OPEN) showError('与服务器的连接中断，正在重连… · Reconnecting to the server…');
  });
  source.addEventListener('message', (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    // A reload (or a failed one): the quick replies may have changed.
    if (ev.kind === 'health') quick.all = null;
    refreshList();
    // resync: this page fell behind the server's event queue; fetch all again.
    if (ev.kind === 'resync' || (ev.conversation && ev.conversation === state.selected)) refreshConv();
    else if (ev.conversation && ctx.data && Array.isArray(ctx.data.earlier) && ctx.data.earlier.some((e) => e.id === ev.conversation)) refreshContext();
    refreshReportSoon();
  });

  api('GET', '/api/shop').then((shop) => {
    if (shop && shop.name) {
      tid('shop-name').textContent = shop.name;
      state.shop = shop.name;
      renderTitle();
    }
  }, () => { /* the name is cosmetic */ });

  const fromHash = fromLocationHash();
  renderSound();
  renderNotify();
  setMode('reply');
  loadMe();
  loadIntents();
  refreshList();
  if (fromHash === REPORT_HASH) { renderDetail(); showReport(); } else if (fromHash) select(fromHash);
  else renderDetail();
})();
