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
  const PRIORITY_TEXT = { high: '高 High', normal: '普通 Normal' };
  const ACTION_TEXT = { reply: '回复 reply', escalate: '转人工 escalate' };
  const ROLE_LABEL = { bot: '店小二 (机器人)', system: '系统 System' };

  const state = {
    view: 'chats', agent: '', conversations: [], selected: null, conv: null,
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
    const escalated = role === 'buyer' && msg.decision && msg.decision.action === 'escalate';
    return el('li', { class: `msg msg-${role}`, dataset: { testid: 'msg', role, id: msg.id || '' } },
      bubble, role === 'buyer' ? decisionNode(msg.decision, msg.acked) : null,
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

  // ---- report: what the bot could not answer, grouped ----
  const REPORT_RANGES = [1, 24, 168];
  const REASON_TEXT = {
    unclassified: '未识别', low_confidence: '把握不足', repeated_bargain: '反复砍价',
    repeated_question: '重复提问', unknown: '未知',
  };
  const savedHours = Number(localStorage.getItem('xiaoer.reportHours'));
  const report = {
    hours: REPORT_RANGES.includes(savedHours) ? savedHours : 24,
    data: null, seq: 0, last: 0, timer: null,
  };
  const count = (n) => (Number.isFinite(Number(n)) ? Number(n).toLocaleString('zh-CN') : '—');

  function reasonLabel(reason, n) {
    const label = REASON_TEXT[reason];
    return el('span', { class: 'reason-label' },
      el('code', { class: 'reason', text: reason }),
      label ? el('span', { class: 'muted', text: ` ${label}` }) : null,
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
    refreshList();
    // resync: this page fell behind the server's event queue; fetch all again.
    if (ev.kind === 'resync' || (ev.conversation && ev.conversation === state.selected)) refreshConv();
    refreshReportSoon();
  });

  api('GET', '/api/shop').then((shop) => {
    if (shop && shop.name) {
      tid('shop-name').textContent = shop.name;
      document.title = `${shop.name} · 客服工作台 Agent console`;
    }
  }, () => { /* the name is cosmetic */ });

  const fromHash = fromLocationHash();
  loadIntents();
  refreshList();
  if (fromHash === REPORT_HASH) { renderDetail(); showReport(); } else if (fromHash) select(fromHash);
  else renderDetail();
})();
