// Browser test of the agent desk: two agents at once (小美, the first agent of
// the loopback console, and 老王, a supervisor picked on the login page), in
// headless Chromium against `xiaoer demo`.
//
//   node tests/browser/desk.mjs http://127.0.0.1:8080 [screenshot-dir]
//
// Ownership, the waiting count in the title, desktop notifications, quick
// replies, the bot's draft, notes, marking an answer wrong, reassigning,
// closing, search, the buyer context, and the report's clusters.
import {
  T, base, fail, pass, run, launch, watch, waitVisible, sel, buyerSend, waitNth, conversationOf, setStep, shot, shotDir,
} from './lib.mjs';

const COMPLAINT = '收到的卫衣是破的,我要投诉!';
const UNSURE = '这个宝贝能不能帮我喷点香水再寄呀';
const NOTE = '老客户，先安抚，别急着提退款';
const SEARCHABLE = '香水';
const ASKED = '什么时候发货呀';

// The number in "(n) 店名 · 客服工作台": chats waiting for an agent.
async function titleCount(page) {
  const t = await page.title();
  const m = /^\((\d+)\)/.exec(t);
  return m ? Number(m[1]) : 0;
}

async function waitTitle(page, n, who) {
  const end = Date.now() + T;
  while (Date.now() < end) {
    if ((await titleCount(page)) === n) return;
    await page.waitForTimeout(50);
  }
  fail(`${who}: the title shows ${JSON.stringify(await page.title())}, expected (${n}) waiting`);
}

// Desktop notifications, recorded: the page sees permission "granted".
function fakeNotifications() {
  window.__notes = [];
  window.Notification = class {
    static permission = 'granted';
    static requestPermission() { return Promise.resolve('granted'); }
    constructor(title, options) { window.__notes.push({ title, body: options && options.body }); }
    close() {}
  };
}

async function main() {
  const browser = await launch();
  const viewport = { width: 1360, height: 860 };
  const buyerCtx = await browser.newContext({ viewport, locale: 'zh-CN' });
  const meiCtx = await browser.newContext({ viewport, locale: 'zh-CN' });
  const wangCtx = await browser.newContext({ viewport, locale: 'zh-CN' });
  await meiCtx.addInitScript(fakeNotifications);
  const buyer = await buyerCtx.newPage();
  const mei = await meiCtx.newPage();
  const wang = await wangCtx.newPage();
  watch(buyer, 'buyer');
  watch(mei, '小美');
  watch(wang, '老王');

  // 1. Two agents: the console works as the first agent; the login page picks the supervisor.
  setStep('1 two agents');
  await mei.goto(`${base}/agent`, { waitUntil: 'load', timeout: T });
  await waitVisible(mei.locator('[data-testid="me"][data-agent="xiaomei"]'), '小美 as the console\'s agent');
  await wang.goto(`${base}/login`, { waitUntil: 'load', timeout: T });
  await waitVisible(wang.getByTestId('login-pick'), 'the agent picker of the open console');
  await wang.getByTestId('login-pick').selectOption('laowang', { timeout: T });
  await wang.getByTestId('login-submit').click({ timeout: T });
  await wang.waitForURL(`${base}/agent`, { timeout: T });
  await waitVisible(wang.locator('[data-testid="me"][data-agent="laowang"]'), '老王 logged in');
  const role = await wang.getByTestId('me-role').getAttribute('data-role');
  if (role !== 'supervisor') fail(`老王's role is ${role}`);
  pass('1 小美 works as the first agent; 老王 picked on the login page as supervisor');

  // 2. Escalations: the title counts the waiting chats in both consoles; a desktop notification.
  setStep('2 notifications');
  await buyer.goto(`${base}/`, { waitUntil: 'load', timeout: T });
  const panel1 = buyer.locator(sel.panel).first();
  const conv1 = await conversationOf(panel1, 'the first chat');
  await buyer.locator('[data-testid="buyer-name"]').first().fill('卫衣买家', { timeout: T });
  await buyerSend(panel1, COMPLAINT);
  await waitVisible(panel1.locator('[data-testid="chat-status"][data-status="escalated"]'), 'the complaint escalated');
  await waitTitle(mei, 1, '小美');
  await waitTitle(wang, 1, '老王');
  await buyer.getByTestId('new-chat').click({ timeout: T });
  const panel2 = buyer.locator(sel.panel).nth(1);
  const conv2 = await conversationOf(panel2, 'the second chat');
  await buyerSend(panel2, UNSURE);
  await waitVisible(panel2.locator('[data-testid="chat-status"][data-status="escalated"]'), `"${UNSURE}" escalated`);
  await waitTitle(mei, 2, '小美');
  await waitTitle(wang, 2, '老王');
  const notes = await mei.evaluate(() => window.__notes);
  const high = notes.find((n) => n.title.includes('高优先') && n.title.includes('卫衣买家'));
  if (!high) fail(`no high-priority desktop notification for the complaint: ${JSON.stringify(notes)}`);
  pass(`2 titles count 2 waiting in both consoles; desktop notifications: ${notes.map((n) => n.title).join(' | ')}`);

  // 3. Ownership: 小美 takes the complaint; 老王 sees who has it, cannot reply (403 from the server).
  setStep('3 ownership');
  await mei.locator(sel.queueItem(conv1)).click({ timeout: T });
  await mei.getByTestId('takeover').click({ timeout: T });
  await waitVisible(mei.locator('[data-testid="conv-status"][data-status="taken"][data-agent="xiaomei"]'), '小美 has the chat');
  await waitVisible(mei.locator('[data-testid="marker"][data-marker="takeover"]'), 'the takeover marker in the history');
  await waitTitle(mei, 1, '小美');
  await waitTitle(wang, 1, '老王');
  await wang.locator(sel.queueItem(conv1)).click({ timeout: T });
  await waitVisible(wang.locator('[data-testid="composer-note"][data-owner="xiaomei"]'), '老王 told that 小美 has it');
  if (await wang.getByTestId('agent-composer').isVisible()) fail('老王 has a composer in 小美\'s chat');
  const cookies = await wangCtx.cookies();
  const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const tries = {};
  for (const [what, body] of [['reply', { text: '抢答' }], ['note', { text: '抢备注' }], ['release', {}], ['close', { outcome: 'resolved' }]]) {
    const res = await fetch(`${base}/api/conversations/${conv1}/${what}`, {
      method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify(body),
    });
    tries[what] = res.status;
    if (res.status !== 403) fail(`老王's ${what} in 小美's chat answered ${res.status}, not 403`);
  }
  pass(`3 小美 owns ${conv1}; 老王 sees it and gets ${JSON.stringify(tries)} from the server`);

  // 4. A quick reply found with "/", sent; the buyer sees 小美's name.
  setStep('4 quick reply');
  const input = mei.getByTestId('agent-input');
  await input.click({ timeout: T });
  await input.pressSequentially('/wait', { timeout: T });
  const item = mei.locator('[data-testid="quick-item"][data-key="wait"]');
  await waitVisible(item, 'the quick reply /wait in the list');
  await input.press('Enter');
  const text = await input.inputValue();
  if (!text || text.includes('/wait')) fail(`the composer holds ${JSON.stringify(text)} after picking /wait`);
  await mei.getByTestId('agent-send').click({ timeout: T });
  await waitVisible(mei.getByTestId('history').locator(sel.msg('agent')).getByText(text, { exact: true }), 'the quick reply in the history');
  const agentBubble = panel1.locator(sel.msg('agent')).filter({ hasText: text });
  await waitVisible(agentBubble, 'the quick reply on the buyer page');
  const who = (await agentBubble.getByTestId('msg-who').textContent())?.trim();
  if (who !== '客服 小美') fail(`the buyer sees the agent as ${JSON.stringify(who)}, not "客服 小美"`);
  pass(`4 "/wait" → "${text}" sent; the buyer sees "${who}"`);

  // 5. The bot's draft for the buyer's last message, discarded; an internal note the buyer never sees.
  setStep('5 draft and note');
  await buyerSend(panel1, '有货吗');
  await waitVisible(mei.getByTestId('history').locator(sel.msg('buyer')).getByText('有货吗', { exact: true }), 'the buyer\'s new message');
  await mei.getByTestId('draft').click({ timeout: T });
  await waitVisible(mei.locator('[data-testid="draft-bar"][data-state="ready"]'), 'the draft bar');
  const draft = await input.inputValue();
  if (!draft.trim()) fail('the draft left the composer empty');
  await mei.getByTestId('draft-discard').click({ timeout: T });
  if ((await input.inputValue()) !== '') fail('discarding the draft left text in the composer');
  await mei.getByTestId('mode-note').click({ timeout: T });
  await input.fill(NOTE, { timeout: T });
  await mei.getByTestId('agent-send').click({ timeout: T });
  await waitVisible(mei.locator('[data-testid="note"]').getByText(NOTE, { exact: true }), 'the note in 小美\'s history');
  await waitVisible(wang.locator('[data-testid="note"]').getByText(NOTE, { exact: true }), 'the note in 老王\'s history (live)');
  await buyer.waitForTimeout(300);
  if (await panel1.getByText(NOTE).count()) fail('the buyer page shows the internal note');
  await mei.getByTestId('mode-reply').click({ timeout: T });
  await shot(mei, 'desk.png');
  pass(`5 draft "${draft.slice(0, 20)}…" offered and discarded; the note is seen by both agents, not by the buyer`);

  // 6. The supervisor reassigns the chat to himself, then closes it with an outcome.
  setStep('6 reassign and close');
  await waitVisible(wang.getByTestId('assign-form'), 'the reassign control for the supervisor');
  if (await mei.getByTestId('assign-form').isVisible()) fail('小美 (not a supervisor) has the reassign control');
  await wang.getByTestId('assign-to').selectOption('laowang', { timeout: T });
  await wang.getByTestId('assign').click({ timeout: T });
  await waitVisible(wang.locator('[data-testid="conv-status"][data-agent="laowang"]'), '老王 has the chat');
  await waitVisible(mei.locator('[data-testid="marker"][data-marker="reassign"]').getByText('小美 → 老王', { exact: false }), 'the reassign marker in 小美\'s history');
  await waitVisible(mei.locator('[data-testid="composer-note"][data-owner="laowang"]'), '小美 told that 老王 has it now');
  await shot(wang, 'desk-supervisor.png');
  await wang.getByTestId('close-outcome').selectOption('resolved', { timeout: T });
  await wang.getByTestId('close').click({ timeout: T });
  await waitVisible(wang.locator('[data-testid="conv-status"][data-closed="resolved"]'), 'the chat closed as resolved');
  await waitVisible(mei.locator('[data-testid="marker"][data-marker="close"]'), 'the close marker in 小美\'s history');
  await waitVisible(panel1.locator('[data-testid="chat-status"][data-status="bot"]'), 'the buyer back with the bot');
  pass('6 老王 reassigned 小美 → 老王 (marker in both histories) and closed it as resolved');

  // 7. Finding chats: search by text, the mine / closed / high filters.
  setStep('7 search and filters');
  const queueIds = async (page) => page.locator('[data-testid="queue"] [data-testid="queue-item"], [data-testid="queue-bot"] [data-testid="queue-item"]')
    .evaluateAll((nodes) => nodes.map((n) => n.dataset.conversation));
  const expectQueue = async (page, want, what) => {
    const end = Date.now() + T;
    let got = [];
    while (Date.now() < end) {
      got = (await queueIds(page)).sort();
      if (JSON.stringify(got) === JSON.stringify([...want].sort())) return;
      await page.waitForTimeout(50);
    }
    fail(`${what}: the queue shows ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };
  await mei.getByTestId('search').fill(SEARCHABLE, { timeout: T });
  await expectQueue(mei, [conv2], `search "${SEARCHABLE}"`);
  await mei.getByTestId('search').fill('', { timeout: T });
  await mei.locator('[data-testid="filter"][data-filter="closed"]').click({ timeout: T });
  await expectQueue(mei, [conv1], 'the closed filter');
  await mei.locator('[data-testid="filter"][data-filter="unassigned"]').click({ timeout: T });
  await expectQueue(mei, [conv2], 'the unassigned filter');
  await mei.locator('[data-testid="filter"][data-filter="mine"]').click({ timeout: T });
  await expectQueue(mei, [], 'the mine filter (小美 holds nothing now)');
  await mei.locator('[data-testid="filter"][data-filter=""]').click({ timeout: T });
  await expectQueue(mei, [conv1, conv2], 'all chats');
  pass(`7 search "${SEARCHABLE}" finds ${conv2}; closed, unassigned and mine filter the queue`);

  // 8. Buyer context: the same buyer's earlier chat; unread counts for a chat not open.
  setStep('8 context and unread');
  await buyer.getByTestId('new-chat').click({ timeout: T });
  const panel3 = buyer.locator(sel.panel).nth(2);
  const conv3 = await conversationOf(panel3, 'the third chat');
  await panel3.locator('[data-testid="buyer-name"]').fill('卫衣买家', { timeout: T });
  await buyerSend(panel3, '我要投诉,还是没人处理');
  await waitVisible(panel3.locator('[data-testid="chat-status"][data-status="escalated"]'), 'the third chat escalated');
  const unread = mei.locator(`${sel.queueItem(conv3)} [data-testid="unread"]`);
  await waitVisible(unread, `an unread count on ${conv3}`);
  await mei.locator(sel.queueItem(conv3)).click({ timeout: T });
  await waitVisible(mei.locator(`[data-testid="context-earlier"][data-conversation="${conv1}"]`), `the earlier chat ${conv1} in the buyer context`);
  if (await mei.locator(`${sel.queueItem(conv3)} [data-testid="unread"]`).count()) fail('the unread count stays after opening the chat');
  pass(`8 ${conv3} had an unread count until opened; its context lists the same buyer's ${conv1}`);

  // 9. A bot answer marked wrong goes to the report's clusters; understood escalations do not.
  setStep('9 report');
  const botsBefore = await panel1.locator(sel.msg('bot')).count();
  await buyerSend(panel1, ASKED);
  await waitNth(panel1, 'bot', botsBefore, `the bot's answer to "${ASKED}"`);
  await mei.locator(sel.queueItem(conv1)).click({ timeout: T });
  await waitVisible(mei.getByTestId('history').locator(sel.msg('buyer')).getByText(ASKED, { exact: true }), `"${ASKED}" in 小美's history`);
  const botAnswer = mei.getByTestId('history').locator(sel.msg('bot')).last();
  await waitVisible(botAnswer.getByTestId('mark-wrong'), 'the mark-wrong control under a bot answer');
  await botAnswer.getByTestId('mark-wrong').click({ timeout: T });
  await waitVisible(botAnswer.getByTestId('marked-wrong'), 'the answer marked wrong');
  await mei.getByTestId('tab-report').click({ timeout: T });
  await waitVisible(mei.locator('[data-testid="report"][data-state="ready"]'), 'the report');
  const wrongCluster = mei.locator('[data-testid="report-cluster"]').filter({ has: mei.locator('[data-testid="cluster-reason"][data-reason="marked_wrong"]') });
  await waitVisible(wrongCluster, 'a cluster of answers marked wrong');
  const label = (await wrongCluster.first().locator('[data-testid="reason-label"]').first().textContent())?.trim();
  if (!label || !label.includes('客服标记答错')) fail(`the marked-wrong reason shows ${JSON.stringify(label)}`);
  const clustered = await mei.locator('[data-testid="example-text"]').allTextContents();
  for (const understood of [COMPLAINT, '我要投诉,还是没人处理']) {
    if (clustered.includes(understood)) fail(`the correctly escalated "${understood}" is a cluster to teach from`);
  }
  if (!clustered.includes(ASKED)) fail(`the answer marked wrong ("${ASKED}") is missing from the clusters: ${JSON.stringify(clustered)}`);
  if (!clustered.includes(UNSURE)) fail(`"${UNSURE}" (not understood) is missing from the clusters: ${JSON.stringify(clustered)}`);
  await shot(mei, 'desk-report.png');
  pass(`9 report: the wrong answer clustered as "${label}", "${UNSURE}" too, complaints not (shots in ${shotDir})`);
}

run(main);
