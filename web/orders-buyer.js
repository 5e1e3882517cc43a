// xiaoer buyer simulator: orders (protocol 1.1). Adds "place order" and "pay"
// to every chat panel of buyer.js, which tells this file about a panel's
// conversation ('xiaoer:opened', with its id and token) and each refresh
// ('xiaoer:refreshed', with the conversation as its buyer sees it).
// All text goes into the page through textContent, never as HTML.
'use strict';

(() => {
  const panels = new WeakMap(); // panel root -> { id, token, bar, list, error }
  const STATUS = {
    created: '待付款 Unpaid',
    paid: '已付款 Paid',
    shipped: '已发货 Shipped',
    delivered: '已签收 Delivered',
    closed: '已关闭 Closed',
  };

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  async function post(url, token, body) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-conversation-token': token },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    if (!res.ok) throw new Error((data && data.error) || `HTTP ${res.status}`);
    return data;
  }

  // The item to order: the panel's selected product, else the shop's first.
  async function itemTitle(root) {
    const select = root.querySelector('[data-testid="item-select"]');
    const picked = select && select.selectedOptions[0];
    if (picked && picked.value) return picked.textContent;
    const shop = await (await fetch('/api/shop')).json();
    return shop.items && shop.items[0] ? shop.items[0].title : '';
  }

  function setError(p, text) {
    p.error.textContent = text;
    p.error.hidden = !text;
  }

  function render(p, orders) {
    p.list.replaceChildren(...orders.map((o) => {
      const title = (o.items || []).map((i) => i.title).filter(Boolean).join('、');
      const total = typeof o.total === 'number' ? ` ¥${o.total.toFixed(2)}` : '';
      const pay = o.status === 'created'
        ? el('button', { type: 'button', class: 'btn btn-small', dataset: { testid: 'pay-order', order: o.id }, text: '付款 Pay' })
        : null;
      if (pay) {
        pay.addEventListener('click', async () => {
          pay.disabled = true;
          try {
            await post(`/api/buyer/conversations/${encodeURIComponent(p.id)}/orders/${encodeURIComponent(o.id)}/pay`, p.token);
            setError(p, '');
          } catch (err) {
            pay.disabled = false;
            setError(p, `付款失败 Payment failed: ${err.message}`);
          }
        });
      }
      return el('li', { class: 'order-row', dataset: { testid: 'order', order: o.id, status: o.status } },
        el('span', { class: 'order-title', text: `${title}${total}` }),
        el('span', { class: `badge order-${o.status}`, dataset: { testid: 'order-status' }, text: STATUS[o.status] || o.status }),
        pay);
    }));
  }

  document.addEventListener('xiaoer:opened', (e) => {
    const root = e.target;
    const { id, token } = e.detail || {};
    if (!(root instanceof Element) || !id || !token) return;
    let p = panels.get(root);
    if (!p) {
      const place = el('button', { type: 'button', class: 'btn btn-small', dataset: { testid: 'place-order' }, text: '下单 Place order' });
      const list = el('ul', { class: 'orders', dataset: { testid: 'orders' } });
      const error = el('p', { class: 'panel-error', dataset: { testid: 'order-error' }, hidden: 'hidden' });
      const bar = el('div', { class: 'order-bar', dataset: { testid: 'order-bar' } }, place, list, error);
      p = { id, token, bar, list, error };
      panels.set(root, p);
      const composer = root.querySelector('form.composer');
      root.insertBefore(bar, composer);
      place.addEventListener('click', async () => {
        place.disabled = true;
        try {
          const title = await itemTitle(root);
          await post(`/api/buyer/conversations/${encodeURIComponent(p.id)}/orders`, p.token, { title });
          setError(p, '');
        } catch (err) {
          setError(p, `下单失败 Order failed: ${err.message}`);
        } finally {
          place.disabled = false;
        }
      });
    }
    Object.assign(p, { id, token });
  });

  document.addEventListener('xiaoer:refreshed', (e) => {
    const p = panels.get(e.target);
    const conv = e.detail && e.detail.conv;
    if (p && conv) render(p, Array.isArray(conv.orders) ? conv.orders : []);
  });
})();
