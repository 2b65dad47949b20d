"""The plan's own particulars from its text: title (joined when the layout broke it over lines,
with a 征求意见稿 mark), locality and level (from the title), the issuers and the date of the
signature block, the documents it implements (文号 cited in the preamble). What the text does
not say is proposed from the directory and flagged."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from obligations.directory import Directory
from obligations.extract.structure import _heading, _plain, source_lines, without_reading_aids

_TITLE_WORD = re.compile(r"(方案|意见|办法|计划|规划|细则|措施|通知|职责|分工|分解|要点|清单)$")
_DRAFT = re.compile(r"^[(（](征求意见稿|试行|送审稿|讨论稿)[)）]$")
# a date standing alone; a web copy may drop its 年月日 (20211125)
_DATE = re.compile(r"^(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|(\d{2})(\d{2}))$")
_DOC_NO = re.compile(r"[\u4e00-\u9fff]{1,6}[〔\[［(（]\d{4}[〕\]］)）]\d{1,4}[号號]")
# the title words in traditional characters (意見, 規劃, 清單 …)
_T2S_TITLE = str.maketrans("見劃單規計辦細職責點實", "见划单规计办细职责点实")
_OWN_NO = re.compile(r"(?:发文字号|文号|發文字號|文號)")
_LOCALITY = re.compile(r"^(?:关于印发)?《?([\u4e00-\u9fff]{2,10}?(?:自治区|省|自治州|市|盟|地区|自治县|县|旗|区))")
_LEVEL = {"自治区": "province", "省": "province", "自治州": "city", "市": "city", "盟": "city", "地区": "city",
          "自治县": "county", "县": "county", "旗": "county", "区": "county"}
_DIRECT = ("北京市", "天津市", "上海市", "重庆市")


@dataclass
class PlanInfo:
    title: str | None = None
    locality: str | None = None
    level: str | None = None
    issuer: str | None = None
    co_issuers: list[str] = field(default_factory=list)
    issued: dt.date | None = None
    implements: list[str] = field(default_factory=list)
    status: str | None = None
    flags: list[str] = field(default_factory=list)


def read_plan_info(text: str, directory: Directory, lead_key: str | None) -> PlanInfo:
    """``lead_key``: the department that leads most clauses (the issuer when none signs)."""
    lines = source_lines(without_reading_aids(text))
    body_at = next((i for i, ln in enumerate(lines) if (h := _heading(ln, i)) and h.level == 1), len(lines))
    # a table's title cell (| 2025年度…任务分解 |) reads without the bars around it
    preamble = [(i, _plain(ln).strip("|").strip()) for i, ln in enumerate(lines[:body_at]) if _plain(ln).strip("|").strip()]
    info = PlanInfo()
    info.title, info.status = _title(preamble)
    if info.title is None:
        info.flags.append("未找到方案标题，请填写 plan.title")
    m = _LOCALITY.match(info.title or "")
    if info.title and " " in info.title and (at := max(info.title.find("关于"), info.title.find("關于"),
                                                       info.title.find("關於"))) > 0:
        info.title = info.title[at:]          # the issuers before 关于 are no part of the title
        info.flags.append("标题与发文单位在同一行，已取“关于”起的部分，请核对 plan.title")
    if m:
        info.locality = m.group(1)
        suffix = next(s for s in sorted(_LEVEL, key=len, reverse=True) if info.locality.endswith(s))
        info.level = "province" if info.locality in _DIRECT else _LEVEL[suffix]
        # a unit of the directory's jurisdictions has its level there (巢湖市 is a county-level city)
        unit = next((u for u in _units(directory.doc.jurisdictions) if u.name == info.locality), None)
        if unit is not None and unit.level in ("province", "city", "county"):
            info.level = unit.level
        elif unit is None and (home := _home_unit(directory)) is not None:
            # a place the folder's jurisdictions do not hold (a copy that altered the name, a zone
            # not in the division list): the folder's own locality, so that the draft loads
            info.flags.append(f"标题中的地名“{info.locality}”不在本地区的行政区划中，按本工作文件夹的地区作“{home[0]}”，"
                              "请核对 plan.locality 与 plan.level")
            info.locality, info.level = home
    elif (named := _home_unit(directory) or _named_unit(lines, directory)) is not None:
        info.locality, info.level = named
        info.flags.append(f"标题中未找到地名，按本地区作“{info.locality}”，请核对 plan.locality 与 plan.level")
    else:
        info.flags.append("标题中未找到地名，请填写 plan.locality 与 plan.level")
    # the signature block: lines of names just before a date standing alone
    for k, (i, ln) in enumerate(preamble):
        d = _DATE.match(ln)
        if not d:
            continue
        try:
            info.issued = dt.date(int(d[1]), int(d[2] or d[4]), int(d[3] or d[5]))
        except ValueError:
            info.flags.append(f"第{i + 1}行的日期“{ln}”无效，请核对 plan.issued")
            continue
        names: list[str] = []
        for _, prev in reversed(preamble[:k]):
            if _TITLE_WORD.search(prev) or prev.endswith(("。", "：", ":")) or len(prev) > 80:
                break
            names = prev.split() + names
        if names:
            info.issuer, info.co_issuers = names[0], names[1:]
        break
    if info.issuer is None:
        level_name = directory.departments[lead_key].names.get(info.level or "") if lead_key in directory.departments else None
        if info.locality and level_name:
            info.issuer = info.locality + level_name
        else:
            info.issuer = "待填写"
        info.flags.append(f"原文未载发文单位，按牵头部门填写为“{info.issuer}”，请核对")
    intro = "".join(ln for _, ln in preamble)
    # the plan's own number (a line holding only it, or a 文号 / 发文字号 field) is none it implements
    own = {_normal_doc_no(n) for _, ln in preamble for n in _DOC_NO.findall(re.sub(r"\s+", "", ln))
           if _OWN_NO.search(re.sub(r"\s+", "", ln)) or _DOC_NO.fullmatch(re.sub(r"\s+", "", ln))}
    info.implements = [n for n in dict.fromkeys(_normal_doc_no(n) for n in _DOC_NO.findall(re.sub(r"\s+", "", intro)))
                       if not any(n.endswith(o) for o in own)]
    return info


def _title(preamble: list[tuple[int, str]]) -> tuple[str | None, str | None]:
    short = [(k, ln) for k, (_, ln) in enumerate(preamble) if len(ln) <= 40 and not re.search(r"[。，；]", ln)]
    for pos, (k, ln) in enumerate(short):
        if not _TITLE_WORD.search(ln.translate(_T2S_TITLE)) or _DATE.match(ln):
            continue
        title = ln
        # a title the layout broke: the short line just before, if it reads as its beginning
        if pos > 0 and short[pos - 1][0] == k - 1:
            prev = short[pos - 1][1]
            if not prev.startswith(("(", "（")) and not _DATE.match(prev) and " " not in prev \
                    and not _TITLE_WORD.search(prev) and not _DOC_NO.search(prev) \
                    and not re.fullmatch(r"附\s*件\s*\d*", prev):          # nor does a 文号 or the 附件 mark
                title = prev + title
        status = None
        if k + 1 < len(preamble) and (d := _DRAFT.match(preamble[k + 1][1])):
            title += f"（{d.group(1)}）"
            status = "draft" if d.group(1) != "试行" else None
        return title, status
    # a joint notice's title on one line with its issuers: 某省民政厅 某省教育厅 …关于…的实施意见
    for _k, ln in preamble:
        if len(ln) <= 300 and not re.search(r"[。，；]", ln) and _TITLE_WORD.search(ln.translate(_T2S_TITLE)) \
                and max(ln.find("关于"), ln.find("關于"), ln.find("關於")) > 0:
            return ln, None
    return None, None


def _home_unit(directory: Directory) -> tuple[str, str] | None:
    """The locality a working folder was made for (duban init): the end of the chain of single
    units from the one root of the directory's jurisdictions (江苏省 › 南通市 › 如皋市 › its
    townships → 如皋市); None for a directory of several roots."""
    units = directory.doc.jurisdictions
    if len(units) != 1:
        return None
    unit = units[0]
    while len(unit.children) == 1 and unit.children[0].level in ("province", "city", "county"):
        unit = unit.children[0]
    return (unit.name, unit.level) if unit.level in ("province", "city", "county") else None


_CITED_WITH_NUMBER = re.compile(r"《[^《》]{2,120}》(?:的通知)?[(（][^()（）]{0,12}[〔\[［(（]\d{4}[〕\]］)）]\d{1,4}号[)）]")


def _named_unit(lines: list[str], directory: Directory) -> tuple[str, str] | None:
    """The locality a text without a title is about: the unit of the directory's jurisdictions
    (province, city or county) its text names most often (保山市民政局, 《保山市…工作要点》),
    the higher one on a tie; None when it names none. A document cited with its number is one the
    plan implements: the places in it do not count."""
    text = re.sub(r"\s+", "", "".join(lines))
    # a document cited with its number (《某省…关于印发〈…〉的通知》(粤民发〔2024〕70号)) is one the
    # plan implements, a higher unit's: the place it names is the level above, not the plan's
    text = _CITED_WITH_NUMBER.sub("", text)
    best: tuple[int, int, str, str] | None = None
    rank = {"province": 0, "city": 1, "county": 2}
    for unit in _units(directory.doc.jurisdictions):
        if unit.level not in rank or len(unit.name) < 3:
            continue
        count = text.count(unit.name)
        if count and (best is None or (count, -rank[unit.level]) > (best[0], best[1])):
            best = (count, -rank[unit.level], unit.name, unit.level)
    return (best[2], best[3]) if best else None


def _units(units):
    for u in units:
        yield u
        yield from _units(u.children)


def _normal_doc_no(number: str) -> str:
    return re.sub(r"[\[［(（](\d{4})[\]］)）]", r"〔\1〕", number).replace("號", "号")
