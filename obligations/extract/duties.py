"""The obligations a clause states: for each stated cadence (and each 定期 without a period),
who owes it, at which level (scope), what is to be done, and — for 下发后N日内 — which duty of
the same clause it follows. Duties of a children's director toward each key child are
case-scoped; a duty of a role otherwise sits at the role's level.

Pure: text in, duties out; every guess a person should check carries a flag. The rules read
the grammar of these documents (subject 要/应 verb, 各地/各级/县级 markers), never a plan's words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from obligations.directory import Directory
from obligations.extract.cadence import Found, normalize, read_phrase, start_of

LEVELS = ("province", "city", "county", "township", "village")
_SENTENCE = re.compile(r"[^。;!?]+[。;!?]?")
_PIECE = re.compile(r"[^,、]+[,、]?")
# words that mark the level a duty is done at, in the words before the cadence
_LEVEL_MARKS = [
    (re.compile(r"各(?:地|设区)?市|地市级?|市级"), "city"),
    (re.compile(r"各县|县级|县\((?:市、?区|区)\)|各地"), "county"),
    (re.compile(r"乡镇(?:\(街道\))?要|街道要"), "township"),
]
_ALL_LEVELS = re.compile(r"各级")
_KEY_CHILD = re.compile(r"重点关爱[\u4e00-\u9fff]{0,4}对象|重点对象|一人一档|每名[\u4e00-\u9fff]{0,6}儿童")
_FILLER = re.compile(r"^(?:并|且|同时|要|应当?|须|必须|将|于|在|均|按要求|定期|至少|不少于|不低于|及时)+")
_COUNTS = re.compile(r"(?:至少|不少于|不低于)|(?:一|两|二|三|四|五|六|\d{1,2})次|频率|定期")
_SHORT_ALIAS_NEXT = "部门机关等、,和与及要应牵头负责"
REVIEW_PERIODIC = "原文“定期”未给出周期，按默认进度报送周期，请协调员确认"


@dataclass
class Duty:
    what: str
    who: list[str]
    scope: str
    cadence: dict                 # the catalog's cadence: origin, text, kind …
    phrase: str                   # where in the (normalized) clause text it was read
    flags: list[str] = field(default_factory=list)
    after: int | None = None      # index of the duty (same clause) an event cadence follows


@dataclass
class _Mention:
    at: int
    end: int
    key: str
    kind: str                     # department | role
    name: str


class ActorFinder:
    """Departments and roles named in running text, by the directory's names and aliases. A
    two-character alias (教育, 公安) counts only where the grammar says it is an actor
    (followed by 部门/等/、/要 …), so 思想道德教育 is no department."""

    def __init__(self, directory: Directory):
        self.directory = directory
        names: dict[str, tuple[str, str]] = {}
        for d in directory.doc.departments:
            for a in [d.name, *d.names.values(), *d.aliases]:
                names.setdefault(normalize(a), (d.key, "department"))
        for r in directory.doc.roles:
            for a in [r.name, *r.aliases]:
                names.setdefault(normalize(a), (r.key, "role"))
        self.names = {k: v for k, v in names.items() if len(k) >= 2}
        self.pattern = re.compile("|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True)))

    def find(self, text: str) -> list[_Mention]:
        out = []
        for m in self.pattern.finditer(text):
            name = m.group(0)
            if len(name) == 2:
                nxt = text[m.end():m.end() + 1]
                if nxt and nxt not in _SHORT_ALIAS_NEXT:
                    continue
            key, kind = self.names[name]
            out.append(_Mention(m.start(), m.end(), key, kind, name))
        return out


def read_duties(text: str, clause_keys: list[str], finder: ActorFinder, plan_level: str,
                listed: bool = True) -> list[Duty]:
    """The duties stated in one clause's text. ``clause_keys``: the clause's departments (lead
    first), the fallback when a sentence names no actor — all of them when the clause lists
    them (``listed``: a trailing parenthetical, a 责任部门 cell), else the lead alone."""
    norm = normalize(text)
    duties: list[Duty] = []
    start = None
    for sm in _SENTENCE.finditer(norm):
        sentence = sm.group(0)
        pieces = [(m.start(), m.group(0).rstrip(",、")) for m in _PIECE.finditer(sentence)]
        reads = []
        for _offset, phrase in pieces:
            start = start_of(phrase) or start
            reads.append(read_phrase(phrase, start))
        stated = any(found for found, _ in reads)
        for k, (offset, phrase) in enumerate(pieces):
            found, note = reads[k]
            # 定期 in a sentence that states the period (定期走访…，频率不低于每月N次) is that period
            periodic = found is None and note is not None and "定期" in phrase and not stated
            if found is None and not periodic:
                continue
            begin = offset + (found.begin if found else phrase.index("定期"))
            # a phrase that is only a time (2024年11月底前，各地民政部门要…) takes the next as its verb
            rest = _strip_time(phrase, found)
            span_end = offset + len(phrase)
            if len(re.sub(r"[^\u4e00-\u9fff]", "", rest)) < 2 and k + 1 < len(pieces):
                span_end = pieces[k + 1][0] + len(pieces[k + 1][1])
            region = sentence[:begin] + (sentence[offset + len(phrase):span_end] if span_end > offset + len(phrase) else "")
            context = norm[:sm.start()]
            duties += _duties(sentence, offset, phrase, span_end, region, found, clause_keys, finder, plan_level,
                              duties, context, listed)
    return duties


def _strip_time(phrase: str, found: Found | None) -> str:
    rest = phrase[:found.begin] + phrase[found.end:] if found else phrase.replace("定期", "", 1)
    rest = re.sub(r"\d{4}年起|\d{4}年\d{1,2}月(?:底)?前?", "", rest)
    return _COUNTS.sub("", rest)


def _duties(sentence, offset, phrase, span_end, region, found, clause_keys, finder, plan_level, earlier, context, listed):
    flags: list[str] = list(found.flags) if found else [REVIEW_PERIODIC]
    mentions = finder.find(region)
    event = found is not None and found.cadence["kind"] == "event"
    target = len(earlier) - 1 if event and earlier else None
    # who: the nearest role named before the cadence, else the departments named; else the clause's
    if mentions and mentions[-1].kind == "role":
        who = [mentions[-1].key]
    else:
        named = list(dict.fromkeys(m.key for m in mentions if m.kind == "department"))
        inside = [k for k in named if k in clause_keys]
        if inside:
            who = inside
        elif named:
            who = named
            flags.append("正文所列部门不在条款的责任部门中，请核对")
        elif target is not None:
            who = list(earlier[target].who)
        elif listed and found is not None:
            who = list(clause_keys)
            if who:
                flags.append("句中未写明责任主体，按条款的责任部门列出，请核对")
        else:
            # a 定期 duty with no subject, or a paragraph without a department list: the lead
            # (the other departments get the default progress report when the catalog loads)
            who = list(clause_keys[:1])
            if who:
                flags.append("句中未写明责任主体，按牵头部门推定，请核对")
    # scope
    scopes: list[str]
    role = finder.directory.roles.get(who[0]) if len(who) == 1 else None
    if role is not None:
        scopes = ["case"] if _KEY_CHILD.search(sentence) else [role.level if role.level in LEVELS else "village"]
    elif _ALL_LEVELS.search(region):
        below = LEVELS[LEVELS.index(plan_level) + 1:] if plan_level in LEVELS else []
        scopes = ["issuer"] + [lv for lv in below if lv in ("city", "county")] if plan_level != "county" \
            else ["issuer", "township"]
    elif target is not None and not mentions:
        scopes = [earlier[target].scope]
    else:
        own = {"province": "省", "city": "市", "county": "县"}.get(plan_level)
        level = _last_level(region)
        if level:
            scopes = ["issuer" if level == plan_level else level]
        elif own and any(region[max(0, m.at - 1):m.at] == own for m in mentions):
            scopes = ["issuer"]
        elif level := _last_level(context):
            scopes = ["issuer" if level == plan_level else level]
            flags.append("落实层级按上文推定，请核对")
        else:
            scopes = ["issuer"]
            flags.append("原文未写明由哪一级落实，暂按发文单位本级，请核对")
    what = _what(sentence, offset, phrase, span_end, found, mentions, scopes)
    text = _quote(sentence, offset, phrase, span_end, found)
    out = []
    for scope in scopes:
        if found:
            cadence = dict(found.cadence, origin="stated", text=text)
        else:
            cadence = {"origin": "policy", "text": text}
        out.append(Duty(what, who, scope, cadence, phrase, list(flags), target))
    return out


def _last_level(text: str) -> str | None:
    """The level the last level word of ``text`` names (各地市 → city over 各地 → county)."""
    marks = [(m.start(), len(m.group(0)), level) for pattern, level in _LEVEL_MARKS for m in pattern.finditer(text)]
    return max(marks)[2] if marks else None


def _what(sentence, offset, phrase, span_end, found, mentions, scopes) -> str:
    """The verb phrase: the cadence's phrase (or the one after a bare time) without the cadence
    words, the subject and the modal words; short verbs take the 、-joined pieces after them."""
    body = sentence[offset:span_end].rstrip("。;!?")
    if found:
        body = body[:found.begin] + body[found.end:]
    body = _bare(body, [m.name for m in mentions])
    if len(body) < 4:                                   # 研判 → 研判、解决…问题 (the pieces after 、)
        tail = sentence[span_end:]
        more = re.match(r"、([^,。;、]+)", tail)
        if more and read_phrase(more.group(1))[0] is None:
            body += "、" + more.group(1)
        elif re.search(r"频率|频次|次数", phrase):          # 入户频率不低于… → the verb of the phrase before
            before = sentence[:offset].rstrip(",、")
            prev = re.split(r",", before)[-1] if before else ""
            body += _bare(prev, finder_names=[m.name for m in mentions])
    if "case" in scopes and "对象" not in body:
        key_child = _KEY_CHILD.search(sentence)
        if key_child and "对象" in key_child.group(0):
            body += key_child.group(0)
    return body.strip("。;,、") or phrase


def _bare(text: str, finder_names: list[str]) -> str:
    """A phrase without dates, the actors named, the subject's level words and modal words."""
    body = re.sub(r"\d{4}年起|\d{4}年\d{1,2}月(?:底)?前", "", text.rstrip("。;!?"))
    for name in sorted(finder_names, key=len, reverse=True):
        body = body.replace(name, "")
    body = re.sub(r"^[,、]+", "", body)
    body = re.sub(r"^(?:各地市|各设区市|各地|各级|各市|县级|市级|省级|[省市县区])?"
                  r"(?:[\u4e00-\u9fff]{0,2}(?:部门|机关|单位))?(?:和单位)?(?:\([^()]{0,6}\))?", "", body)
    body = _COUNTS.sub("", body)
    body = _FILLER.sub("", body.lstrip(",、"))
    return re.sub(r"[,、]$", "", body)


def _quote(sentence, offset, phrase, span_end, found) -> str:
    """The words quoted as the cadence's text: the phrase, with a 2025年起 just before it and the
    verb after a bare time."""
    text = sentence[offset:span_end]
    before = sentence[:offset].rstrip(",、")
    prev = re.split(r"[,、]", before)[-1] if before else ""
    if prev and start_of(prev):
        text = prev + "," + text
    return text.rstrip("。;")
