// Browser test of the xiaoer web demo: buyer page + agent console, in headless Chromium.
//
//   npm ci --prefix tests/browser
//   node tests/browser/demo.mjs http://127.0.0.1:8080 [screenshot-dir]
//
// Uses playwright-core with Debian's Chromium (CHROMIUM=/path overrides /usr/bin/chromium).
// Prints one line per step passed; exits non-zero with the reason on the first failure.
import {
  T, base, fail, pass, run, launch, watch, waitVisible, sel, buyerSend, waitNth, conversationOf, noXss, setStep, shot, shotDir,
} from './lib.mjs';

const XSS_SCRIPT = '<script>window.__xss=1</script>';
const XSS_IMG = '<img src=x onerror="window.__xss=2">';
const COMPLAINT = '东西收到是坏的,我要投诉!';
const AGENT_REPLY = '您好,我是客服小美,马上为您处理';
const STOCK = '有货吗';
// Not understood by the shipped files (escalated), taught as usage_help in step 9.
const TEACH = '宝贝能不能塞进洗碗机里面洗呀';

async function main() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'zh-CN' });
  const buyer = await context.newPage();
  watch(buyer, 'buyer page');

  // 1. The buyer page loads cleanly and the bot answers.
  setStep('1 buyer page');
  const res = await buyer.goto(`${base}/`, { waitUntil: 'load', timeout: T }).catch((e) => fail(`cannot open ${base}/: ${e.message}`));
  if (!res || !res.ok()) fail(`GET ${base}/ answered ${res && res.status()}`);
  const panel1 = buyer.locator(sel.panel).first();
  await waitVisible(panel1, 'the first chat panel (opened on load)');
  const conv1 = await conversationOf(panel1, 'the first chat panel');
  if (!conv1) fail('the chat panel has no data-conversation id');
  await buyerSend(panel1, STOCK);
  await waitVisible(panel1.locator(sel.msg('buyer')).getByText(STOCK, { exact: true }), `the buyer bubble "${STOCK}"`);
  await waitNth(panel1, 'bot', 0, `a bot reply to "${STOCK}"`);
  pass(`1 buyer page loaded without console errors; "${STOCK}" got a bot reply (${conv1})`);

  // 2. Markup typed by a buyer is shown as text, never run.
  setStep('2 xss on buyer page');
  for (const text of [XSS_SCRIPT, XSS_IMG]) {
    await buyerSend(panel1, text);
    await waitVisible(panel1.locator(`${sel.msg('buyer')}:not([data-id=""])`).getByText(text, { exact: true }),
      `the buyer bubble showing ${text} literally`);
  }
  await buyer.waitForTimeout(300); // give an injected onerror a chance to fire
  await noXss(buyer, 'buyer page');
  const imgs = await buyer.locator('[data-testid="messages"] img').count();
  if (imgs) fail(`buyer page: ${imgs} <img> element(s) inside the message list`);
  pass('2 <script> and <img onerror> sent by a buyer are shown as literal text and not run');

  // 3. A complaint in a second chat is escalated.
  setStep('3 escalation');
  await buyer.getByTestId('new-chat').click({ timeout: T });
  const panel2 = buyer.locator(sel.panel).nth(1);
  await waitVisible(panel2, 'a second chat panel after clicking new-chat');
  const conv2 = await conversationOf(panel2, 'the second chat panel');
  if (!conv2 || conv2 === conv1) fail(`the second panel's conversation id is ${JSON.stringify(conv2)}`);
  await buyerSend(panel2, COMPLAINT);
  await waitNth(panel2, 'bot', 0, 'the bot holding reply to the complaint');
  await waitVisible(panel2.locator('[data-testid="chat-status"][data-status="escalated"]'), 'the second panel status "escalated"');
  pass(`3 complaint escalated with a holding reply (${conv2})`);

  // 4. Agent console: queue, history with decisions, take over, reply, hand back.
  setStep('4 agent console');
  const agent = await context.newPage();
  watch(agent, 'agent page');
  const res2 = await agent.goto(`${base}/agent`, { waitUntil: 'load', timeout: T }).catch((e) => fail(`cannot open ${base}/agent: ${e.message}`));
  if (!res2 || !res2.ok()) fail(`GET ${base}/agent answered ${res2 && res2.status()}`);
  // On loopback without passwords the console works as the first configured agent.
  await waitVisible(agent.locator('[data-testid="me"][data-agent="xiaomei"]'), 'the console working as the first agent (xiaomei)');
  const item2 = agent.locator(sel.queueItem(conv2));
  await waitVisible(item2, `queue item for ${conv2}`);
  await waitVisible(agent.locator(`${sel.queueItem(conv2)}[data-status="escalated"]`), `queue item ${conv2} with data-status="escalated"`);
  const reason = (await item2.getByTestId('queue-reason').textContent({ timeout: T }))?.trim();
  const priority = (await item2.getByTestId('queue-priority').textContent({ timeout: T }))?.trim();
  const summaryNode = item2.getByTestId('queue-summary');
  const summary = (await summaryNode.count()) ? (await summaryNode.first().textContent())?.trim() : '';
  const wait = (await item2.getByTestId('queue-wait').textContent({ timeout: T }))?.trim();
  if (!reason) fail('the escalated queue item has an empty reason');
  if (!priority) fail('the escalated queue item has an empty priority');
  if (!wait || !/\d/.test(wait)) fail(`the escalated queue item's waiting time is ${JSON.stringify(wait)}`);
  await waitVisible(agent.locator(sel.queueItem(conv1)), `queue item for the XSS conversation ${conv1}`);
  console.log(`   queue: reason=${reason} priority=${priority} wait="${wait}" summary="${summary}"`);

  await item2.click({ timeout: T });
  const history = agent.getByTestId('history');
  const complaintMsg = history.locator(sel.msg('buyer')).filter({ hasText: COMPLAINT });
  await waitVisible(complaintMsg, 'the complaint in the agent history');
  const intents = complaintMsg.getByTestId('decision-intents');
  await waitVisible(intents, 'the bot decision under the complaint');
  const intentText = (await intents.textContent())?.trim() || '';
  if (!/[a-z][a-z_]+/.test(intentText)) fail(`the decision shows no intent id: ${JSON.stringify(intentText)}`);
  await waitVisible(agent.locator('[data-testid="conv-status"][data-status="escalated"]'), 'conv-status "escalated"');

  await agent.getByTestId('takeover').click({ timeout: T });
  await waitVisible(agent.locator('[data-testid="conv-status"][data-status="taken"]'), 'conv-status "taken" after take over');
  await waitVisible(panel2.locator('[data-testid="chat-status"][data-status="taken"]'), 'the buyer panel status "taken"');
  await agent.getByTestId('agent-input').fill(AGENT_REPLY, { timeout: T });
  await agent.getByTestId('agent-send').click({ timeout: T });
  await waitVisible(history.locator(sel.msg('agent')).getByText(AGENT_REPLY, { exact: true }), 'the agent reply in the agent history');
  await waitVisible(panel2.locator(sel.msg('agent')).getByText(AGENT_REPLY, { exact: true }), 'the agent reply on the buyer page (live)');
  await shot(agent, 'agent-taken.png');

  await agent.getByTestId('release').click({ timeout: T });
  await waitVisible(agent.locator('[data-testid="conv-status"][data-status="bot"]'), 'conv-status "bot" after hand back');
  await waitVisible(panel2.locator('[data-testid="chat-status"][data-status="bot"]'), 'the buyer panel status back to "bot"');
  const botsBefore = await panel2.locator(sel.msg('bot')).count();
  await buyerSend(panel2, STOCK);
  await waitNth(panel2, 'bot', botsBefore, `a new bot reply to "${STOCK}" after hand back`);
  pass(`4 agent console: queued (${reason}, ${priority}), decision [${intentText}], took over, replied live, handed back, bot answers again`);

  // 5. The XSS strings are literal text in the console too.
  setStep('5 xss on agent console');
  await agent.locator(sel.queueItem(conv1)).click({ timeout: T });
  for (const text of [XSS_SCRIPT, XSS_IMG]) {
    await waitVisible(history.locator(sel.msg('buyer')).getByText(text, { exact: true }), `${text} as literal text in the agent history`);
  }
  await agent.waitForTimeout(300);
  await noXss(agent, 'agent page');
  const agentImgs = await agent.locator('[data-testid="history"] img, [data-testid="queue-item"] img').count();
  if (agentImgs) fail(`agent page: ${agentImgs} <img> element(s) inside the history or queue`);
  pass('5 the agent console shows the markup literally and does not run it');

  // 6. Screenshots.
  setStep('6 screenshots');
  await shot(buyer, 'buyer.png', { fullPage: true });
  await shot(agent, 'agent.png');
  pass(`6 screenshots in ${shotDir}/ (buyer.png, agent.png, agent-taken.png)`);

  // 7. The report: automation rate, reasons, clusters of what the bot could not read (not of
  // correct escalations like the complaint), links back to chats.
  setStep('7 report');
  await agent.getByTestId('tab-report').click({ timeout: T });
  const report = agent.getByTestId('report');
  await waitVisible(report, 'the report panel after clicking tab-report');
  if (await agent.getByTestId('detail').isVisible()) fail('the conversation detail is still shown next to the report');
  await agent.locator('[data-testid="report-range"][data-hours="24"]').click({ timeout: T });
  await waitVisible(agent.locator('[data-testid="report"][data-state="ready"][data-hours="24"]'), 'the 24 h report to load');
  if (await agent.getByTestId('report-error').isVisible()) {
    fail(`the report shows an error: ${await agent.getByTestId('report-error').textContent()}`);
  }
  const automation = (await agent.getByTestId('report-automation').textContent())?.trim() || '';
  if (!/^\d{1,3}(\.\d)?%$/.test(automation)) fail(`the automation rate is ${JSON.stringify(automation)}, not a percentage`);
  const number = async (id) => Number(((await agent.getByTestId(id).textContent()) || '').replace(/[^\d]/g, ''));
  const replied = await number('report-replied');
  const escalated = await number('report-escalated');
  if (!(escalated >= 2)) fail(`the report counts ${escalated} escalations, expected at least 2 (the <script> text and the complaint)`);
  await waitVisible(agent.locator('[data-testid="report-reason"][data-reason="complaint"]'), 'a reason row "complaint"');
  const clusterNodes = agent.getByTestId('report-cluster');
  const exampleWith = (text) => agent.getByTestId('cluster-example').filter({ has: agent.getByText(text, { exact: true }) });
  const xssCluster = clusterNodes.filter({ has: exampleWith(XSS_SCRIPT) }).first();
  const xssExample = xssCluster.getByTestId('cluster-example').filter({ has: agent.getByText(XSS_SCRIPT, { exact: true }) }).first();
  await waitVisible(xssExample, `${XSS_SCRIPT} literally in a cluster example`);
  // The complaint was escalated correctly: counted among the reasons, never a cluster to teach from.
  if (await exampleWith(COMPLAINT).count()) fail(`the correctly escalated "${COMPLAINT}" is in a cluster to teach from`);
  const complaintLabel = (await agent.locator('[data-testid="report-reason"][data-reason="complaint"] [data-testid="reason-label"]').textContent())?.trim() || '';
  if (!/[\u4e00-\u9fff]/.test(complaintLabel)) fail(`the reason "complaint" has no Chinese label: ${JSON.stringify(complaintLabel)}`);
  const clusters = await clusterNodes.count();
  const suggest = (await xssCluster.getByTestId('cluster-suggest').textContent({ timeout: T }))?.trim();
  await agent.waitForTimeout(300);
  await noXss(agent, 'report');
  const injected = await report.locator('script, img').count();
  if (injected) fail(`report: ${injected} <script>/<img> element(s) made from chat text`);
  await shot(agent, 'report.png');

  // The example's conversation link opens that chat in the console.
  const link = xssExample.getByTestId('example-link');
  const href = await link.getAttribute('href', { timeout: T });
  if (href !== `#${conv1}`) fail(`the ${XSS_SCRIPT} example links to ${JSON.stringify(href)}, expected "#${conv1}"`);
  await link.click({ timeout: T });
  await waitVisible(agent.locator('[data-testid="tab-chats"][aria-selected="true"]'), 'the chats tab after clicking an example link');
  await waitVisible(agent.locator(`${sel.queueItem(conv1)}.selected`), `${conv1} selected after clicking its example link`);
  await waitVisible(history.locator(sel.msg('buyer')).getByText(XSS_SCRIPT, { exact: true }), `${XSS_SCRIPT} in the history opened from the report`);
  pass(`7 report: automation ${automation}, replied ${replied}, escalated ${escalated}, ${clusters} cluster(s) without the complaint (${complaintLabel}), ${XSS_SCRIPT} → ${suggest}; markup literal; link opens ${conv1} (report.png)`);

  // 8. A conversation is readable only with its token: the buyer page holds one
  // per panel; the same request without it, or with another panel's, is refused.
  setStep('8 conversation tokens');
  // From outside the page (the expected 403s would be console errors there).
  const get = async (id, token) => {
    const headers = token === undefined ? {} : { 'x-conversation-token': token };
    return (await fetch(`${base}/api/buyer/conversations/${id}`, { headers })).status;
  };
  const post = async (id) => (await fetch(`${base}/api/buyer/conversations/${id}/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: '冒充买家' }),
  })).status;
  const events = async () => {
    const res = await fetch(`${base}/api/buyer/events?c=${conv1}:${'0'.repeat(64)}`);
    await res.body?.cancel();
    return res.status;
  };
  const probe = { none: await get(conv1), wrong: await get(conv2, '0'.repeat(64)), post: await post(conv2), events: await events() };
  for (const [what, status] of Object.entries(probe)) {
    if (status !== 403) fail(`${what}: a buyer request without the conversation's token answered ${status}, not 403`);
  }
  const forged = await panel2.locator(sel.msg('buyer')).getByText('冒充买家').count();
  if (forged) fail('a message posted without the token appeared in the conversation');
  pass('8 a conversation needs its token: without it, or with a wrong one, reads, posts and the event stream get 403');

  // 9. An agent teaches the bot: an escalated message becomes an example of the
  // intent the agent picks, and the next buyer who says it gets an answer.
  setStep('9 teach');
  await buyer.getByTestId('new-chat').click({ timeout: T });
  const panel3 = buyer.locator(sel.panel).nth(2);
  await waitVisible(panel3, 'a third chat panel');
  const conv3 = await conversationOf(panel3, 'the third chat panel');
  await buyerSend(panel3, TEACH);
  await waitNth(panel3, 'bot', 0, `the bot's holding reply to "${TEACH}"`);
  await waitVisible(panel3.locator('[data-testid="chat-status"][data-status="escalated"]'), `"${TEACH}" escalated before teaching`);
  await agent.getByTestId('tab-chats').click({ timeout: T });
  await agent.locator(sel.queueItem(conv3)).click({ timeout: T });
  const taughtMsg = history.locator(sel.msg('buyer')).filter({ has: agent.getByText(TEACH, { exact: true }) }).first();
  await waitVisible(taughtMsg, `"${TEACH}" in the agent history`);
  await taughtMsg.getByTestId('teach-open').click({ timeout: T });
  await taughtMsg.getByTestId('teach-intent').selectOption('usage_help', { timeout: T });
  await taughtMsg.getByTestId('teach-save').click({ timeout: T });
  const result = taughtMsg.locator('[data-testid="teach-result"][data-ok="true"]');
  await waitVisible(result, 'the teach result "added"', 20_000);
  const where = (await result.textContent())?.trim() || '';
  if (!/intents\/usage_help\.toml:\d+/.test(where)) fail(`the teach result names no file:line: ${JSON.stringify(where)}`);
  await shot(agent, 'agent-teach.png');
  // The bot reloads its files: a new buyer saying the same is answered (a few tries while it reloads).
  let answered = false;
  for (let i = 0; i < 5 && !answered; i++) {
    await buyer.waitForTimeout(1000);
    await buyer.getByTestId('new-chat').click({ timeout: T });
    const panel = buyer.locator(sel.panel).last();
    await conversationOf(panel, 'a new chat panel after teaching');
    await buyerSend(panel, TEACH);
    await waitNth(panel, 'bot', 0, `a bot reply to "${TEACH}" after teaching`);
    await buyer.waitForTimeout(300);
    answered = (await panel.getByTestId('chat-status').getAttribute('data-status', { timeout: T })) === 'bot';
  }
  if (!answered) fail(`"${TEACH}" is still escalated after teaching it as usage_help`);
  pass(`9 teach: an agent taught "${TEACH}" as usage_help (${where}); the next buyer saying it is answered by the bot`);

}

run(main);
