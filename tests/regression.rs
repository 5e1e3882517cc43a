//! Table-driven cases through the engine: one row per message. `BASICS` are the
//! taxonomy's own typical messages; `REGRESSION` holds one row per misfire found
//! in eval and fixed (the message is a paraphrase, never a dev-set line).

use super::engine;
use xiaoer::dialogue::Conversation;

fn check(rows: &[(&str, &[&str])]) {
    let e = engine();
    let mut failed = Vec::new();
    for (text, want) in rows {
        let d = e.decide(&mut Conversation::default(), text, false);
        let mut got = d.intents.clone();
        got.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        if got != want {
            failed.push(format!(
                "{text:?}: want {want:?}, got {got:?} ({:.2})",
                d.confidence
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} rows failed:\n{}",
        failed.len(),
        rows.len(),
        failed.join("\n")
    );
}

const BASICS: &[(&str, &[&str])] = &[
    ("在吗", &["greeting"]),
    ("L码还有吗", &["stock"]),
    ("什么时候发货", &["ship_time"]),
    ("能发顺丰吗", &["courier"]),
    ("发广州要多久", &["delivery_time"]),
    ("包邮吗", &["shipping_fee"]),
    ("这个多少钱", &["price"]),
    // Who installs it and where is usage_help, as is adjusting a part
    // (如何上下调节); whether it is easy to install stays product_info.
    ("安装师傅上门装吗", &["usage_help"]),
    ("师傅上门装吗", &["usage_help"]),
    ("这个如何上下调节", &["usage_help"]),
    ("自己好安装吗", &["product_info"]),
    // An item missing from a parcel that came is defect; a parcel not come
    // stays logistics.
    ("箱子里没看到充电器", &["defect"]),
    ("快递还没到", &["logistics"]),
    // Urgency with what it is for is a bare hurry-up: logistics.
    ("我着急收货送人", &["logistics"]),
    // Nobody told or came to the buyer: complaint.
    ("没人通知我就取消了", &["complaint"]),
    ("一直没人给我修", &["complaint"]),
    // Which warehouse it ships from is courier; when it ships stays ship_time.
    ("是保税仓发的吗", &["courier"]),
    ("仓库发货了吗", &["ship_time"]),
    // Reproaches: not told in advance, a simple thing made hard.
    ("那也得提前通知一声吧", &["complaint"]),
    ("一个小问题搞得这么复杂", &["complaint"]),
    // The item sent back is a return; the order undone stays cancel_order.
    ("这件我退了吧", &["return_exchange"]),
    ("把单退了", &["cancel_order"]),
    // Timing the offer is promotion; the pack's count is product_info, a price
    // beside a count stays price.
    ("今天买划算还是明天买划算", &["promotion"]),
    ("一盒是10片吗", &["product_info"]),
    ("2斤198是吧", &["price"]),
    // Whether a part is sold is stock; a price offered stays bargain. Whether
    // the buyer's money came is payment; a refund's arrival stays the return's.
    ("这个的遥控器卖吗", &["stock"]),
    ("滤芯有卖吗", &["stock"]),
    ("60块卖吗", &["bargain"]),
    ("帮我查一下货款到账了吗", &["payment"]),
    ("退款到账了吗", &["return_exchange"]),
    // The parcel not where it was said to be, or sent elsewhere, is
    // delivery_issue; a parcel not come yet stays logistics.
    ("快递柜里找不到我的快递", &["delivery_issue"]),
    ("怎么又寄到深圳了", &["delivery_issue"]),
    ("怎么还没送到", &["logistics"]),
    // The return's postage made good is the return's; postage asked stays
    // shipping_fee.
    ("商家会补偿运费吗", &["return_exchange"]),
    ("运费多少", &["shipping_fee"]),
    // The thing received the wrong size, said alone, is a return's reason;
    // asked before buying it stays size_advice.
    ("衣服太大了", &["return_exchange"]),
    ("M码会不会太小", &["size_advice"]),
    // A few extra asked as a gift is promotion; delivery to the door stays
    // courier.
    ("能多送几包吗", &["promotion"]),
    ("能送到家吗", &["courier"]),
    ("便宜点", &["bargain"]),
    ("有优惠券吗", &["promotion"]),
    ("是正品吗", &["authenticity"]),
    ("什么材质", &["product_info"]),
    ("我165穿什么码", &["size_advice"]),
    ("有色差吗", &["image_mismatch"]),
    ("能用花呗吗", &["payment"]),
    ("地址写错了帮我改一下", &["order_change"]),
    ("拍错了取消一下", &["cancel_order"]),
    ("能开发票吗", &["invoice"]),
    ("我的快递到哪了", &["logistics"]),
    ("显示签收了但我没收到", &["delivery_issue"]),
    ("不喜欢能退吗", &["return_exchange"]),
    ("收到是坏的", &["defect"]),
    ("这个怎么安装", &["usage_help"]),
    ("好评返现吗", &["review"]),
    ("我要投诉", &["complaint"]),
    ("转人工", &["human"]),
    // A worry or constraint of the buyer's own about the goods, or the use
    // they mean it for, is product_info; a fault found stays defect.
    ("我怕太甜", &["product_info"]),
    ("我对酒精过敏", &["product_info"]),
    ("我怕有异味", &["product_info"]),
    ("孕妇不敢吃辣", &["product_info"]),
    ("我主要用来跑步", &["product_info"]),
    ("收到有异味", &["defect"]),
    ("发霉了不能吃了", &["defect"]),
    // The after-sale parcel's shipping and tracking are the return's.
    ("我换的货什么时候发", &["return_exchange"]),
    ("售后的货发到哪了", &["return_exchange"]),
    ("订单什么时候发货", &["ship_time"]),
    // When the buyer's own order comes is logistics; before ordering it is
    // delivery_time.
    ("订单多久配送", &["logistics"]),
    ("我的单子什么时候能到", &["logistics"]),
    ("下单后多久能到", &["delivery_time"]),
    // The offer's arithmetic checked is promotion (a number's point is no
    // clause cut: 7.5折); asking for a discount stays bargain.
    ("两件7.5折吗", &["promotion"]),
    ("第二件多少钱", &["promotion"]),
    ("券什么时候反", &["promotion"]),
    ("能便宜5块吗", &["bargain"]),
    ("这个多少钱", &["price"]),
    ("谢谢", &["closing"]),
    ("讲个笑话", &["none"]),
    ("有货吗?什么时候发", &["stock", "ship_time"]),
    ("亲在吗,有货吗", &["stock"]),
    ("is this in stock", &["stock"]),
    ("when will you ship", &["ship_time"]),
    ("how long to deliver to Brazil", &["delivery_time"]),
];

#[test]
fn basics() {
    check(BASICS);
}

const FORMS: &[(&str, &[&str])] = &[
    ("有現貨嗎", &["stock"]),
    ("ＸＬ碼還有嗎", &["stock"]),
    ("zai ma", &["greeting"]),
    ("bao you ma", &["shipping_fee"]),
    ("木有货了吗", &["stock"]),
    ("肿么还不发货", &["ship_time"]),
];

#[test]
fn written_forms() {
    check(FORMS);
}

const REGRESSION: &[(&str, &[&str])] = &[
    // A weak 请问 in the question's clause hid the stock question (greeting won).
    ("你好，请问这款有白色的吗", &["stock"]),
    // A long polite clause about something else is not a greeting.
    ("您好，请问附近有什么好玩的景点", &["none"]),
    // Homophone typo of 发货.
    ("什么时候法货", &["ship_time"]),
    // Pinyin typed as such.
    ("shen me shi hou fa huo", &["ship_time"]),
    ("bao you bu", &["shipping_fee"]),
    // 么 inside 什么 split the clause.
    ("发什么快递呀", &["courier"]),
    // A Latin alias glued to Chinese was padded with spaces and split the clause.
    ("可以发sf吗", &["courier"]),
    // A flaw plus a return question is a defect (defect absorbs return_exchange).
    ("杯子裂了 能退吗", &["defect"]),
    // An angry buyer's topic is part of the complaint.
    ("发错货了还不理人 太过分了 我要投诉", &["complaint"]),
    // Spam that mentions invoices is off-topic, not an invoice question.
    ("专业代开发票 联系微信", &["none"]),
    // A number-only example of gibberish made "88" (bye) off-topic.
    ("88", &["closing"]),
    // A short clause that echoes a plain thanks is part of the goodbye: its weak
    // real reading (没有问题 → authenticity) used to win.
    ("没有问题啦 谢谢亲", &["closing"]),
    ("行 没有问题了 谢谢老板", &["closing"]),
    ("ok 谢谢 木有问题", &["closing"]),
    // ...but a real question beside a thanks keeps its intent.
    ("有没有XXL的 谢谢", &["stock"]),
    ("能便宜点吗 谢谢", &["bargain"]),
    ("好的 那发顺丰吧 谢谢", &["courier"]),
    // Topic, a space, then a short question about it: one question (the
    // topic's), not a second price question; a topic that asks on its own
    // stays a question of its own.
    ("邮费 多少钱", &["shipping_fee"]),
    ("运费 多少", &["shipping_fee"]),
    ("yun fei duo shao", &["shipping_fee"]),
    ("包邮吗 多少钱", &["shipping_fee", "price"]),
    ("邮费多少钱 这个多少钱", &["shipping_fee", "price"]),
    // A word with no reading of its own before a short question: one question.
    ("黑色 有吗", &["stock"]),
    ("早啊 老板", &["greeting"]),
    // A return swallows the cancel cues it explains (不想要了, 拍错 after the
    // parcel came); 出货 means 发货, so "not shipped yet" is a cancellation.
    ("我要退货 不想要了", &["return_exchange"]),
    ("拍错了 货已经收到了 怎么退货", &["return_exchange"]),
    ("还没出货的话能退款吗", &["cancel_order"]),
];

#[test]
fn regression() {
    check(REGRESSION);
}

/// The character model (crates/nlu/src/model.rs) as a second reader: where
/// keywords and examples were unsure and no keyword or pattern stated their
/// reading, it names the intent (still escalated: the confidence stays low).
/// Paraphrases of dev-set misses, each wrong before the model.
const MODEL_READS: &[(&str, &[&str])] = &[
    ("玻璃碗拿出来就有一道裂缝", &["defect"]),      // was none
    ("手链我手腕15cm会不会太长", &["size_advice"]), // was product_info
    ("冰箱是一級能效嗎", &["product_info"]),        // was none
    ("我肚子有点大 选L还是XL", &["size_advice"]),   // was return_exchange
    ("今天下单 明天能给我发走不", &["ship_time"]),  // was courier
    ("嗯嗯晓得了 我先去上班了 晚点再说 谢谢老板", &["closing"]), // was none
];

#[test]
fn the_character_model_names_what_the_rules_were_unsure_of() {
    check(MODEL_READS);
}

/// A decision the character model does not share loses confidence: these were
/// answered with a wrong intent before (a stock line for "is anyone there"
/// and for a return), now a person takes them.
#[test]
fn a_reading_the_model_does_not_share_goes_to_a_person() {
    let e = engine();
    for text in ["有没有活人啊", "到货了 买多了 能退一件吗"] {
        let d = e.decide(&mut Conversation::default(), text, false);
        assert_eq!(
            d.action,
            xiaoer::nlu::files::Action::Escalate,
            "{text:?}: {:?} {:.2}",
            d.intents,
            d.confidence
        );
    }
}

/// Calibrated confidence (crates/nlu/src/calibration.rs, learnt on
/// real_train.jsonl): a plain question the rules read right but were unsure
/// of is answered. A return with a bare how-to was read as two intents and
/// went to a person; return_exchange now absorbs usage_help, so it is one
/// question, answered. (message, intents, action).
const CALIBRATED: &[(&str, &[&str], &str)] = &[
    ("这款有没有大一号的", &["stock"], "reply"),
    ("我要退货 怎么操作", &["return_exchange"], "reply"),
];

#[test]
fn calibrated_confidence_decides_who_answers() {
    let e = engine();
    for (text, want, action) in CALIBRATED {
        let d = e.decide(&mut Conversation::default(), text, false);
        let mut got = d.intents.clone();
        got.sort();
        assert_eq!(got, *want, "{text:?} ({:.2})", d.confidence);
        assert_eq!(d.action.as_str(), *action, "{text:?} ({:.2})", d.confidence);
    }
}

/// Classes of real buyer phrasing (issue 12) fixed by their shape, one group
/// per mechanism, both directions: the shape is read, and a neighbour that is
/// not the shape keeps its own intent. Paraphrases, never lines of the eval sets.
const REAL_SHAPES: &[(&str, &[&str])] = &[
    // Closings by their shape: interjections only, an understanding reached,
    // nothing more needed, the buyer leaving to act ...
    ("额额", &["closing"]),
    ("原来是这样啊", &["closing"]),
    ("目前不需要了", &["closing"]),
    ("那我等会去拍", &["closing"]),
    // ... but a question after it, or a question in the same words, is not one.
    ("那我先拍 能便宜点吗", &["bargain"]),
    ("暂时没货吗", &["stock"]),
    // A fault with no fault word: it will not do what it is for, something in
    // it that should not be, fewer pieces than ordered ...
    ("插上去开不了机", &["defect"]),
    ("拖把不吸水了", &["defect"]),
    ("充电充不进去怎么办", &["defect"]),
    ("打开里面全是灰", &["defect"]),
    ("买了三盒只来了两盒", &["defect"]),
    // ... while asking whether it does is a product question.
    ("这个灯亮不亮", &["product_info"]),
    ("会起球吗", &["product_info"]),
    // An attribute of what the shop sells: taste, difference, what is in the
    // box, what it needs, A不A adjectives, one or a set, add-on parts ...
    ("这个什么口味的", &["product_info"]),
    ("两款有什么区别", &["product_info"]),
    ("带充电器吗", &["product_info"]),
    ("需要连网吗", &["product_info"]),
    ("脆不脆", &["product_info"]),
    ("是一盒还是一箱", &["product_info"]),
    ("能自己加装内存吗", &["product_info"]),
    // ... but the manual is usage help.
    ("有说明书吗", &["usage_help"]),
    // Numbers and quantities as a price question, a price seen that differs ...
    ("3斤88是吧", &["price"]),
    ("100一共5包吗", &["price"]),
    ("怎么是129了", &["price"]),
    // ... a bare number offered is bargaining; postage in it is shipping_fee.
    ("90元吧", &["bargain"]),
    ("3斤88包邮吗", &["shipping_fee"]),
    ("90元包邮吧", &["shipping_fee"]),
    // Price protection: the rule is return_exchange, asking for the money bargain.
    ("有价保吗", &["return_exchange"]),
    ("我要申请价保", &["bargain"]),
    // A bare hurry-up is logistics; hurrying the shipping stays ship_time.
    ("麻烦快点", &["logistics"]),
    ("快点发货", &["ship_time"]),
    ("说好今天到的", &["logistics"]),
    // Where the refund goes is a return question; paying with it is payment.
    ("退款会回到支付宝吗", &["return_exchange"]),
    ("能用支付宝付吗", &["payment"]),
    // Asking for a gift is promotion.
    ("再送我两个吧", &["promotion"]),
    // Whether a variant or a quantity exists is stock; an offer is promotion.
    ("有500个吗", &["stock"]),
    ("有没有小一点的", &["stock"]),
    ("有没有优惠的", &["promotion"]),
    // A same-day delivery asked of the courier is about a parcel on its way
    // (logistics; both were delivery_time); arrival before buying stays
    // delivery_time.
    ("今天下午会送到吗", &["logistics"]),
    ("一会儿能收到吗", &["logistics"]),
    ("今天拍明天能到吗", &["delivery_time"]),
    ("发上海几天能到", &["delivery_time"]),
];

#[test]
fn real_shapes() {
    check(REAL_SHAPES);
}

/// Classes of real buyer phrasing fixed by their vocabulary or a rule of the
/// engine (issue 12, second round), one group per mechanism, with the
/// neighbour each must not take. Written for the test, never eval lines.
const REAL_CLASSES: &[(&str, &[&str])] = &[
    // The longest phrase wins: 申请价保 (bargain) holds 价保 (return_exchange).
    ("你好 我要申请价保", &["bargain"]),
    ("价保是多久", &["return_exchange"]),
    // The platform's own services are none; the shop's cancel stays.
    ("怎么取消自动续费", &["none"]),
    ("我的旧手机能回收吗", &["none"]),
    ("帮我取消订单", &["cancel_order"]),
    // After-sale review and its timing, and where refunded money goes.
    ("售后审核要多久", &["return_exchange"]),
    ("退款审核通过了吗", &["return_exchange"]),
    ("退款是原路返回吗", &["return_exchange"]),
    ("发广州要多久", &["delivery_time"]),
    // Booking or chasing an installation is usage_help, not dispatch.
    ("热水器哪天上门安装", &["usage_help"]),
    ("师傅什么时候来安装", &["usage_help"]),
    ("什么时候发货", &["ship_time"]),
    // A delivery's time or contact changed is order_change, not an exchange.
    ("送货时间可以换到周六吗", &["order_change"]),
    ("收件电话能改吗", &["order_change"]),
    ("能换个颜色吗", &["return_exchange"]),
    // Purchase limits and when a coupon comes are promotion.
    ("这个限购吗", &["promotion"]),
    ("券什么时候发", &["promotion"]),
    // Goods received on a near day, or an arrival already named, are the
    // buyer's parcel on its way; a bare arrival day stays delivery_time.
    ("明天能收到货吗", &["logistics"]),
    ("显示明天到 能准时吗", &["logistics"]),
    ("今天拍明天能到吗", &["delivery_time"]),
    // Closings by shape: the buyer's own next step, courtesies.
    ("那我明天给快递员打电话吧", &["closing"]),
    ("那我问问家里人", &["closing"]),
    ("不客气", &["closing"]),
    ("那我什么时候能收到", &["delivery_time"]),
    // A report of something done, then thanks, signs off; a problem
    // reported with thanks keeps its intent.
    ("钱已经到账了 谢谢", &["closing"]),
    ("好了，已经取消了", &["closing"]),
    ("快递还没到 谢谢", &["logistics"]),
    ("刚拆开镜子碎了 谢谢", &["defect"]),
    // A locker the buyer did not want is delivery_issue.
    ("别给我放蜂巢 我不方便取", &["delivery_issue"]),
    // A second question still counts when it is one; a parcel already on
    // its way absorbs the arrival question however sure the first clause is.
    ("这款有货吗 顺便问下发什么快递", &["stock", "courier"]),
    ("已经发出了吧 大概什么时候到", &["logistics"]),
    // Absorption inside one clause: a flaw stated beside a return asked for.
    ("我拍的跟实际收到的不一样能申请退货吗", &["defect"]),
    ("怎么申请退货", &["return_exchange"]),
    // Another way to reach a person; one's own contact details changed.
    ("还有别的联系方式吗", &["human"]),
    ("能给个你的微信吗", &["human"]),
    ("what is your whatsapp", &["human"]),
    ("订单上的联系方式能改一下吗", &["order_change"]),
    // A promise of a reply or a fix broken; a promised delivery day is chased.
    ("说好今天给我回复的到现在也没消息", &["complaint"]),
    ("不是说今天送到吗", &["logistics"]),
    // A near tie in a clause goes to the reading a keyword or pattern
    // states, not to one resting on loosely similar examples.
    ("这个架子承重多少", &["product_info"]),
    ("这个架子多少钱", &["price"]),
    // A bare how-to beside a return asks how to return.
    ("我想退货 怎么操作啊", &["return_exchange"]),
    ("这个怎么操作啊", &["usage_help"]),
    // A question beside thanks: the thanks do not answer for the question.
    ("我写的备注有用吗? 谢谢了哈", &["order_change"]),
    // Exasperation in its spoken forms is a complaint; a plain chase is not.
    ("迟迟不发货 你们什么意思", &["complaint"]),
    ("效率呢 等了一个礼拜了", &["complaint"]),
    ("有没有搞错 怎么还没发货", &["complaint"]),
    ("怎么还没发货", &["ship_time"]),
    // A purchase limit is the promotion's rule; a discount for more is bargain.
    ("为什么最多只能买两个", &["promotion"]),
    ("一个账号只能拍一单吗", &["promotion"]),
    ("买两件能便宜点吗", &["bargain"]),
    // A restock asked goods-first, an order's state, where a refund goes.
    ("白色的货什么时候有", &["stock"]),
    ("我的订单现在什么状态", &["logistics"]),
    ("支持原返吗", &["return_exchange"]),
    ("能用银行卡付款吗", &["payment"]),
    // Which variants exist, asked in English, is stock; a swap after delivery
    // is an exchange; whether the colour matches the photo stays image_mismatch.
    ("do you have the spicy flavour", &["stock"]),
    ("does it come in blue", &["stock"]),
    ("is there a bigger size", &["stock"]),
    (
        "can I swap it for another colour after it arrives",
        &["return_exchange"],
    ),
    ("is the colour the same as the picture", &["image_mismatch"]),
    // The buyer's own next step, ordering again, is a closing; beside a
    // cancel word it is the cancel.
    ("好的那我重新下单付款", &["closing"]),
    ("行 我回头重新下单吧", &["closing"]),
    ("取消了我重新下单", &["cancel_order"]),
    // Buy N get M is the offer's arithmetic; a plain count's cost is price.
    ("拍三件送一件吗", &["promotion"]),
    ("买三件多少钱", &["price"]),
    // Whether a part is sold on its own is stock; its cost is price.
    ("滤芯可以单独买吗", &["stock"]),
    ("单独买一个盖子要多少钱", &["price"]),
    // Send what is in stock first is a dispatch wish; whether it is in stock
    // stays stock.
    ("有现货就先发吧", &["ship_time"]),
    ("现货先发给我", &["ship_time"]),
    ("黑色的有现货吗", &["stock"]),
    // A clause a closing pattern frames whole, asking nothing, is the buyer's
    // sign-off (the topic inside it is their next step); asked, it is the topic.
    ("那我等退款到账", &["closing"]),
    ("那我就等发货了", &["closing"]),
    ("好的我去查一下物流", &["closing"]),
    ("好 退款吧", &["return_exchange"]),
    ("那我等多久能退款", &["return_exchange"]),
    ("那我要等几天才发货", &["ship_time"]),
    // When the invoice is sent is the invoice's; when the goods are, ship_time.
    ("发票多久能寄到", &["invoice"]),
    ("发票什么时候寄给我", &["invoice"]),
    ("付款后多久发货", &["ship_time"]),
    // The goods of an exchange or a repair sent back are the after-sale's
    // (return_exchange), not a new order's dispatch.
    ("换货的新衣服什么时候发出", &["return_exchange"]),
    ("返修的手机什么时候寄回来", &["return_exchange"]),
    ("有货的先发", &["ship_time"]),
    ("有货吗 什么时候发", &["stock", "ship_time"]),
    // A fault with what mending it costs, a manual missing from the box, a
    // fault asked why: defect. The plain cost, the manual asked for, a
    // property asked about stay theirs.
    ("坏了修一下要多少钱", &["defect"]),
    ("修一下多少钱", &["price"]),
    ("说明书没有", &["defect"]),
    ("有说明书吗", &["usage_help"]),
    ("怎么洗了一次就缩水了", &["defect"]),
    ("会缩水吗", &["product_info"]),
    // Nobody told the buyer before the order was cancelled: complaint.
    ("没人通知我就把订单取消了", &["complaint"]),
    ("帮我取消订单", &["cancel_order"]),
    // Leaving the platform's services is none, and the character model does
    // not overrule the none file's own word (退订); a return stays one.
    ("怎么退订短信", &["none"]),
    ("会员怎么退订", &["none"]),
    ("退货怎么退", &["return_exchange"]),
    // An after-sale refused and contested, a dispute with the platform:
    // complaint; what to do after a refusal, how to apply: return_exchange.
    ("为什么拒绝我的售后申请", &["complaint"]),
    ("纠纷在哪里申请", &["complaint"]),
    ("退货申请被拒绝了怎么办", &["return_exchange"]),
    ("怎么申请售后", &["return_exchange"]),
    // What a pack holds, checked with a count, is product_info; a price
    // beside a count is price (two figures need something between them: 12包
    // is one count).
    ("一箱是12包吗", &["product_info"]),
    ("这个是两瓶装的吗", &["product_info"]),
    ("50一共6包是嘛", &["price"]),
    ("30元2包吗", &["price"]),
    // A delivery moved later or sent elsewhere is order_change; a hurry stays
    // logistics.
    ("能不能晚点送 我下班才到家", &["order_change"]),
    ("别送公司了 送家里", &["order_change"]),
    ("请问能早点送到吗", &["logistics"]),
    // Whether the shop has the buyer's money is payment; a refund arriving
    // is return_exchange.
    ("你们收到款了吗", &["payment"]),
    ("货款你们收到了吧", &["payment"]),
    ("退款到账了吗", &["return_exchange"]),
    // How the delivery is done, asked before buying, is courier; a parcel on
    // its way stays logistics.
    ("送货前会打电话吗", &["courier"]),
    ("有同城配送吗", &["courier"]),
    ("我的快递到哪了", &["logistics"]),
    // The order waiting on the shop's own purchase (JD's 采购中) is ship_time;
    // a buyer buying for a company is not.
    ("订单显示在采购中要多久", &["ship_time"]),
    ("采购要几天", &["ship_time"]),
    ("我们公司采购100个能便宜吗", &["bargain"]),
    // Whether the shop sells a thing at all is stock; what it sells being
    // genuine stays authenticity.
    ("你们卖滤网吗", &["stock"]),
    ("店里卖充电器不", &["stock"]),
    ("你们卖的是正品吗", &["authenticity"]),
    // A variant asked for with a bare 有 and a comparative is stock; a
    // quality of the item stays product_info.
    ("有厚一点的吗", &["stock"]),
    ("有长点的么", &["stock"]),
    ("会不会很厚", &["product_info"]),
    // A size found wrong once worn is return_exchange; a fit asked about
    // before buying stays size_advice.
    ("鞋子大了半码怎么办", &["return_exchange"]),
    ("裤子小了一码", &["return_exchange"]),
    ("会不会小了一码", &["size_advice"]),
    // Whether it is easy to install or clean is product_info; how to do it
    // stays usage_help.
    ("自己好装吗", &["product_info"]),
    ("容易清洗吗", &["product_info"]),
    ("怎么安装", &["usage_help"]),
    // Leave to ask, with no topic yet, is an opening; with the topic it is
    // the topic.
    ("我有几个问题可以问一下吗", &["greeting"]),
    ("我想咨询一下", &["greeting"]),
    ("问一下什么时候发货", &["ship_time"]),
    // Delivery to the door asked before buying is courier; not brought to
    // the door is delivery_issue.
    ("你们送货上门吗", &["courier"]),
    ("能送到楼上吗", &["courier"]),
    ("怎么没有送货上门", &["delivery_issue"]),
    // What the goods are and do, asked without a product keyword: a charge's
    // length, the generation, the oven, what it pairs with, fresh stock.
    ("充满要多久", &["product_info"]),
    ("充电器多久能到", &["delivery_time"]),
    ("这是几代的", &["product_info"]),
    ("可以微波炉加热吗", &["product_info"]),
    ("能连蓝牙吗", &["product_info"]),
    ("怎么连蓝牙", &["usage_help"]),
    ("是今年的新茶吗", &["product_info"]),
    ("可以带上飞机吗", &["product_info"]),
    // Still on the way is logistics; where refunded money went is
    // return_exchange, whatever 到哪了 says.
    ("怎么还在路上", &["logistics"]),
    ("钱退到哪了", &["return_exchange"]),
    ("包裹在路上被摔坏了", &["delivery_issue"]),
    // Pleased with what came, said in passing, is a sign-off; beside a real
    // question it is the question.
    ("宝贝收到了 很喜欢", &["closing"]),
    ("东西不错 下次还来", &["closing"]),
    ("很喜欢这个颜色 还有货吗", &["stock"]),
    // When the balance of a presale is paid is payment.
    ("尾款什么时候付", &["payment"]),
    // How the order is packed, or a card sent with it, is a request for the
    // order (order_change); how the packaging is stays product_info.
    ("送人的 帮我包装好看点", &["order_change"]),
    ("能帮我写个贺卡吗", &["order_change"]),
    ("包装怎么样", &["product_info"]),
    // A good review promised, asking nothing, is a sign-off; asking what a
    // review earns stays review.
    ("收到会给好评的", &["closing"]),
    ("I'll leave 5 stars", &["closing"]),
    ("五星好评返多少钱", &["review"]),
    // English: asking for an answer is human; what it works with is
    // product_info, a fault with it stays defect; a gift asked for is
    // promotion.
    ("seller please answer", &["human"]),
    ("does it work with iphone", &["product_info"]),
    ("is it compatible with windows 11", &["product_info"]),
    ("please add a gift", &["promotion"]),
    // A fault with no fault word: a part come off, a failure that keeps
    // coming, a charge that does not last. The same asked before buying
    // stays product_info.
    ("扣子掉了", &["defect"]),
    ("鞋跟断了", &["defect"]),
    ("蓝牙老是断", &["defect"]),
    ("电池不耐用 半天就没电", &["defect"]),
    ("扣子是什么材质", &["product_info"]),
    ("充满电能用半天吗", &["product_info"]),
    // The platform's membership and the account's phone are none (labelling
    // call); the order's phone stays order_change, a return stays itself.
    ("plus会员怎么退", &["none"]),
    ("手机号换了怎么改绑", &["none"]),
    ("收货手机号能改吗", &["order_change"]),
    ("会员买的能退吗", &["return_exchange"]),
    // The price changed on the order before paying is bargain (the intent
    // files' own boundary); the address changed stays order_change.
    ("拍下改价", &["bargain"]),
    ("现在拍给我改价格吧", &["bargain"]),
    ("地址改好了吗", &["order_change"]),
    // Used or opened goods, the body's reaction after use and poor
    // workmanship are faults claimed; the same asked before buying stays
    // product_info, 是二手的吗 authenticity.
    ("怎么给我发了个旧的", &["defect"]),
    ("有使用痕迹", &["defect"]),
    ("孩子吃了过敏", &["defect"]),
    ("穿着磨脚", &["defect"]),
    ("缝线歪歪扭扭", &["defect"]),
    ("孕妇吃了会过敏吗", &["product_info"]),
    ("吃了过敏吗", &["product_info"]),
    ("是二手的吗", &["authenticity"]),
    // When the courier delivers, asked before buying, is courier; a delivery
    // booked for a time is order_change; weekend dispatch stays ship_time.
    ("周末送货吗", &["courier"]),
    ("晚上能送吗", &["courier"]),
    ("能约个时间送吗", &["order_change"]),
    ("周末发货吗", &["ship_time"]),
    // Seventh round. A bare request to change, with no object, is the order
    // being changed; a change of something else named beside it keeps that.
    ("我要改一下", &["order_change"]),
    ("我需要更改一下", &["order_change"]),
    ("对 你帮我改吧", &["order_change"]),
    ("评价写错了 能修改吗", &["review"]),
    ("密码怎么修改", &["none"]),
    // A topic, a space, then a question of up to four characters about it: one
    // question, the topic's.
    ("发票开错了 能修改吗", &["invoice"]),
    ("运费太贵了 能少点不", &["shipping_fee"]),
    ("邮费 能便宜吗", &["shipping_fee"]),
    // The refund's amount, a refund withdrawn, a refund set against credit:
    // return_exchange; the link to pay a difference: payment.
    ("退给我多少钱", &["return_exchange"]),
    ("撤销退款申请", &["return_exchange"]),
    ("我要取消这个订单", &["cancel_order"]),
    ("退的钱会还到白条吗", &["return_exchange"]),
    ("白条可以用吗", &["payment"]),
    ("补差价的链接发一下", &["payment"]),
    ("新疆要补运费吗", &["shipping_fee"]),
    // Whether the parcel has reached a place is logistics; one character after
    // 到 is something else.
    ("到上海了吗", &["logistics"]),
    ("到我们这了没", &["logistics"]),
    ("到杭州要几天", &["delivery_time"]),
    ("到货了吗", &["stock"]),
    // A price with or without tax asked is price; whether it includes tax, or
    // an invoice, stays invoice.
    ("含税价多少", &["price"]),
    ("不含税的单价是多少", &["price"]),
    ("价格含税吗", &["invoice"]),
    ("能开发票吗", &["invoice"]),
    // Insults and exasperation in spoken forms are complaint.
    ("你们眼瞎啊", &["complaint"]),
    ("这也不行那也不行", &["complaint"]),
    ("这不是扯淡吗", &["complaint"]),
    // A fault asked about as a possibility before buying is product_info; a
    // fault found is defect.
    ("会漏水不", &["product_info"]),
    ("容易生锈吗", &["product_info"]),
    ("这个锅会生锈吗", &["product_info"]),
    ("会掉漆不", &["product_info"]),
    ("生锈了", &["defect"]),
    ("怎么会漏水", &["defect"]),
    ("收到就漏水", &["defect"]),
    // Whether a price is the promotion's is promotion; the price after it is
    // price. A quality problem stated bare is defect; one denied or supposed
    // beside a return question stays return_exchange.
    ("这是秒杀价格吗", &["promotion"]),
    ("秒杀过后多少钱", &["price"]),
    ("特价多少钱", &["price"]),
    ("是质量问题", &["defect"]),
    ("不是质量问题能退吗", &["return_exchange"]),
    ("如果有质量问题怎么办", &["return_exchange"]),
    // Same-day or next-day delivery asked before buying is delivery_time; a
    // same-day delivery of a parcel on its way stays logistics. Delivery within
    // the city is courier.
    ("能当天到吗", &["delivery_time"]),
    ("可以次日达吗", &["delivery_time"]),
    ("今天能送到吗", &["logistics"]),
    ("有同城配送吗", &["courier"]),
    ("能同城送吗", &["courier"]),
    // Eighth round. The price difference asked for back is bargain, beside a
    // refund word too; paying a difference for an exchange stays the return's.
    ("能申请差价吗", &["bargain"]),
    ("我是退款啊 退差价", &["bargain"]),
    ("差价能返给我吗", &["bargain"]),
    ("把差价退我", &["bargain"]),
    ("申请换货补差价吗", &["return_exchange"]),
    ("价保怎么申请", &["return_exchange"]),
    // A good review promised as a sign-off is closing; asking what one earns
    // stays review. 你好 across a word boundary (给你好评) is no greeting.
    ("一定给您五星评价", &["closing"]),
    ("会给你好评的", &["closing"]),
    ("好评有返现吗", &["review"]),
    ("你好久没回我了", &["complaint"]),
    // A wait for an answer complained of is complaint; asking for someone to
    // answer stays human.
    ("半天没人回", &["complaint"]),
    ("一直没人回复 什么情况", &["complaint"]),
    ("怎么没人回", &["human"]),
    ("转人工", &["human"]),
    // Pinyin typed among characters spells the phrase, at full weight.
    ("ni好", &["greeting"]),
    ("你hao", &["greeting"]),
    ("zai吗", &["greeting"]),
    ("tui款", &["return_exchange"]),
    ("iphone13有货吗", &["stock"]),
    // Ninth round (from real_train held out). The refund going back to the
    // card is the return's; paying by card stays payment.
    ("退款会返回到我的银行卡吗", &["return_exchange"]),
    ("钱会返还到卡里吗", &["return_exchange"]),
    ("可以用银行卡付款吗", &["payment"]),
    // What came is not what was chosen: a wrong item, defect even with a
    // return asked; a return with no flaw stays return_exchange.
    ("收到的东西跟我拍的不一样 能退吗", &["defect"]),
    ("我拍的款和收到的不一样", &["defect"]),
    ("不喜欢可以退吗", &["return_exchange"]),
    // Issued, then mailed: the invoice's errand, after a yes too.
    ("好的，开好了寄给我", &["invoice"]),
    ("开完之后寄过来", &["invoice"]),
    // A bare request for a link goes to a person (none); the link to pay a
    // difference stays payment (named from real_dev misses).
    ("发个链接吧", &["none"]),
    ("把商品链接发我", &["none"]),
    ("你把差价链接给我", &["payment"]),
    // Days gone by since ordering and no parcel is logistics; a delivery
    // estimate asked stays delivery_time (named from a real_dev miss).
    ("下单都三天了还没到", &["logistics"]),
    ("拍下到现在一个星期了还没收到", &["logistics"]),
    ("发到北京要三天吗", &["delivery_time"]),
    // A fault as a condition (只要坏了就能换吗) asks the policy, not a defect;
    // a fault found stays defect (named from a real_dev miss).
    ("只要坏了就能换吗", &["return_exchange"]),
    ("坏了能换吗", &["defect"]),
    // A part swapped or added is the item's build (product_info); a return
    // stays return_exchange (named from a real_dev miss).
    ("这款笔记本能换固态吗", &["product_info"]),
    ("能加内存条吗", &["product_info"]),
    ("收到了不喜欢可以换吗", &["return_exchange"]),
    // A taste or smell found, stated, is defect; asked before buying it is
    // not (named from a real_dev miss).
    ("闻着有一股霉味", &["defect"]),
    ("吃起来是苦的 这正常吗", &["defect"]),
    // The parcel's papers missing, listed together, are defect; how to read
    // the manual stays usage_help (named from a real_dev miss).
    ("说明书和合格证也没有", &["defect"]),
    ("说明书怎么看", &["usage_help"]),
    // From real_train held out. The price dropped just after buying is
    // bargain, beside a parcel not yet come; 呢 before 就 is no clause cut.
    ("刚买还没到呢就降价了", &["bargain"]),
    ("买了两天就降了20", &["bargain"]),
    ("快递怎么还没到", &["logistics"]),
    // The courier who cannot be reached is the parcel's (logistics); asking
    // for an agent stays human.
    ("联系不上配送员", &["logistics"]),
    ("联系不上你们客服 我要找人工", &["human"]),
    // A size or weight missing from the range is a stock question.
    ("没有500g装的么", &["stock"]),
    // Whether the order went through is payment; its dispatch asked after
    // it stays ship_time (named from a real_dev miss).
    ("我拍上了吗", &["payment"]),
    ("订单提交成功了吧", &["payment"]),
    ("拍好了 什么时候发货", &["ship_time"]),
    // From real_train held out: the page's price held up is price; how two
    // things differ is product_info, even when it is their use.
    ("上面不是写的59吗", &["price"]),
    ("茶杯和茶壶用法有什么区别", &["product_info"]),
    ("这个怎么用", &["usage_help"]),
    // The pace complained of as a whole clause is complaint; as the reason
    // for another courier it stays courier (real_train held out and real_dev).
    ("现在太慢了", &["complaint"]),
    ("这效率也太差了", &["complaint"]),
    ("能发顺丰不 别的太慢了", &["courier"]),
    // Cancelled without a word to the buyer is complaint; a cancel asked
    // stays cancel_order (named from a real_dev miss).
    ("没人通知就把我订单取消了", &["complaint"]),
    ("这个能取消吗", &["cancel_order"]),
    // A hurry for the parcel on its way is logistics; days asked stay
    // delivery_time (real_train held out).
    ("尽量早点送到", &["logistics"]),
    ("能否早一点送过来", &["logistics"]),
    ("几天能送到", &["delivery_time"]),
    // A thing given with the purchase, asked, is promotion; delivery words
    // (送货上门, 送达) stay courier and logistics (real_train held out).
    ("买这个你们送杯子吗", &["promotion"]),
    ("能送几个夹子吗", &["promotion"]),
    ("送的什么快递", &["courier"]),
    ("能送上门吗", &["courier"]),
    // How the after-sale service works or is reached is the return's
    // process; asking for an agent stays human (named from real_dev misses).
    ("售后怎么处理", &["return_exchange"]),
    ("找售后可以吗", &["return_exchange"]),
    ("我要转人工", &["human"]),
    // How easy it is, asked before buying, and how two things differ in a
    // respect are product_info; how to do it stays usage_help (real_train
    // held out).
    ("组装起来麻烦吗", &["product_info"]),
    ("这两款功能上有什么不同", &["product_info"]),
    ("安装视频有吗", &["usage_help"]),
    // A call reported is no request for a person: its topic decides; asking
    // to be called stays human. The after-sale case's own state is the
    // return's (real_train held out).
    ("你们之前打过电话给我 说退款好了", &["return_exchange"]),
    ("给我打个电话", &["human"]),
    ("售后单在哪看", &["return_exchange"]),
    // The warranty left on one's own item is after-sale service; its length
    // asked before buying stays product_info (real_train held out).
    ("我的电视还在保修期吗", &["return_exchange"]),
    ("保修期还剩多久", &["return_exchange"]),
    ("这个保修多久", &["product_info"]),
    // Tenth round, every class named from real_train's held-out misses.
    // Contact put off till later is a goodbye; contact asked for now stays human.
    ("要是后天还没到我再联系客服吧", &["closing"]),
    ("我要联系客服", &["human"]),
    // 票 at the head of a clause is the invoice, alone as a topic too.
    ("票多久能寄出来", &["invoice"]),
    ("票 几天能寄到", &["invoice"]),
    ("明天能发出吗", &["ship_time"]),
    // The rest works and one part does not: a fault named by what fails.
    ("别的都正常 就是按键不灵", &["defect"]),
    ("就是有点贵", &["bargain"]),
    // Part of the order kept, the rest dropped: a change, not a cancel.
    ("只要红色的其他不要可以吗", &["order_change"]),
    ("这单不要了", &["cancel_order"]),
    // Trust in the shop's word gone, and hurt said outright, are complaints;
    // a fake asked about before buying stays authenticity.
    ("你们的承诺都是假的", &["complaint"]),
    ("这样真让人寒心", &["complaint"]),
    ("是不是假货", &["authenticity"]),
    // A heart is affection, as 么么哒 is; beside a question it is no topic.
    ("❤❤", &["closing"]),
    ("有货吗❤", &["stock"]),
    // 卷 typed for 券 in the coupon words (as 优惠卷 already was); 卷纸 stays paper.
    ("代金卷怎么用", &["promotion"]),
    ("卷纸有货吗", &["stock"]),
    // How a supplement is taken (饭前还是饭后, 一天几粒) is usage; how long it
    // keeps stays product_info.
    ("饭前吃还是饭后吃", &["usage_help"]),
    ("一天吃几粒", &["usage_help"]),
    ("保质期多久", &["product_info"]),
    // No longer to be had (不好买了) is stock.
    ("最近怎么不好买了", &["stock"]),
];

#[test]
fn real_classes() {
    check(REAL_CLASSES);
}

/// Whole conversations replayed turn by turn: (message, intents, action).
fn replay(turns: &[(&str, &[&str], &str)]) {
    let e = engine();
    let mut conv = Conversation::default();
    for (k, (text, want, action)) in turns.iter().enumerate() {
        let d = e.decide(&mut conv, text, false);
        let mut got = d.intents.clone();
        got.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(
            (got, d.action.as_str()),
            (want, *action),
            "turn {}: {text:?} ({:?})",
            k + 1,
            d.reason
        );
    }
}

#[test]
fn dialogue_follow_ups_inherit_the_topic() {
    replay(&[
        ("你们一般发哪家快递", &["courier"], "reply"),
        ("那EMS呢", &["courier"], "reply"),
        ("多少钱", &["shipping_fee"], "reply"),
        ("好的 谢谢", &["closing"], "reply"),
    ]);
    replay(&[
        ("Is the green one in stock?", &["stock"], "reply"),
        ("and size L?", &["stock"], "reply"),
    ]);
    // An elliptical follow-up needs 0.6 to leave the topic, whatever the
    // threshold: "size" alone read size_advice at 0.56 once the shipped
    // threshold was 0.55.
    replay(&[
        ("Do you have the blue one in stock?", &["stock"], "reply"),
        ("and size M?", &["stock"], "reply"),
    ]);
}

#[test]
fn dialogue_bargaining_ladder() {
    replay(&[
        ("这个能便宜点吗", &["bargain"], "reply"),
        ("再便宜点嘛", &["bargain"], "reply"),
        ("最低多少 少10块行不行", &["bargain"], "escalate"),
    ]);
}

#[test]
fn dialogue_repeated_question_escalates() {
    replay(&[
        ("什么时候发货", &["ship_time"], "reply"),
        ("什么时候发货", &["ship_time"], "escalate"),
    ]);
}

/// "那算了" opens like a follow-up, but a buyer giving up after bargaining is
/// closing the topic: it used to inherit bargain and escalate as the third ask.
#[test]
fn dialogue_giving_up_is_not_another_ask() {
    replay(&[
        ("这个能便宜点吗", &["bargain"], "reply"),
        ("再便宜点嘛", &["bargain"], "reply"),
        ("那算了 我再看看", &["closing"], "reply"),
    ]);
}

/// The follow-ups issue 5 names, each after the question it continues, and a
/// bare acknowledgement after an answer gets a closing line, not a repeat.
#[test]
fn dialogue_short_follow_ups() {
    replay(&[
        ("这件白色的有货吗", &["stock"], "reply"),
        ("那黑色呢", &["stock"], "reply"),
    ]);
    replay(&[
        ("我160斤穿什么码", &["size_advice"], "reply"),
        ("我175呢", &["size_advice"], "reply"),
    ]);
    replay(&[
        (
            "How long does shipping to Chile take?",
            &["delivery_time"],
            "reply",
        ),
        ("and to Brazil?", &["delivery_time"], "reply"),
    ]);
    replay(&[
        ("发什么快递", &["courier"], "reply"),
        ("那顺丰呢", &["courier"], "reply"),
    ]);
}

#[test]
fn a_bare_ok_after_an_answer_is_closed_warmly() {
    let e = engine();
    for ack in ["好的", "嗯", "ok"] {
        let mut conv = Conversation::default();
        let first = e.decide(&mut conv, "几天能发货", false);
        let d = e.decide(&mut conv, ack, false);
        assert_eq!(d.intents, ["closing"], "{ack}");
        assert_eq!(d.action.as_str(), "reply");
        assert_ne!(d.reply, first.reply, "{ack}");
        assert!(d.reply.chars().count() > 4, "{ack}: {}", d.reply);
    }
}

/// A conversation never hears the same sentence twice from the bot while
/// variants last: the bargaining ladder and repeated topics rotate lines.
#[test]
fn no_sentence_twice_in_a_conversation() {
    let e = engine();
    let mut conv = Conversation::default();
    let mut seen = std::collections::HashSet::new();
    for text in [
        "能便宜点吗",
        "包邮吗",
        "再便宜点嘛",
        "发什么快递",
        "那顺丰呢",
        "几天到",
        "有赠品吗",
        "好的谢谢",
    ] {
        let d = e.decide(&mut conv, text, false);
        assert!(
            seen.insert(d.reply.clone()),
            "{text}: said twice: {}",
            d.reply
        );
    }
}

/// Normalising twice changes nothing: "zai  ma" (two spaces, found by the
/// fuzzer) used to become "zai ma" first and 在吗 only the second time; so did
/// a pictograph where a pinyin alias has its space ("bao☀you").
#[test]
fn normalising_is_idempotent_on_fuzzer_finds() {
    let n = engine().nlu.normalizer();
    for text in [
        "zai  ma",
        "zai\u{0} ma",
        "ＺＡＩ　ＭＡ",
        "lao\r\nban",
        "Y\u{30a}",
        "a\u{200d}\u{30a}",
        "e\u{fe0f}\u{301}",
        "bao\u{2600}you",
        "zai\u{1f600} ma",
        "\u{1f44d}\u{1f600}zai\u{1f600}ma",
    ] {
        let once = n.normalize(text);
        assert_eq!(n.normalize(&once), once, "{text:?}");
    }
}

/// English buyers are buyers abroad (issue 11, item 18): their shipping, fee,
/// delivery-time and courier answers come from the international facts of the
/// configuration, never the domestic rule (free over ¥59, a Xinjiang
/// surcharge); "do you ship to X?" is answered from `[shop] ships_to`, and a
/// place not on it goes to a person. Before: the first two rows got the
/// domestic rule, "do you ship to Brazil?" escalated.
#[test]
fn english_shipping_answers_are_international() {
    use xiaoer::dialogue::Reason;
    let e = engine();
    let f = e.config.facts("en");
    let fact = |k: &str| f.get(k).cloned().unwrap_or_else(|| panic!("[shop] {k}"));
    // (message, intents, reason, what the reply must say)
    let rows: &[(&str, &[&str], Option<Reason>, &[String])] = &[
        (
            "how much is shipping to the US?",
            &["shipping_fee"],
            None,
            &[
                "the United States".into(),
                format!("US${}", fact("intl_fee")),
            ],
        ),
        (
            "is shipping free to Brazil?",
            &["shipping_fee"],
            None,
            &["Brazil".into(), format!("US${}", fact("intl_free_over"))],
        ),
        (
            "do you ship to Brazil?",
            &["delivery_time"],
            None,
            &["Brazil".into(), fact("days_intl")],
        ),
        (
            "Do you deliver to Canada",
            &["delivery_time"],
            None,
            &["Canada".into()],
        ),
        (
            "how long does delivery to Spain take?",
            &["delivery_time"],
            None,
            &[fact("days_intl")],
        ),
        (
            "which courier do you use?",
            &["courier"],
            None,
            &[fact("courier_intl")],
        ),
        (
            "when will you ship my order?",
            &["ship_time"],
            None,
            &[fact("ship_hours_intl")],
        ),
        // Not on the list: a person checks, nothing is promised.
        (
            "do you ship to Narnia?",
            &["delivery_time"],
            Some(Reason::UnlistedDestination),
            &[],
        ),
        (
            "How much is shipping to Atlantis?",
            &["shipping_fee"],
            Some(Reason::UnlistedDestination),
            &[],
        ),
    ];
    let domestic = [
        fact("free_shipping_over"),
        fact("remote_regions"),
        fact("courier"),
        "¥".to_string(),
    ];
    for (text, want, reason, says) in rows {
        let d = e.decide(&mut Conversation::default(), text, false);
        if reason.is_none() {
            assert_eq!(d.intents, *want, "{text:?}: {:?} {}", d.reason, d.reply);
        }
        assert_eq!(d.reason, *reason, "{text:?}: {}", d.reply);
        for s in *says {
            assert!(
                d.reply.contains(s.as_str()),
                "{text:?}: {s:?} not in {:?}",
                d.reply
            );
        }
        for s in &domestic {
            assert!(
                !d.reply.contains(s.as_str()),
                "{text:?}: domestic {s:?} in {:?}",
                d.reply
            );
        }
    }
    // The follow-up names its own country.
    replay(&[
        ("How long to ship to Mexico?", &["delivery_time"], "reply"),
        ("and to Chile?", &["delivery_time"], "reply"),
    ]);
}

/// A shop's first `xiaoer check` is clean (issue 11, item 17): the shipped
/// files gave 5 warnings (three keywords claimed by two intents, one example
/// of authenticity read as complaint).
#[test]
fn the_shipped_files_check_clean() {
    let e = engine();
    assert!(e.nlu.warnings.is_empty(), "{}", e.nlu.warnings);
    let misread = e.nlu.misread_examples();
    assert!(misread.is_empty(), "{misread}");
}

/// Keywords heard by sound: a typo keeps a character of the word it stands
/// for; other words that only sound alike across their boundary are not it.
/// (message, keyword, heard or not)
#[test]
fn homophones_keep_a_character_of_the_word() {
    let rows: &[(&str, &str, bool)] = &[
        ("什么时候法货", "发货", true),
        ("能便意点吗", "便宜点", true),
        ("shai tu fan duo shao qian", "晒图返多少", true),
        ("滤芯可以单独买吗", "新客", false),
    ];
    let e = engine();
    let mut failed = Vec::new();
    for &(text, keyword, heard) in rows {
        let d = e.decide(&mut Conversation::default(), text, true);
        let by_sound = format!("{keyword} (by sound)");
        let found = d
            .classification
            .clauses
            .iter()
            .any(|c| c.evidence.keywords.iter().any(|(k, _, _)| *k == by_sound));
        if found != heard {
            failed.push(format!(
                "{text:?}: {keyword} by sound {found}, want {heard}"
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
