'use strict';
// Agent login: POST /api/login, then on to the console. The session lives in
// an HttpOnly cookie the page never sees. On a loopback console without
// passwords (GET /api/login/agents says "open") the page lists the agents and
// a login only picks who one is.
(() => {
  const form = document.querySelector('[data-testid="login-form"]');
  const error = document.querySelector('[data-testid="login-error"]');
  const pick = document.querySelector('[data-testid="login-pick"]');
  let open = false;

  fetch('/api/login/agents').then((r) => r.json()).then((data) => {
    if (!data || !data.open || !Array.isArray(data.agents) || !data.agents.length) return;
    open = true;
    for (const a of data.agents) {
      const option = document.createElement('option');
      option.value = String(a.id);
      option.textContent = `${a.name} (${a.id})${a.role === 'supervisor' ? ' · 主管' : ''}`;
      pick.append(option);
    }
    document.querySelector('[data-testid="login-open"]').hidden = false;
    document.querySelector('.login-pick').hidden = false;
    for (const sel of ['.login-id', '.login-password']) {
      const label = document.querySelector(sel);
      label.hidden = true;
      label.querySelector('input').required = false;
    }
  }, () => { /* the form with passwords stays */ });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const data = new FormData(form);
    const agent = open ? data.get('pick') : data.get('agent');
    try {
      const res = await fetch('/api/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent, password: open ? '' : data.get('password') }),
      });
      if (res.ok) {
        location.href = '/agent';
        return;
      }
      const body = await res.json().catch(() => ({}));
      error.textContent = body.error || `登录失败 Login failed (HTTP ${res.status})`;
    } catch (e) {
      error.textContent = `无法连接 Cannot reach the server: ${e.message}`;
    }
    error.hidden = false;
  });
})();
