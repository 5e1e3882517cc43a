// xiaoer agent console: the queue of escalated chats, the history with the bot's
// decisions, and take over / reply / hand back. Text goes in only through textContent.
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

  const STATUS_TEXT = { bot: '机器人接待 Bot', escalated: '待接管 Escalated', taken: '人工接待 Taken' };
  const PRIORITY_TEXT = { high: '高 High', normal: '普通 Normal' };
  const ACTION_TEXT = { reply: '回复 reply', escalate: '转人工 escalate' };
  const ROLE_LABEL = { bot: '店小二 (机器人)', system: '系统 System' };

  const state = {
    agent: '', conversations: [], selected: null, conv: null,
    listBusy: false, listAgain: false, convBusy: false, convAgain: false,
  };

  // ---- agent id ----
  const agentInput = tid('agent-id');
  state.agent = localStorage.getItem('xiaoer.agent') || 'a-1';
  agentInput.value = state.agent;
  agentInput.addEventListener('change', () => {
    const value = agentInput.value.trim();
    if (!value) { agentInput.value = state.agent; return; }
    state.agent = value;
    localStorage.setItem('xiaoer.agent', value);
    renderDetail();
  });

  function showError(text) {
    const banner = tid('page-error');
    banner.textContent = text;
    banner.hidden = !text;
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
      el('span', { class: `badge status-${conv.status}`, text: conv.status === 'taken' && conv.agent ? `${conv.agent} 接待中` : STATUS_TEXT[conv.status] || conv.status }));
    const last = conv.last ? el('p', { class: 'q-last', dataset: { testid: 'queue-last' } },
      el('span', { class: 'q-role', text: conv.last.role === 'buyer' ? '' : `${conv.last.role === 'agent' ? '客服' : conv.last.role === 'bot' ? '机器人' : '系统'}: ` }),
      conv.last.text) : null;
    const children = [head];
    if (attention && esc) {
      children.push(el('p', { class: 'q-reason' },
        el('span', { class: 'reason', dataset: { testid: 'queue-reason' }, text: esc.reason || '—' }),
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
  }

  function setBotStatus(connected) {
    const node = tid('bot-status');
    node.dataset.connected = String(connected);
    node.textContent = connected ? '● 机器人在线 Bot online' : '● 机器人离线 Bot offline';
  }

  async function refreshList() {
    if (state.listBusy) { state.listAgain = true; return; }
    state.listBusy = true;
    try {
      do {
        state.listAgain = false;
        const data = await api('GET', '/api/conversations');
        state.conversations = Array.isArray(data.conversations) ? data.conversations : [];
        setBotStatus(Boolean(data.bot_connected));
        renderQueue();
      } while (state.listAgain);
    } catch (err) {
      showError(`无法加载会话列表 Could not load conversations: ${err.message}`);
    } finally {
      state.listBusy = false;
    }
  }

  // ---- selected conversation ----
  function select(id) {
    if (state.selected !== id) {
      state.selected = id;
      state.conv = null;
      tid('history').replaceChildren();
      tid('agent-input').value = '';
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
          if (id === state.selected) state.conv = conv;
        } catch (err) {
          if (id === state.selected) { state.conv = null; showError(`会话 ${id}: ${err.message}`); }
        }
        renderDetail();
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
      if (d.reason) parts.push(el('span', { class: 'reason', text: `原因 ${d.reason}` }));
      if (d.priority) parts.push(el('span', { class: `badge prio-${d.priority}`, text: PRIORITY_TEXT[d.priority] || d.priority }));
    } else {
      parts.push(el('span', { class: 'muted', text: '机器人未判断 · no decision' }));
    }
    if (acked === true) parts.push(el('span', { class: 'acked', dataset: { testid: 'acked' }, title: '机器人已确认 acked', text: '✓ 已读' }));
    else if (acked === false) parts.push(el('span', { class: 'muted', title: 'not acknowledged', text: '未确认' }));
    return el('div', { class: 'decision', dataset: { testid: 'decision' } }, ...parts);
  }

  function historyItem(msg, conv) {
    const role = ['buyer', 'bot', 'agent', 'system'].includes(msg.role) ? msg.role : 'system';
    let label;
    if (role === 'buyer') label = msg.name || (conv.buyer && conv.buyer.name) || '买家';
    else if (role === 'agent') label = `客服 ${msg.name || conv.agent || ''}`.trim();
    else label = ROLE_LABEL[role];
    const bubble = el('div', { class: 'bubble' },
      el('div', { class: 'msg-meta' },
        el('span', { class: 'msg-who', dataset: { testid: 'msg-who' }, text: label }),
        msg.ts_ms ? el('time', { class: 'msg-time', text: clock(msg.ts_ms) }) : null),
      el('div', { class: 'msg-text', dataset: { testid: 'msg-text' }, text: msg.text }));
    return el('li', { class: `msg msg-${role}`, dataset: { testid: 'msg', role, id: msg.id || '' } },
      bubble, role === 'buyer' ? decisionNode(msg.decision, msg.acked) : null);
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
    status.textContent = c.status === 'taken' && c.agent ? `${c.agent} 接待中 Taken` : STATUS_TEXT[c.status] || c.status;

    const esc = c.escalation;
    const box = tid('escalation');
    box.hidden = !esc || c.status === 'bot';
    if (esc) {
      box.replaceChildren(...[
        esc.priority ? el('span', { class: `badge prio-${esc.priority}`, text: PRIORITY_TEXT[esc.priority] || esc.priority }) : null,
        el('strong', { class: 'reason', text: ` ${esc.reason || ''} ` }),
        waitNode(c),
        el('p', { class: 'summary', text: esc.summary || '' }),
      ].filter(Boolean));
    }

    const taken = c.status === 'taken';
    tid('takeover').hidden = taken;
    tid('release').hidden = !taken;
    tid('agent-composer').hidden = !taken;
    const note = tid('composer-note');
    if (taken && c.agent && c.agent !== state.agent) {
      note.hidden = false;
      note.textContent = `此会话由 ${c.agent} 接管 · Taken by ${c.agent}`;
    } else if (!taken) {
      note.hidden = false;
      note.textContent = '接管后才能回复买家 · Take over to reply';
    } else {
      note.hidden = true;
    }

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
  const composer = tid('agent-composer');
  const replyInput = tid('agent-input');
  composer.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = replyInput.value.trim();
    if (!text) return;
    replyInput.value = '';
    const res = await action('reply', { agent: state.agent, text });
    if (!res && !replyInput.value) replyInput.value = text;
  });
  replyInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });

  // ---- live updates ----
  setInterval(() => {
    for (const node of document.querySelectorAll('[data-since]')) {
      node.textContent = `等待 ${duration(Date.now() - Number(node.dataset.since))}`;
    }
    for (const node of document.querySelectorAll('[data-ago]')) node.textContent = ago(Number(node.dataset.ago));
  }, 1000);

  const source = new EventSource('/api/events');
  source.addEventListener('open', () => {
    showError('');
    refreshList();
    refreshConv();
  });
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.OPEN) showError('与服务器的连接中断，正在重连… · Reconnecting to the server…');
  });
  source.addEventListener('message', (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    refreshList();
    if (ev.conversation && ev.conversation === state.selected) refreshConv();
  });

  api('GET', '/api/shop').then((shop) => {
    if (shop && shop.name) {
      tid('shop-name').textContent = shop.name;
      document.title = `${shop.name} · 客服工作台 Agent console`;
    }
  }, () => { /* the name is cosmetic */ });

  let fromHash = '';
  try { fromHash = decodeURIComponent(location.hash.slice(1)); } catch { fromHash = ''; }
  refreshList();
  if (fromHash) select(fromHash);
  else renderDetail();
})();
