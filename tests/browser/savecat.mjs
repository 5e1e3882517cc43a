// Browser test of save to catalog: a buyer asks what the item's catalog file does not say
// (the bot escalates, unknown_fact); the agent takes over, answers, and clicks
// "保存到商品资料 Save to catalog" under the reply; a second buyer asking the same gets the
// answer from the bot. The demo runs with --catalog on a copy of demo/catalog.
//
//   node tests/browser/savecat.mjs http://127.0.0.1:8080 [screenshot-dir]
import {
  T, base, fail, pass, run, launch, watch, waitVisible, sel, buyerSend, waitNth, setStep, shot, conversationOf,
} from './lib.mjs';

const ITEM = '加绒连帽卫衣';
const QUESTION = '会掉色吗';
const ANSWER = '亲，这款是活性印染的，正常洗涤不会掉色哦～';

async function main() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'zh-CN' });
  const buyer = await context.newPage();
  watch(buyer, 'buyer page');

  setStep('1 a question the catalog cannot answer goes to a person');
  const res = await buyer.goto(`${base}/`, { waitUntil: 'load', timeout: T }).catch((e) => fail(`cannot open ${base}/: ${e.message}`));
  if (!res || !res.ok()) fail(`GET ${base}/ answered ${res && res.status()}`);
  const panel1 = buyer.locator(sel.panel).first();
  await waitVisible(panel1, 'the first chat panel');
  await panel1.getByTestId('item-select').selectOption({ label: ITEM }, { timeout: T });
  await buyerSend(panel1, QUESTION);
  await waitNth(panel1, 'bot', 0, `the holding reply to "${QUESTION}"`);
  await waitVisible(panel1.locator('[data-testid="chat-status"][data-status="escalated"]'), 'the buyer panel status "escalated"');
  const conv1 = await conversationOf(panel1, 'the first chat panel');
  pass(`1 "${QUESTION}" about ${ITEM} escalated (${conv1})`);

  setStep('2 the agent answers and saves the answer to the catalog');
  const agent = await context.newPage();
  watch(agent, 'agent page');
  const resAgent = await agent.goto(`${base}/agent`, { waitUntil: 'load', timeout: T }).catch((e) => fail(`cannot open ${base}/agent: ${e.message}`));
  if (!resAgent || !resAgent.ok()) fail(`GET ${base}/agent answered ${resAgent && resAgent.status()}`);
  await agent.locator(sel.queueItem(conv1)).click({ timeout: T });
  await waitVisible(agent.locator('[data-testid="escalation"]').getByText('商品 d-102', { exact: false }), 'the unknown_fact summary naming the item');
  await agent.getByTestId('takeover').click({ timeout: T });
  await waitVisible(agent.locator('[data-testid="conv-status"][data-status="taken"]'), 'conv-status "taken"');
  await agent.getByTestId('agent-input').fill(ANSWER, { timeout: T });
  await agent.getByTestId('agent-send').click({ timeout: T });
  const history = agent.getByTestId('history');
  const reply = history.locator(sel.msg('agent')).filter({ hasText: ANSWER });
  await waitVisible(reply, 'the agent reply in the history');
  await waitVisible(reply.getByTestId('savecat-open'), 'the "save to catalog" button under the agent reply');
  await reply.getByTestId('savecat-open').click({ timeout: T });
  const form = agent.getByTestId('savecat-form');
  await waitVisible(form, 'the save-to-catalog form');
  const q = await form.getByTestId('savecat-question').inputValue({ timeout: T });
  const a = await form.getByTestId('savecat-answer').inputValue({ timeout: T });
  if (q !== QUESTION) fail(`the form's question is ${JSON.stringify(q)}, not the buyer's ${JSON.stringify(QUESTION)}`);
  if (a !== ANSWER) fail(`the form's answer is ${JSON.stringify(a)}, not the agent's reply`);
  await form.getByTestId('savecat-save').click({ timeout: T });
  const result = form.locator('[data-testid="savecat-result"]');
  await waitVisible(result, 'the save result', 30_000);
  const said = (await result.textContent()) || '';
  if ((await result.getAttribute('data-ok')) !== 'true') fail(`not saved: ${said}`);
  if (!said.includes('d-102')) fail(`the result does not name the item's file: ${said}`);
  await waitVisible(history.locator('[data-testid="marker"][data-marker="catalog"]'), 'the "saved to the catalog" marker in the history');
  await waitVisible(reply.locator('[data-testid="savecat-open"][disabled]'), 'the button showing the answer as saved');
  await shot(agent, 'savecat-console.png');
  pass(`2 saved: ${said}`);

  setStep('3 the next buyer gets the answer from the bot');
  await buyer.getByTestId('new-chat').click({ timeout: T });
  const panel2 = buyer.locator(sel.panel).nth(1);
  await waitVisible(panel2, 'a second chat panel');
  await panel2.getByTestId('item-select').selectOption({ label: ITEM }, { timeout: T });
  await buyerSend(panel2, QUESTION);
  await waitNth(panel2, 'bot', 0, `a bot reply to "${QUESTION}" in the second chat`);
  const answer = (await panel2.locator(sel.msg('bot')).first().textContent({ timeout: T })) || '';
  if (!answer.includes(ANSWER)) fail(`the second buyer got ${JSON.stringify(answer)}, not the saved answer`);
  const status = await panel2.locator('[data-testid="chat-status"]').getAttribute('data-status', { timeout: T });
  if (status === 'escalated') fail('the second buyer\'s question still went to a person');
  await shot(buyer, 'savecat-buyer.png');
  pass(`3 the second buyer got the saved answer: ${answer}`);
}

run(main);
