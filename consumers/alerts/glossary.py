"""The platform's words in its three languages: closed sets that alert texts name (minerals ...).

Each table maps a code to its ``(en, zh, ur)`` words. ``tests/unit/alerts`` fails if a member of
an enumeration, or a language, is missing from a table.
"""



from __future__ import annotations

from types import MappingProxyType
from typing import Final

Words = tuple[str, str, str]
"""``(en, zh, ur)``."""

MINERALS: Final = MappingProxyType({
    "copper": ("copper", "铜", "تانبا"),
    "gold": ("gold", "金", "سونا"),
    "silver": ("silver", "银", "چاندی"),
    "lead": ("lead", "铅", "سیسہ"),
    "zinc": ("zinc", "锌", "جست"),
    "iron_ore": ("iron ore", "铁矿石", "خام لوہا"),
    "chromite": ("chromite", "铬铁矿", "کرومائٹ"),
    "lignite": ("lignite", "褐煤", "لگنائٹ"),
    "coal": ("coal", "煤", "کوئلہ"),
    "lithium": ("lithium", "锂", "لیتھیم"),
    "rare_earths": ("rare earths", "稀土", "نایاب زمینی عناصر"),
    "molybdenum": ("molybdenum", "钼", "مولبڈینم"),
})

PROVINCES: Final = MappingProxyType({
    "PK-BA": ("Balochistan", "俾路支省", "بلوچستان"),
    "PK-KP": ("Khyber Pakhtunkhwa", "开伯尔-普赫图赫瓦省", "خیبر پختونخوا"),
    "PK-PB": ("Punjab", "旁遮普省", "پنجاب"),
    "PK-SD": ("Sindh", "信德省", "سندھ"),
    "PK-GB": ("Gilgit-Baltistan", "吉尔吉特-巴尔蒂斯坦", "گلگت بلتستان"),
    "PK-JK": ("Azad Jammu & Kashmir", "自由查谟和克什米尔", "آزاد جموں و کشمیر"),
    "PK-IS": ("Islamabad", "伊斯兰堡", "اسلام آباد"),
})

TITLE_TYPES: Final = MappingProxyType({
    "RL": ("reconnaissance licence", "踏勘许可证", "ریکانسینس لائسنس"),
    "EL": ("exploration licence", "勘探许可证", "ایکسپلوریشن لائسنس"),
    "MDRL": ("mineral deposit retention licence", "矿床保留许可证", "معدنی ذخیرہ برقراری لائسنس"),
    "ML": ("mining lease", "采矿租约", "مائننگ لیز"),
    "PL": ("prospecting licence", "探矿许可证", "پراسپیکٹنگ لائسنس"),
    "SSML": ("small-scale mining lease", "小规模采矿租约", "چھوٹے پیمانے کی مائننگ لیز"),
    "MM": ("minor minerals licence", "小矿种许可证", "معمولی معدنیات لائسنس"),
})

APPROVAL_KINDS: Final = MappingProxyType({
    "title": ("mineral title", "矿业权", "معدنی ٹائٹل"),
    "IEE": ("initial environmental examination", "初步环境审查", "ابتدائی ماحولیاتی جائزہ"),
    "EIA": ("environmental impact assessment", "环境影响评价", "ماحولیاتی اثرات کا جائزہ"),
    "export_noc": ("export NOC", "出口无异议证明", "برآمدی این او سی"),
    "release_order": ("release order", "放行令", "ریلیز آرڈر"),
    "certificate": ("export certificate", "出口证书", "برآمدی سرٹیفکیٹ"),
})

DECISIONS: Final = MappingProxyType({
    "granted": ("granted", "批准", "منظور"),
    "refused": ("refused", "拒绝", "مسترد"),
    "suspended": ("suspended", "暂停", "معطل"),
    "cancelled": ("cancelled", "撤销", "منسوخ"),
    "restored": ("restored", "恢复", "بحال"),
    "renewed": ("renewed", "续期", "تجدید شدہ"),
    "renewal_refused": ("refused renewal", "拒绝续期", "تجدید مسترد"),
    "approved": ("approved", "批准", "منظور"),
    "approved_with_conditions": ("approved with conditions", "附条件批准", "مشروط طور پر منظور"),
    "rejected": ("rejected", "驳回", "مسترد"),
    "deemed_approved": ("deemed approved", "视为批准", "منظور تصور"),
})

STAGES: Final = MappingProxyType({
    "exploration": ("exploration", "勘探", "تلاش"),
    "feasibility": ("feasibility", "可行性研究", "فزیبلٹی"),
    "construction": ("construction", "建设", "تعمیر"),
    "production": ("production", "生产", "پیداوار"),
    "care_and_maintenance": ("care and maintenance", "停产维护", "نگہداشت و مرمت"),
    "closure": ("closure", "关闭", "بندش"),
})

HOLD_REASONS: Final = MappingProxyType({
    "document_discrepancy": ("document discrepancy", "单证不符", "دستاویزات میں تضاد"),
    "missing_export_approval": ("missing export approval", "缺少出口批准",
                                "برآمدی منظوری موجود نہیں"),
    "valuation": ("valuation query", "估价质疑", "قیمت پر سوال"),
    "classification": ("classification query", "归类质疑", "درجہ بندی پر سوال"),
    "physical_examination": ("physical examination", "实物查验", "مال کا معائنہ"),
    "sampling": ("sampling", "取样检验", "نمونہ گیری"),
    "security": ("security check", "安全检查", "سیکیورٹی جانچ"),
    "other": ("other reasons", "其他原因", "دیگر وجوہات"),
})

APPROVAL_PROBLEMS: Final = MappingProxyType({
    "none_cited": ("no export approval is cited", "未引用任何出口批准",
                   "کوئی برآمدی منظوری درج نہیں"),
    "unknown": ("the cited approval is not on record", "所引用的批准无记录",
                "درج منظوری کا کوئی ریکارڈ نہیں"),
    "not_approved": ("the cited approval is not approved", "所引用的批准未获通过",
                     "درج منظوری منظور شدہ نہیں"),
    "expired": ("the cited approval has expired", "所引用的批准已过期",
                "درج منظوری کی میعاد ختم ہو چکی"),
    "other_exporter": ("the cited approval belongs to another exporter",
                       "所引用的批准属于其他出口商",
                       "درج منظوری کسی اور برآمد کنندہ کی ہے"),
})

REJECTIONS: Final = MappingProxyType({
    "signature": ("signature does not verify", "签名验证失败", "دستخط کی تصدیق نہیں ہوئی"),
    "unknown_key": ("unknown signing key", "未知签名密钥", "نامعلوم دستخطی کلید"),
    "authority": ("outside its authority", "超出授权范围", "اختیار سے باہر"),
    "replay": ("replayed event", "重放的事件", "دوبارہ بھیجا گیا واقعہ"),
    "reorder": ("event out of order", "事件顺序错乱", "ترتیب سے ہٹا ہوا واقعہ"),
    "own_subject": ("another party's subject", "他方的事项", "کسی دوسرے فریق کا معاملہ"),
    "party_mismatch": ("party does not match", "当事方不符", "فریق مطابقت نہیں رکھتا"),
    "invalid_transition": ("a step its lifecycle does not allow", "其生命周期不允许的步骤",
                           "ایسا قدم جس کی مراحل میں اجازت نہیں"),
    "wrong_partition": ("record in the wrong partition", "记录位于错误的分区",
                        "غلط پارٹیشن میں ریکارڈ"),
    "time_skew": ("dated too far from when it was recorded, outside any backfill window",
                  "记录时间与写入时间相差过大且不在任何补录窗口内",
                  "ریکارڈ ہونے کے وقت سے بہت مختلف تاریخ، کسی بیک فل ونڈو کے بغیر"),
    "sequence_gap": ("held: earlier events of its source are missing from the log",
                     "已暂扣:该来源的先前事件在日志中缺失",
                     "روکا گیا: اس ماخذ کے پچھلے واقعات لاگ میں موجود نہیں"),
    "fork": ("held: two different events of one source claim the same place in its history",
             "已暂扣:同一来源的两个不同事件声称占据其历史中的同一位置",
             ("روکا گیا: ایک ہی ماخذ کے دو مختلف واقعات اس کی تاریخ میں ایک ہی"
             " مقام کا دعویٰ کرتے ہیں")),
    "hash_chain_broken": ("does not link to its source's previous event",
                          "未链接到该来源的上一个事件",
                          "اپنے ماخذ کے پچھلے واقعے سے منسلک نہیں"),
})

TABLES: Final = MappingProxyType({
    "mineral": MINERALS, "province": PROVINCES, "title_type": TITLE_TYPES,
    "approval_kind": APPROVAL_KINDS, "decision": DECISIONS, "stage": STAGES,
    "hold_reason": HOLD_REASONS, "approval_problem": APPROVAL_PROBLEMS, "rejection": REJECTIONS,
})
"""Glossary name → table; a ``Term`` parameter names its glossary."""
