// xiaoer agent console: the selected conversation's orders (protocol 1.1)
// and what the bot sent about each (催付, order check, shipped note,
// follow-up). Loaded by one <script> line in agent.html; it follows the
// selected conversation through the page's #hash and refreshes when the
// history list changes. Text goes in through textContent only.
'use strict';

(() => {
  const KIND = {
    payment_reminder: '催付 Reminder',
    order_check: '核对 Order check',
    shipped_notice: '发货 Shipped',
    delivered_followup: '回访 Follow-up',
  };
  let box = null;
  let pending = null;

  // The console's own element builder (agent.js, loaded first).
  const el = (...args) => window.xiaoerDesk.el(...args);

  function selected() {
    const h = location.hash.slice(1);
    try { return h ? decodeURIComponent(h) : null; } catch { return null; }
  }

  async function refresh() {
    const history = document.querySelector('[data-testid="history"]');
    const id = selected();
    if (!history) return;
    if (!box) {
      box = el('section', { class: 'orders-box', dataset: { testid: 'conv-orders' }, hidden: 'hidden' });
      history.parentNode.insertBefore(box, history);
    }
    // The hash also names the console's tabs (#report): only a conversation
    // the queue lists has orders to ask for.
    const known = id && document.querySelector(`[data-testid="queue-item"][data-conversation="${CSS.escape(id)}"]`);
    if (!known) { box.hidden = true; return; }
    let data;
    try {
      const res = await fetch(`/api/conversations/${encodeURIComponent(id)}/orders`);
      if (!res.ok) { box.hidden = true; return; }
      data = await res.json();
    } catch { return; }
    if (id !== selected()) return;
    const orders = (data && data.orders) || [];
    box.hidden = !orders.length;
    box.replaceChildren(el('h3', { text: '订单 Orders' }), ...orders.map((o) => {
      const title = (o.items || []).map((i) => i.title).filter(Boolean).join('、');
      const total = typeof o.total === 'number' ? ` ¥${o.total.toFixed(2)}` : '';
      const ship = o.tracking ? ` · ${o.courier || ''} ${o.tracking}` : '';
      return el('div', { class: 'order-card', dataset: { testid: 'conv-order', order: o.id, status: o.status } },
        el('p', { class: 'order-head', text: `${o.id} · ${title}${total} · ${o.status}${ship}` }),
        el('ul', { class: 'order-sent' }, ...(o.sent || []).map((s) =>
          el('li', { dataset: { testid: 'order-sent', kind: s.kind } },
            el('strong', { text: `${KIND[s.kind] || s.kind}: ` }), document.createTextNode(s.text)))));
    }));
  }

  function soon() {
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  }

  // The buyer context panel of the desk (agent.js) lists the orders too.
  function contextSection(_ctx, conv) {
    const orders = (conv && Array.isArray(conv.orders)) ? conv.orders : [];
    if (!orders.length) return el('p', { class: 'empty', text: '没有订单 · No orders' });
    return el('ul', { class: 'orders' }, ...orders.map((o) => {
      const title = (o.items || []).map((i) => i.title).filter(Boolean).join('、');
      const total = typeof o.total === 'number' ? ` ¥${o.total.toFixed(2)}` : '';
      return el('li', { class: 'order-row', dataset: { testid: 'context-order', order: o.id, status: o.status } },
        el('span', { class: 'order-title', text: `${title || o.id}${total}` }),
        el('span', { class: 'badge', text: o.status }));
    }));
  }

  window.addEventListener('hashchange', soon);
  window.addEventListener('DOMContentLoaded', () => {
    if (window.xiaoerDesk) window.xiaoerDesk.addSection({ id: 'orders', title: '订单 Orders', render: contextSection });
    const history = document.querySelector('[data-testid="history"]');
    if (history) new MutationObserver(soon).observe(history, { childList: true });
    soon();
  });
})();
