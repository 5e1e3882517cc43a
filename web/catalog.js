// xiaoer agent console: save to catalog. When the bot escalated a chat
// because the item's catalog file lacks a fact (reason unknown_fact), each
// reply of the agent gets a "保存到商品资料 Save to catalog" button: the buyer's
// question and that answer become a FAQ entry of the item's file, and the
// bot answers the next buyer who asks (POST /api/conversations/{id}/catalog-faq).
// Loaded by one <script> line in agent.html after agent.js; it follows the
// selected conversation through the page's #hash and the history list.
// Text goes in through textContent only.
'use strict';

(() => {
  const UNKNOWN_FACT = 'unknown_fact';
  const el = (...args) => window.xiaoerDesk.el(...args);
  const api = (...args) => window.xiaoerDesk.api(...args);
  // conv: the selected conversation's detail; form: the open form (kept
  // outside the history list, which the console re-renders).
  const st = { me: null, conv: null, seq: 0, form: null, saved: new Set(), pending: null, box: null };

  function selected() {
    const h = location.hash.slice(1);
    try { return h ? decodeURIComponent(h) : null; } catch { return null; }
  }

  // The item an unknown_fact summary names: "商品 k-101: 可以手洗吗".
  function itemOf(conv) {
    const m = /^商品 (.+?): /.exec((conv.escalation && conv.escalation.summary) || '');
    if (m && m[1] !== '?') return m[1];
    return (conv.item && conv.item.id) || null;
  }

  // The buyer's question: the message the bot escalated as unknown_fact.
  function questionOf(conv) {
    const msgs = conv.messages || [];
    for (let i = msgs.length - 1; i >= 0; i--) {
      const m = msgs[i];
      if (m.role === 'buyer' && m.decision && m.decision.reason === UNKNOWN_FACT) return { index: i, msg: m };
    }
    return null;
  }

  function mayAct(conv) {
    const me = st.me && st.me.agent;
    if (!me) return false;
    return me.role === 'supervisor' || (conv.status === 'taken' && conv.agent === me.id);
  }

  function box() {
    const history = document.querySelector('[data-testid="history"]');
    if (!history) return null;
    if (!st.box || !st.box.isConnected) {
      st.box = el('section', { class: 'teach teach-open savecat-box', dataset: { testid: 'savecat-form' }, hidden: 'hidden' });
      history.parentNode.insertBefore(st.box, history);
    }
    return st.box;
  }

  function renderForm() {
    const b = box();
    if (!b) return;
    const f = st.form;
    if (!f || !st.conv || f.conversation !== st.conv.id) { b.hidden = true; b.replaceChildren(); return; }
    b.hidden = false;
    const question = el('input', {
      class: 'input input-small', dataset: { testid: 'savecat-question' }, maxlength: '300',
      'aria-label': '买家的问题 The buyer\'s question', value: f.question,
      oninput: (e) => { f.question = e.target.value; },
    });
    const answer = el('textarea', {
      class: 'input input-small', dataset: { testid: 'savecat-answer' }, maxlength: '300', rows: '2',
      'aria-label': '答案 The answer', oninput: (e) => { f.answer = e.target.value; },
    });
    answer.value = f.answer;
    const save = el('button', {
      type: 'button', class: 'btn btn-small btn-primary', dataset: { testid: 'savecat-save' }, disabled: f.busy,
      onclick: async () => {
        f.busy = true; renderForm();
        try {
          const r = await api('POST', `/api/conversations/${encodeURIComponent(f.conversation)}/catalog-faq`,
            { agent: (st.me && st.me.agent && st.me.agent.id) || '', question: f.question, answer: f.answer });
          f.ok = true;
          f.result = `已保存到商品资料 Saved: ${r.saved} · 下一位买家问到时机器人会直接回答 · the bot answers the next buyer who asks`;
          st.saved.add(`${f.conversation}/${f.reply}`);
        } catch (err) {
          f.ok = false;
          f.result = `未保存 Not saved: ${err.message}`;
        }
        f.busy = false;
        renderForm(); decorate();
      },
    }, f.busy ? '保存中… Saving' : '保存 Save');
    const cancel = el('button', {
      type: 'button', class: 'btn btn-small', dataset: { testid: 'savecat-cancel' },
      onclick: () => { st.form = null; renderForm(); },
    }, f.result ? '关闭 Close' : '取消 Cancel');
    b.replaceChildren(
      el('h3', { text: `保存到商品资料 Save to catalog · 商品 ${f.item}` }),
      el('label', { class: 'muted', text: '买家的问题 Question' }), question,
      el('label', { class: 'muted', text: '答案 Answer' }), answer,
      el('div', {}, save, cancel),
      f.result ? el('p', {
        class: f.ok ? 'teach-result ok' : 'teach-result refused', role: 'status',
        dataset: { testid: 'savecat-result', ok: String(f.ok) }, text: f.result,
      }) : null);
  }

  // A button under each agent reply after the escalated question.
  function decorate() {
    const conv = st.conv;
    const history = document.querySelector('[data-testid="history"]');
    if (!history) return;
    for (const old of history.querySelectorAll('[data-testid="savecat-tools"]')) old.remove();
    if (!conv || conv.id !== selected()) return;
    const open = conv.escalation && conv.escalation.reason === UNKNOWN_FACT && conv.status !== 'bot';
    const q = open && mayAct(conv) ? questionOf(conv) : null;
    const item = q && itemOf(conv);
    if (!q || !item) return;
    const replies = (conv.messages || []).slice(q.index + 1).filter((m) => m.role === 'agent' && m.id);
    for (const m of replies) {
      const li = history.querySelector(`[data-testid="msg"][data-role="agent"][data-id="${CSS.escape(m.id)}"]`);
      if (!li) continue;
      const done = st.saved.has(`${conv.id}/${m.id}`);
      li.append(el('div', { class: 'teach', dataset: { testid: 'savecat-tools' } }, el('button', {
        type: 'button', class: 'btn btn-small', dataset: { testid: 'savecat-open', message: m.id }, disabled: done,
        title: '把买家的问题和这条回答存为商品的常见问答，机器人下次直接回答 · Save the question and this answer as the item\'s FAQ',
        onclick: () => {
          st.form = { conversation: conv.id, reply: m.id, item, question: String(q.msg.text || ''), answer: String(m.text || ''), busy: false, result: '', ok: null };
          renderForm();
        },
      }, done ? '已保存到商品资料 ✓ Saved' : '保存到商品资料 Save to catalog')));
    }
  }

  async function refresh() {
    const id = selected();
    const mine = ++st.seq;
    if (!id || !document.querySelector(`[data-testid="queue-item"][data-conversation="${CSS.escape(id)}"]`)) {
      st.conv = null; renderForm(); return;
    }
    try {
      if (!st.me) st.me = await api('GET', '/api/me');
      const conv = await api('GET', `/api/conversations/${encodeURIComponent(id)}`);
      if (mine !== st.seq) return;
      st.conv = conv;
    } catch { return; }
    decorate();
    renderForm();
  }

  function changed() {
    // Put the buttons back at once (the console re-rendered the list), then
    // catch up with the conversation.
    decorate();
    clearTimeout(st.pending);
    st.pending = setTimeout(refresh, 150);
  }

  window.addEventListener('hashchange', () => { st.form = null; changed(); });
  window.addEventListener('DOMContentLoaded', () => {
    const history = document.querySelector('[data-testid="history"]');
    if (history) {
      new MutationObserver((records) => {
        // Our own buttons coming and going are no change.
        const ours = (n) => n.nodeType === 1 && n.dataset && n.dataset.testid === 'savecat-tools';
        if (records.every((r) => [...r.addedNodes, ...r.removedNodes].every(ours))) return;
        changed();
      }).observe(history, { childList: true, subtree: true });
    }
    changed();
  });
})();
