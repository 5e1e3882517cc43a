// Browser test of orders in the xiaoer demo (protocol 1.1): a buyer places an
// order from the buyer page, the bot's payment reminder (催付) arrives after the
// demo's short delay (demo.payment_reminder_after), paying brings the order
// check, and the agent console lists the order with what the bot sent.
//
//   node tests/browser/orders.mjs http://127.0.0.1:8080 [screenshot-dir]
import {
  T, base, fail, pass, run, launch, watch, waitVisible, sel, conversationOf, setStep, shot,
} from './lib.mjs';

// The demo's reminder delay is 20 s; allow for a busy machine.
const REMINDER_WAIT = 45_000;

async function main() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'zh-CN' });
  const buyer = await context.newPage();
  watch(buyer, 'buyer page');

  // 1. The buyer page offers "place order"; placing one lists it as unpaid.
  setStep('1 place order');
  const res = await buyer.goto(`${base}/`, { waitUntil: 'load', timeout: T }).catch((e) => fail(`cannot open ${base}/: ${e.message}`));
  if (!res || !res.ok()) fail(`GET ${base}/ answered ${res && res.status()}`);
  const panel = buyer.locator(sel.panel).first();
  const conv = await conversationOf(panel, 'the first chat panel');
  await waitVisible(panel.getByTestId('place-order'), 'the "place order" button');
  await panel.getByTestId('item-select').selectOption({ index: 1 }, { timeout: T });
  const title = (await panel.getByTestId('item-select').locator('option:checked').textContent()).trim();
  await panel.getByTestId('place-order').click({ timeout: T });
  const order = panel.locator('[data-testid="order"][data-status="created"]');
  await waitVisible(order, 'the new order listed as unpaid');
  const orderId = await order.first().getAttribute('data-order');
  pass(`1 placed order ${orderId} for ${title} in ${conv}`);

  // 2. The reminder arrives by itself, once, naming the item.
  setStep('2 payment reminder');
  const reminder = panel.locator(`${sel.msg('bot')}[data-id="s-${orderId}/payment_reminder"]`);
  await waitVisible(reminder, 'the payment reminder from the bot', REMINDER_WAIT);
  const text = (await reminder.first().getByTestId('msg-text').textContent()) || '';
  if (!text.includes(title)) fail(`the reminder does not name ${title}: ${JSON.stringify(text)}`);
  if ((await reminder.count()) !== 1) fail('the reminder came more than once');
  await shot(buyer, 'buyer-reminder.png');
  pass(`2 the bot reminded the buyer to pay: "${text.slice(0, 40)}…"`);

  // 3. Paying brings the order check (address and item), and no second reminder.
  setStep('3 pay');
  await panel.getByTestId('pay-order').click({ timeout: T });
  await waitVisible(panel.locator('[data-testid="order"][data-status="paid"]'), 'the order listed as paid');
  const check = panel.locator(`${sel.msg('bot')}[data-id="s-${orderId}/order_check"]`);
  await waitVisible(check, 'the order check after payment');
  const checkText = (await check.first().getByTestId('msg-text').textContent()) || '';
  if (!checkText.includes(title)) fail(`the order check does not name ${title}: ${JSON.stringify(checkText)}`);
  pass('3 paying listed the order as paid and the bot checked the order with the buyer');

  // 4. The agent console shows the order and what the bot sent about it.
  setStep('4 console orders');
  const agent = await context.newPage();
  watch(agent, 'agent page');
  const res2 = await agent.goto(`${base}/agent`, { waitUntil: 'load', timeout: T }).catch((e) => fail(`cannot open ${base}/agent: ${e.message}`));
  if (!res2 || !res2.ok()) fail(`GET ${base}/agent answered ${res2 && res2.status()}`);
  await agent.locator(sel.queueItem(conv)).click({ timeout: T });
  const card = agent.locator(`[data-testid="conv-order"][data-order="${orderId}"]`);
  await waitVisible(card, `the order ${orderId} in the console`);
  for (const kind of ['payment_reminder', 'order_check']) {
    await waitVisible(card.locator(`[data-testid="order-sent"][data-kind="${kind}"]`), `the console's line for ${kind}`);
  }
  await waitVisible(agent.locator(`[data-testid="context-order"][data-order="${orderId}"][data-status="paid"]`),
    `the order ${orderId} as paid in the buyer context panel`);
  await shot(agent, 'agent-orders.png');
  pass('4 the console lists the order with the reminder and the order check the bot sent, and the buyer context panel shows it paid');
}

run(main);
