// Browser test of the catalog in the demo: the buyer picks the item they look at on the
// buyer page (its id goes with every message), asks about stock and size, and the bot's
// reply states the fact from the demo shop's catalog (demo/catalog/).
//
//   node tests/browser/catalog.mjs http://127.0.0.1:8080 [screenshot-dir]
import {
  T, base, fail, pass, run, launch, watch, waitVisible, sel, buyerSend, waitNth, setStep, shot, conversationOf,
} from './lib.mjs';

async function ask(page, panel, itemTitle, text, facts, label) {
  await panel.getByTestId('item-select').selectOption({ label: itemTitle }, { timeout: T });
  await buyerSend(panel, text);
  await waitNth(panel, 'bot', 0, `a bot reply to "${text}"`);
  const reply = (await panel.locator(sel.msg('bot')).first().textContent({ timeout: T })) || '';
  for (const f of facts) {
    if (!reply.includes(f)) {
      await shot(page, `catalog-${label}.png`);
      fail(`the reply to "${text}" about ${itemTitle} does not state ${JSON.stringify(f)}: ${JSON.stringify(reply)}`);
    }
  }
  return reply;
}

async function main() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'zh-CN' });
  const buyer = await context.newPage();
  watch(buyer, 'buyer page');

  setStep('1 the buyer page offers the catalog items');
  const res = await buyer.goto(`${base}/`, { waitUntil: 'load', timeout: T }).catch((e) => fail(`cannot open ${base}/: ${e.message}`));
  if (!res || !res.ok()) fail(`GET ${base}/ answered ${res && res.status()}`);
  const panel1 = buyer.locator(sel.panel).first();
  await waitVisible(panel1, 'the first chat panel');
  const options = await panel1.getByTestId('item-select').locator('option').allTextContents();
  for (const title of ['无线蓝牙耳机', '白色雪纺连衣裙', '每日坚果混合装']) {
    if (!options.includes(title)) fail(`the item picker lacks ${title}: ${JSON.stringify(options)}`);
  }
  pass(`1 the item picker lists the demo catalog (${options.length - 1} items)`);

  setStep('2 stock of a sold-out variant');
  const r1 = await ask(buyer, panel1, '无线蓝牙耳机', '黑色的还有吗', ['黑色', '2026-12-07', '白色'], 'stock');
  pass(`2 stock: ${r1}`);

  setStep('3 size from the chart');
  await buyer.getByTestId('new-chat').click({ timeout: T });
  const panel2 = buyer.locator(sel.panel).nth(1);
  await waitVisible(panel2, 'a second chat panel');
  const r2 = await ask(buyer, panel2, '白色雪纺连衣裙', '我160 100斤穿什么码', ['M码', '版型偏小'], 'size');
  pass(`3 size: ${r2}`);
  await shot(buyer, 'catalog.png');

  setStep('4 the console shows the item\'s facts');
  const conv1 = await conversationOf(panel1, 'the first chat panel');
  const agent = await context.newPage();
  watch(agent, 'agent page');
  const resAgent = await agent.goto(`${base}/agent`, { waitUntil: 'load', timeout: T }).catch((e) => fail(`cannot open ${base}/agent: ${e.message}`));
  if (!resAgent || !resAgent.ok()) fail(`GET ${base}/agent answered ${resAgent && resAgent.status()}`);
  await agent.locator(sel.queueItem(conv1)).click({ timeout: T });
  const facts = agent.locator('[data-testid="context-facts"]');
  await waitVisible(facts, 'the catalog facts in the buyer context panel');
  await waitVisible(facts.locator('[data-testid="context-variant"][data-stock="0"]'), 'a sold-out variant among the facts');
  const text = await facts.textContent({ timeout: T });
  if (!text.includes('2026-12-07')) fail(`the facts do not show the restock date: ${JSON.stringify(text)}`);
  await shot(agent, 'catalog-console.png');
  pass('4 the console\'s buyer context shows the item\'s catalog facts (variants, stock, restock date)');
}

run(main);
