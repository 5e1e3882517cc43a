// xiaoer buyer simulator: several buyers chatting with the shop at once.
// All chat text goes into the page through textContent (see el()), never as HTML.
// Each panel opens its conversation on the server (POST /api/buyer/conversations)
// and gets its id and token; only that token reads, posts and follows it.
'use strict';

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);

  // el('div', {class: 'x', dataset: {testid: 'y'}}, child, 'text', ...): text is always a text node.
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

  const randomId = (prefix) => {
    const bytes = new Uint8Array(6);
    crypto.getRandomValues(bytes);
    return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  };
  const clock = (ms) => new Date(ms).toLocaleTimeString('zh-CN', { hour12: false });

  async function api(method, url, body, token) {
    const headers = body ? { 'content-type': 'application/json' } : {};
    if (token) headers['x-conversation-token'] = token;
    const res = await fetch(url, {
      method,
      headers,
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

  const STATUS_TEXT = {
    bot: '机器人接待中 · Bot',
    escalated: '已转人工，请稍候 · Escalated',
    taken: '客服接待中 · Agent',
  };
  const ROLE_LABEL = { bot: '店小二 (机器人)', system: '系统' };

  const state = { shop: { name: '店小二', items: [] }, panels: new Set(), counter: 0 };
  const panelsRoot = $('#panels');

  function showPageError(text) {
    const banner = $('[data-testid="page-error"]');
    banner.textContent = text;
    banner.hidden = !text;
  }

  function itemOptions(select) {
    const keep = select.value;
    select.replaceChildren(el('option', { value: '', text: '不选商品 · No item' }),
      ...state.shop.items.map((it) => el('option', { value: it.id, text: it.title })));
    select.value = keep;
  }

  function newPanel() {
    state.counter += 1;
    const panel = {
      id: null, // given by the server with the token, see openConversation()
      token: null,
      opening: null, // the promise of that
      started: false, // a first message was sent
      messages: [],
      pending: [], // {localId, text, serverId}
      conv: null,
      loading: false,
      again: false,
    };
    const nameInput = el('input', {
      class: 'input input-small', type: 'text', value: `买家${state.counter}`, maxlength: '40',
      'aria-label': '买家昵称 Buyer name', dataset: { testid: 'buyer-name' },
    });
    const itemSelect = el('select', { class: 'input input-small', 'aria-label': '商品 Product', dataset: { testid: 'item-select' } });
    itemOptions(itemSelect);
    const status = el('span', { class: 'badge status-bot', dataset: { testid: 'chat-status', status: 'bot' }, text: STATUS_TEXT.bot });
    const closeBtn = el('button', { type: 'button', class: 'icon-btn', title: '关闭 Close', 'aria-label': '关闭 Close', dataset: { testid: 'close-chat' }, text: '×' });
    const list = el('ol', { class: 'messages', dataset: { testid: 'messages' } });
    const empty = el('li', { class: 'messages-empty', text: '发一条消息试试，例如「有货吗」 · Say hi to the shop' });
    list.append(empty);
    const input = el('input', {
      class: 'input', type: 'text', maxlength: '2000', autocomplete: 'off',
      placeholder: '输入消息… (Enter 发送)', 'aria-label': '消息 Message', dataset: { testid: 'buyer-input' },
    });
    const send = el('button', { type: 'submit', class: 'btn btn-primary', dataset: { testid: 'buyer-send' }, text: '发送' });
    const error = el('p', { class: 'panel-error', dataset: { testid: 'chat-error' }, hidden: true });
    const form = el('form', { class: 'composer' }, input, send);
    const idLine = el('p', { class: 'panel-id', text: '…' });
    const root = el('article', { class: 'card chat-panel', dataset: { testid: 'chat-panel' } },
      el('header', { class: 'panel-head' },
        el('div', { class: 'panel-who' }, nameInput, itemSelect),
        el('div', { class: 'panel-side' }, status, closeBtn)),
      idLine, list, error, form);
    Object.assign(panel, { root, idLine, nameInput, itemSelect, status, list, empty, input, error });

    form.addEventListener('submit', (e) => { e.preventDefault(); sendMessage(panel); });
    // Enter submits the form natively; keep IME composition (拼音 input) from sending.
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && e.isComposing) e.preventDefault(); });
    closeBtn.addEventListener('click', () => {
      state.panels.delete(panel);
      root.remove();
      connectEvents();
      if (!state.panels.size) newPanel();
    });

    state.panels.add(panel);
    panelsRoot.append(root);
    input.focus();
    openConversation(panel);
    return panel;
  }

  // Asks the server for this panel's conversation (id and token), once.
  function openConversation(panel) {
    if (panel.id) return Promise.resolve(true);
    if (!panel.opening) {
      panel.opening = api('POST', '/api/buyer/conversations').then((res) => {
        panel.id = res.id;
        panel.token = res.token;
        panel.root.dataset.conversation = res.id;
        panel.idLine.textContent = res.id;
        // orders-buyer.js adds its order buttons to this panel.
        panel.root.dispatchEvent(new CustomEvent('xiaoer:opened', { bubbles: true, detail: { id: res.id, token: res.token } }));
        setError(panel, '');
        connectEvents();
        return true;
      }, (err) => {
        panel.opening = null; // the next send tries again
        setError(panel, `无法开始对话 Could not start the chat: ${err.message}`);
        return false;
      });
    }
    return panel.opening;
  }

  function selectedItem(panel) {
    const id = panel.itemSelect.value;
    const item = state.shop.items.find((it) => it.id === id);
    return item ? { id: item.id, title: item.title } : null;
  }

  async function sendMessage(panel) {
    const text = panel.input.value.trim();
    if (!text) return;
    const name = panel.nameInput.value.trim() || panel.nameInput.defaultValue;
    const pending = { localId: randomId('p-'), text, serverId: null };
    panel.pending.push(pending);
    panel.input.value = '';
    setError(panel, '');
    render(panel);
    try {
      if (!(await openConversation(panel))) throw new Error(panel.error.textContent);
      const res = await api('POST', `/api/buyer/conversations/${encodeURIComponent(panel.id)}/messages`, {
        name,
        text,
        item: selectedItem(panel),
      }, panel.token);
      pending.serverId = res && res.id;
      panel.started = true;
      panel.itemSelect.disabled = true; // the product is fixed once the chat started
      await refresh(panel);
    } catch (err) {
      panel.pending = panel.pending.filter((p) => p !== pending);
      if (!panel.input.value) panel.input.value = text;
      setError(panel, `发送失败 Send failed: ${err.message}`);
      render(panel);
    }
  }

  function setError(panel, text) {
    panel.error.textContent = text;
    panel.error.hidden = !text;
  }

  // Re-fetch one conversation; calls that arrive while one is in flight are coalesced.
  async function refresh(panel) {
    if (!panel.id) return;
    if (panel.loading) { panel.again = true; return; }
    panel.loading = true;
    try {
      do {
        panel.again = false;
        const conv = await api('GET', `/api/buyer/conversations/${encodeURIComponent(panel.id)}`, null, panel.token);
        panel.conv = conv;
        panel.messages = conv.messages || [];
        const ids = new Set(panel.messages.map((m) => m.id));
        panel.pending = panel.pending.filter((p) => !(p.serverId && ids.has(p.serverId)));
        render(panel);
        panel.root.dispatchEvent(new CustomEvent('xiaoer:refreshed', { bubbles: true, detail: { conv } }));
      } while (panel.again);
    } catch (err) {
      setError(panel, `刷新失败 Refresh failed: ${err.message}`);
    } finally {
      panel.loading = false;
    }
  }

  function bubble(msg, conv) {
    const role = ['buyer', 'bot', 'agent', 'system'].includes(msg.role) ? msg.role : 'system';
    let label;
    if (role === 'buyer') label = msg.name || '我';
    else if (role === 'agent') label = `客服 ${msg.name || (conv && conv.agent) || ''}`.trim();
    else label = ROLE_LABEL[role];
    const meta = el('div', { class: 'msg-meta' },
      el('span', { class: 'msg-who', dataset: { testid: 'msg-who' }, text: label }),
      msg.ts_ms ? el('time', { class: 'msg-time', text: clock(msg.ts_ms) }) : null);
    const text = el('div', { class: 'msg-text', dataset: { testid: 'msg-text' }, text: msg.text });
    return el('li', { class: `msg msg-${role}${msg.pending ? ' msg-pending' : ''}`, dataset: { testid: 'msg', role, id: msg.id || '' } },
      el('div', { class: 'bubble' }, meta, text));
  }

  function render(panel) {
    const conv = panel.conv;
    const atBottom = panel.list.scrollHeight - panel.list.scrollTop - panel.list.clientHeight < 40;
    const items = panel.messages.map((m) => bubble(m, conv));
    for (const p of panel.pending) {
      items.push(bubble({ role: 'buyer', name: panel.nameInput.value, text: p.text, pending: true }, conv));
    }
    panel.list.replaceChildren(...(items.length ? items : [panel.empty]));
    if (atBottom || panel.pending.length) panel.list.scrollTop = panel.list.scrollHeight;

    const status = (conv && conv.status) || 'bot';
    panel.status.dataset.status = status;
    panel.status.className = `badge status-${status}`;
    let text = STATUS_TEXT[status] || status;
    if (status === 'taken' && conv.agent) text = `客服 ${conv.agent} 接待中 · Agent`;
    panel.status.textContent = text;
  }

  function setBotStatus(connected) {
    const node = $('[data-testid="bot-status"]');
    node.dataset.connected = String(connected);
    node.textContent = connected ? '● 机器人在线 Bot online' : '● 机器人离线 Bot offline';
  }

  async function refreshBotStatus() {
    try {
      const shop = await api('GET', '/api/shop');
      setBotStatus(Boolean(shop.bot_connected));
    } catch { /* the events stream will tell us again */ }
  }

  // One stream for all open panels (a browser gives a site only a few
  // connections): reopened whenever the set of conversations changes.
  let source = null;
  function connectEvents() {
    const follow = [...state.panels].filter((p) => p.id).map((p) => `${p.id}:${p.token}`);
    if (source) source.close();
    source = null;
    if (!follow.length) return;
    const es = new EventSource(`/api/buyer/events?c=${encodeURIComponent(follow.join(','))}`);
    source = es;
    es.addEventListener('open', () => {
      showPageError('');
      refreshBotStatus();
      for (const panel of state.panels) refresh(panel);
    });
    es.addEventListener('error', () => {
      if (source === es && es.readyState !== EventSource.OPEN) showPageError('与服务器的连接中断，正在重连… · Reconnecting to the server…');
    });
    es.addEventListener('message', (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      if (ev.kind === 'bot') { refreshBotStatus(); return; }
      if (ev.kind === 'resync') { for (const panel of state.panels) refresh(panel); return; }
      for (const panel of state.panels) if (panel.id === ev.conversation) refresh(panel);
    });
  }

  async function loadShop() {
    try {
      const shop = await api('GET', '/api/shop');
      state.shop = { name: shop.name || '店小二', items: Array.isArray(shop.items) ? shop.items : [] };
      $('[data-testid="shop-name"]').textContent = state.shop.name;
      document.title = `${state.shop.name} · 买家模拟 Buyer`;
      setBotStatus(Boolean(shop.bot_connected));
      for (const panel of state.panels) if (!panel.started) itemOptions(panel.itemSelect);
    } catch (err) {
      showPageError(`无法加载店铺信息 Could not load the shop: ${err.message}`);
    }
  }

  $('[data-testid="new-chat"]').addEventListener('click', () => newPanel());
  newPanel();
  loadShop();
})();
