'use strict';
// Agent login: POST /api/login, then on to the console. The session lives in
// an HttpOnly cookie the page never sees.
(() => {
  const form = document.querySelector('[data-testid="login-form"]');
  const error = document.querySelector('[data-testid="login-error"]');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const data = new FormData(form);
    try {
      const res = await fetch('/api/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent: data.get('agent'), password: data.get('password') }),
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
