"""The structure of a plan's text: its numbered task clauses (in whatever numbering scheme and
nesting the plan uses), the section each sits under, its title, the 工作要求 paragraphs (req-N)
and the rows of the attached checklist (list-N), each with its first and last line.

Pure functions over text. Tolerant of what PDF extraction and OCR do to a text: markdown heading
marks, half-width or misread brackets (〈 for （), 丨 or ， for ．, numbers garbled or skipped
(repaired by sequence and flagged), lines broken inside a sentence, blank lines between the
pieces of one paragraph, cells of one table row split over several lines."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
TERMINATORS = "。！？；：…”’）)】」』"
REQUIREMENT_TITLES = ("工作要求", "保障措施", "组织实施", "组织保障", "实施保障")

# a heading at the start of a line: 一、  （一）  1.  — with the damage OCR does to them
_L1 = re.compile(r"^(?P<num>[一二三四五六七八九十百〇零]{1,4})\s*[、，,．.]\s*(?P<rest>.*)$")
_L2 = re.compile(r"^[（(〈<［\[]\s*(?P<num>[一二三四五六七八九十百〇零XＸ?？]{1,4})\s*[）)〉>］\]]\s*(?P<rest>.*)$")
# OCR turns the point after a number into a quote mark or a stray character: 1" 2' 3丨 4` 5·
_L3 = re.compile(r"^(?P<num>[0-9０-９lIO]{1,3})\s*(?:[．.、丨|，,\"'“”‘’`´·:：;；」]\s*|\s+)(?P<rest>[^\d\s年月日号%％.．].*)$")
# 一是… 二是…: items below the numbered headings (a plan that lists its tasks this way)
_L4 = re.compile(r"^(?P<num>[一二三四五六七八九十]{1,3})是(?P<rest>[\u4e00-\u9fff].*)$")
# headings that give goals, principles or definitions, never a duty (simplified and traditional)
_NON_TASK = re.compile(r"^(?:(?:指导思想|基本原则|工作原则|工作目标|总体目标|主要目标|总体要求|工作对象|适用范围|"
                       r"基本要求|目标要求|总体思路)[和与及、,，]?)+[。.]?$")
_T2S = str.maketrans("導標總則體對範圍語動兒護關愛與為務開門發會廣電衛門歲區縣鄉鎮黨組織領聯負責職責備報",
                     "导标总则体对范围语动儿护关爱与为务开门发会广电卫门岁区县乡镇党组织领联负责职责备报")
_ATTACHMENT = re.compile(r"^附\s*件\s*\d*\s*[：:]?")
# pinyin some web copies insert after characters: 關(guān)于印發(fā) — a reading aid, not the text
_PINYIN = re.compile(r"(?<=[\u4e00-\u9fff])[(（]([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüê]{1,6})[)）]")
_TONED = re.compile(r"[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ]")
# an item that only says who a term covers: 困境儿童是指… / 本方案所称流动儿童系指…
_DEFINES = re.compile(r"^[^。；，,：:]{1,30}?(?:是指|系指|指的是)")
# an item that tells how to reach someone (a notice calling for comments: 1.通过信函方式将意见邮寄至…,
# 2.…发送至邮箱…): an e-mail address, a telephone number, a postcode, 邮寄至 / 发送至
_CONTACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|(?:电话|热线|传真)[:：]?\s*\d[\d-]{6,}|邮编|邮寄至|发送至")
_ASSIGNS = re.compile(r"负责|牵头|配合|責|牽頭|要|应|應|须|須")     # a duty word: then it is a task


@dataclass
class Clause:
    id: str
    kind: str                        # task | requirement | checklist
    number: int
    section: str | None
    title: str
    text: str
    first: int                       # 1-based line numbers in the source text
    last: int
    flags: list[str] = field(default_factory=list)    # what a person should check
    cells: list[str] = field(default_factory=list)    # a checklist row's cells
    columns: dict[str, str] = field(default_factory=dict)   # a checklist row's cells by the table's header


@dataclass
class Structure:
    clauses: list[Clause]
    title: str | None
    flags: list[str] = field(default_factory=list)

    def ids(self) -> list[str]:
        return [c.id for c in self.clauses]


def cn_number(text: str) -> int | None:
    """一 → 1, 十一 → 11, 二十三 → 23; None if not a Chinese numeral."""
    if not text or any(ch not in CN_DIGITS and ch not in "十百" for ch in text):
        return None
    if "百" in text:
        head, _, tail = text.partition("百")
        hundreds = CN_DIGITS.get(head, 1) if head else 1
        rest = cn_number(tail.lstrip("零〇")) if tail else 0
        return None if rest is None else hundreds * 100 + rest
    if "十" in text:
        head, _, tail = text.partition("十")
        tens = CN_DIGITS.get(head) if head else 1
        ones = CN_DIGITS.get(tail, None) if tail else 0
        return None if tens is None or ones is None else tens * 10 + ones
    if len(text) == 1:
        return CN_DIGITS[text]
    return None


def _raw(line: str) -> str:
    """A line as written (for sections people read): no markdown heading marks, no outer space."""
    return re.sub(r"^#{1,6}\s*", "", line.strip())


def _plain(line: str) -> str:
    """A line for matching: NFKC, no markdown heading marks, no surrounding space."""
    text = unicodedata.normalize("NFKC", line).strip()
    text = re.sub(r"^#{1,6}\s*", "", text)
    text = text.replace("〈", "(").replace("〉", ")") if re.match(r"^〈[^〉]{1,4}〉", text) else text
    return text


@dataclass
class _Heading:
    level: int           # 1: 一、  2: （一）  3: 1.
    number: int | None   # None: garbled
    raw: str
    rest: str
    line: int


def _heading(line: str, index: int) -> _Heading | None:
    text = _plain(line)
    if not text:
        return None
    for level, pattern in ((2, _L2), (1, _L1), (3, _L3), (4, _L4)):
        m = pattern.match(text)
        if not m:
            continue
        raw = m.group("num")
        if level == 4:
            number = cn_number(raw)
        elif level == 3:
            digits = unicodedata.normalize("NFKC", raw).replace("l", "1").replace("I", "1").replace("O", "0")
            number = int(digits) if digits.isdigit() else None
        else:
            number = cn_number(raw)
        rest = m.group("rest").strip().lstrip("、，,．.　 ")     # a doubled separator: 一,、目标要求
        if level == 1 and not rest:
            return None
        return _Heading(level, number, raw, rest, index)
    return None


def _ends_sentence(text: str) -> bool:
    return bool(text) and text.rstrip()[-1] in TERMINATORS


def _title(rest: str) -> str:
    """The words before the first 。 (or the whole heading when it is only a title)."""
    head = re.split(r"[。．]", rest, maxsplit=1)[0]
    return head.strip()


def without_reading_aids(text: str) -> str:
    """The text without the pinyin a web copy put after its characters (關(guān)于 → 關于), when it
    does so throughout (three or more toned syllables); a bracket holding anything else (an
    untoned word such as (app)) stays.
    Only characters inside lines go, so line numbers are those of the source."""
    found = [m for m in _PINYIN.finditer(text) if _TONED.search(m.group(1))]
    if len(found) < 3:
        return text
    return _PINYIN.sub(lambda m: "" if _TONED.search(m.group(1)) else m.group(0), text)


def source_lines(text: str) -> list[str]:
    """The text's lines as a file's line numbers count them: split at \\n only (a form feed
    between PDF pages, or \\x1e, is no line break to an editor or to ``lines:``)."""
    return [ln.removesuffix("\r") for ln in text.split("\n")]


def read_structure(text: str) -> Structure:
    lines = source_lines(without_reading_aids(text))
    n = len(lines)
    flags: list[str] = []
    # the attachment: an 附件 line after the body has begun (the notice before it may name its attachment)
    first_top = next((i for i, ln in enumerate(lines) if (h := _heading(ln, i)) and h.level == 1), 0)
    attach_at = next((i for i, ln in enumerate(lines) if i > first_top and _ATTACHMENT.match(_plain(ln))), n)
    body = [(i, lines[i]) for i in range(attach_at)]
    headings = {i: h for i, ln in body if (h := _heading(ln, i))}
    title = next((_plain(ln) for _, ln in body if _plain(ln) and not _plain(ln).startswith(("(", "（"))), None)

    # the requirements part: from a top heading named 工作要求 (or the like) to the attachment
    req_at = next((i for i, h in sorted(headings.items())
                   if h.level in (1, 2) and any(t in h.rest[:12] for t in REQUIREMENT_TITLES)
                   and h.level == min(x.level for x in headings.values())), None)
    task_end = req_at if req_at is not None else attach_at
    task_heads = [h for i, h in sorted(headings.items()) if i < task_end]
    clause_level = _clause_level(task_heads, lines)
    clauses = _clauses(lines, [h for h in task_heads if h.level <= clause_level], clause_level, task_end,
                       "task", "", flags)
    if not clauses:                     # no numbered task: a division of duties headed by unit lines (省委宣传部：)
        clauses = _unit_paragraphs(lines, task_end)
    if req_at is not None:
        section = _raw(lines[req_at])
        req_heads = [h for i, h in sorted(headings.items()) if req_at < i < attach_at]
        if req_heads:
            level = min(h.level for h in req_heads)
            clauses += _clauses(lines, [headings[req_at]] + [h for h in req_heads if h.level == level], level,
                                attach_at, "requirement", "req-", flags)
        else:
            clauses += _paragraphs(lines, req_at + 1, attach_at, section)
    if attach_at < n:
        clauses += _checklist(lines, attach_at)
    elif not clauses and (table_at := _table_start(lines)) is not None:
        clauses = _checklist(lines, table_at)       # the text is the table: 序号 | 责任单位 | 考核指标 | …
    return Structure(clauses, title, flags)


def _clause_level(heads: list[_Heading], lines: list[str]) -> int:
    """The level whose headings carry the clause text: the deepest level that has headings with
    body text after their title (a task reads 'title。text…')."""
    for level in (4, 3, 2, 1):
        with_text = [h for h in heads if h.level == level and "。" in h.rest and len(h.rest) > 20]
        if len(with_text) >= 2:
            return level
    return max((h.level for h in heads), default=2)


def _span_end(lines: list[str], start: int, stop: int) -> int:
    """The last non-blank line of the span [start, stop)."""
    end = start
    for i in range(start, stop):
        if lines[i].strip():
            end = i
    return end


def non_task(title: str) -> bool:
    """A heading that only gives goals, principles or definitions (指导思想, 工作目标, 工作对象 …)."""
    return bool(_NON_TASK.match(re.sub(r"\s+", "", title.translate(_T2S))))


def defines(text: str, heading: str) -> bool:
    """An item that only defines whom a term covers (1.明确困境儿童类型。困境儿童是指…): its first
    sentence after the title (or after the heading line) is a definition, and it names no duty
    (负责, 牵头, 要, 应 …) — when in doubt it stays a task."""
    title = _title(heading)
    body = text.split(title, 1)[1].lstrip("。．.：: ") if title and title in text else text
    return bool(_DEFINES.match(body)) and not _ASSIGNS.search(text)


def contact_only(text: str) -> bool:
    """An item whose line only tells how to reach someone (where to send comments: an address, a
    mail box, a telephone number) and names no duty (负责, 牵头, 要, 应 …)."""
    return bool(_CONTACT.search(text)) and not _ASSIGNS.search(text)


def _clauses(lines: list[str], heads: list[_Heading], level: int, stop: int, kind: str, prefix: str,
             flags: list[str]) -> list[Clause]:
    """The clauses at ``level``; the headings above it are their sections. Numbering that
    restarts under each section (一、1. 2. 二、1. 2.) is kept, and the ids are then prefixed by
    the section's number (2.1, 2.2) so that they stay unique; a clause under a heading that only
    gives goals, principles or definitions is no task and left out."""
    out: list[Clause] = []
    parents: list[tuple[str, list[tuple[int, int]]]] = []      # each clause's enclosing section numbers
    section: str | None = None
    enclosing: dict[int, tuple[int, str]] = {}                  # level -> (number, title) of the open section
    expected = 1
    first_in_section = True
    restarted = False
    for k, h in enumerate(heads):
        nxt = heads[k + 1].line if k + 1 < len(heads) else stop
        if h.level < level:
            section = _raw(lines[h.line])
            count = enclosing.get(h.level, (0, ""))[0] + 1
            enclosing = {lv: v for lv, v in enclosing.items() if lv < h.level}
            enclosing[h.level] = (h.number if h.number is not None else count, _title(h.rest))
            first_in_section = True
            continue
        if any(non_task(t) for _n, t in enclosing.values()) or non_task(_title(h.rest)):
            continue
        end = _span_end(lines, h.line, nxt)
        text = "".join(_plain(lines[i]) for i in range(h.line, end + 1) if lines[i].strip())
        if kind == "task" and (defines(text, h.rest) or contact_only(h.rest)):
            continue
        clause_flags = []
        number = h.number
        if number == 1 and first_in_section and expected > 1 and kind == "task":
            restarted, expected = True, 1                       # numbering that starts again per section
        first_in_section = False
        if number is None or number != expected:
            if number is None or abs(number - expected) > 1 or number < expected:
                # unreadable, far off, or a number already used: in sequence (ids stay unique)
                clause_flags.append(f"编号“{h.raw}”无法识别或不连续，按顺序作 {expected}")
                number = expected
            elif number == expected + 1:
                clause_flags.append(f"编号跳过了 {expected}")
        out.append(Clause(f"{prefix}{number}", kind, number, section, _title(h.rest), text, h.line + 1, end + 1,
                          clause_flags))
        parents.append((prefix, [(lv, n) for lv, (n, _t) in sorted(enclosing.items())]))
        flags += [f"第{h.line + 1}行：{f}" for f in clause_flags]
        expected = number + 1
    if restarted:
        for depth in range(1, 5):           # the fewest enclosing numbers that make every id unique
            ids = [f"{pre}{'.'.join(str(n) for _lv, n in chain[-depth:])}{'.' if chain else ''}{c.number}"
                   for c, (pre, chain) in zip(out, parents, strict=True)]
            if len(set(ids)) == len(ids) or depth == 4:
                break
        for c, cid in zip(out, ids, strict=True):
            c.id = cid
    return out


# a line that only names the units owing the paragraph below it: 省委宣传部： / 市教育局、市卫健委：
_UNIT_LINE = re.compile(r"^(?P<names>[^\s。，,；;：:]{2,80})[：:]$")
_UNIT_NAME_END = re.compile(r"(?:厅|局|委|会|院|联|办|部|中心|室|所|站|队|处|政府|协会|馆)$")
_UNIT_NAME_START = re.compile(r"^(?:中共|共青团|团[省市县区]委|全国|省|自治区|市|州|盟|县|区|旗|乡镇|街道)")


def _unit_heading(line: str) -> str | None:
    """The names of a unit line (no addressee list: nothing 各… or 有关…)."""
    m = _UNIT_LINE.match(_plain(line))
    if not m:
        return None
    names = [n for n in re.split(r"[、]", m.group("names")) if n]
    ok = names and all(_UNIT_NAME_END.search(n) and "各" not in n and "有关" not in n
                       and (_UNIT_NAME_START.match(n) or len(n) <= 8) for n in names)
    return m.group("names") if ok else None


def _unit_paragraphs(lines: list[str], stop: int) -> list[Clause]:
    """A division of duties with no numbering: each unit line (省委宣传部：) heads the paragraphs up
    to the next one; numbered 1, 2 … in order. The unit line is the clause's title."""
    heads = [i for i in range(stop) if _unit_heading(lines[i])]
    out: list[Clause] = []
    for k, i in enumerate(heads):
        nxt = heads[k + 1] if k + 1 < len(heads) else stop
        end = _span_end(lines, i, nxt)
        if end == i:                      # a unit line with nothing under it
            continue
        title = _unit_heading(lines[i])
        body = "".join(_plain(lines[j]) for j in range(i + 1, end + 1) if lines[j].strip())
        n = len(out) + 1
        out.append(Clause(str(n), "task", n, None, title, f"{title}。{body}", i + 1, end + 1))
    return out


def _paragraphs(lines: list[str], start: int, stop: int, section: str) -> list[Clause]:
    """Unnumbered requirement paragraphs: a paragraph runs on while a line does not end a
    sentence (stray breaks, blank lines inside a sentence)."""
    out: list[Clause] = []
    i = start
    while i < stop:
        if not lines[i].strip():
            i += 1
            continue
        first, parts = i, [_plain(lines[i])]
        last = i
        while not _ends_sentence(parts[-1]):
            j = last + 1
            while j < stop and not lines[j].strip():
                j += 1
            if j >= stop or _heading(lines[j], j):
                break
            parts.append(_plain(lines[j]))
            last = j
        text = "".join(parts)
        n = len(out) + 1
        out.append(Clause(f"req-{n}", "requirement", n, section, _title(text), text, first + 1, last + 1))
        i = last + 1
    return out


_ORG_END = re.compile(r"(厅|局|委|会|院|联|办|部|中心|团|室|所|司|站|集团|机关|单位|队)[)）]?$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"\t|\s*\|\s*", line) if c.strip()]


def _row_number(cells: list[str], expected: int) -> bool:
    return any(unicodedata.normalize("NFKC", c) == str(expected) for c in cells[:2])


# the header of a checklist's responsibility column, and of the columns before the number
RESPONSIBLE = re.compile(r"^(?:责任|牵头|主责|负责|实施|承办)(?:单位|部门|主体|处室|机构)")
_NUMBER_HEAD = re.compile(r"^(?:序号|编号|序|No\.?)$")
_CATEGORY_HEAD = re.compile(r"^(?:类别|领域|类型|分类|服务类别|板块)$")


def _raw_cells(line: str) -> list[str]:
    """A row's cells with the empty ones kept (a merged or blank cell keeps its place)."""
    cells = [c.strip() for c in re.split(r"\t|\|", line.strip("\r\n"))]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _header_names(lines: list[str], start: int) -> list[str] | None:
    """All the column names of the checklist's first header that names a responsibility column
    (责任单位/责任部门/牵头单位/责任主体 …): a row of cells, or one cell a line (a line of a table
    flattened cell by cell, 序号 | 任务目录 |, may hold more than one)."""
    for i in range(start, len(lines)):
        cells = _cells(lines[i])
        if len(cells) >= 2 and any(RESPONSIBLE.match(c) for c in cells):
            return cells
        if len(cells) == 1 and RESPONSIBLE.match(cells[0]):
            j = i
            while j > start and len(_cells(lines[j - 1])) == 1 and i - j < 8 \
                    and not _NUMBER_HEAD.match(_cells(lines[j])[0]):   # back to the number column's name
                j -= 1
            if j > start and lines[j - 1].rstrip().endswith("|") and any(
                    _NUMBER_HEAD.match(c) for c in _cells(lines[j - 1])):
                j -= 1                                  # 序号 | 任务目录 | on the line above
            k = i                                       # names after it, one a line, up to the first row
            while k + 1 < len(lines) and lines[k].rstrip().endswith("|") and len(_cells(lines[k + 1])) == 1 \
                    and not unicodedata.normalize("NFKC", _cells(lines[k + 1])[0]).isdigit() and k - i < 12:
                k += 1
            return [c for m in range(j, k + 1) for c in _cells(lines[m])]
    return None


def _table_start(lines: list[str]) -> int | None:
    """The line above the header of a table with a responsibility column (its title, or the line
    before), in a text that holds no numbered clause and no attachment: the text is the table."""
    for i, line in enumerate(lines):
        cells = _cells(line)
        if any(_NUMBER_HEAD.match(c) for c in cells) and _header_names(lines, i) is not None:
            return i - 1 if i > 0 else None
    return None


def _header(lines: list[str], start: int) -> list[str] | None:
    """The checklist's column names after the number column (see ``_header_names``)."""
    names = _header_names(lines, start)
    if names is None:
        return None
    at = next((k for k, c in enumerate(names) if _NUMBER_HEAD.match(c)), None)
    names = names[at + 1:] if at is not None else [c for c in names if not _CATEGORY_HEAD.match(c)]
    return names if any(RESPONSIBLE.match(c) for c in names) else None


def _columns(row: list[str], number: int, header: list[str] | None) -> dict[str, str]:
    if not header:
        return {}
    at = next((k for k, c in enumerate(row) if unicodedata.normalize("NFKC", c) == str(number)), None)
    if at is None:
        return {}
    after = row[at + 1:]
    if len(after) != len(header) and len([c for c in after if c]) == len(header):
        after = [c for c in after if c]           # blank cells the extraction added
    return {name: (after[k] if k < len(after) else "") for k, name in enumerate(header)}


def _checklist(lines: list[str], start: int) -> list[Clause]:
    """Rows of the attached checklist, found by their sequence number: a row on one line with
    its cells separated by tabs (or | in markdown), or one cell per line, rows apart by blank lines.
    The table's header (repeated where the table goes over a page) names the columns; the
    responsibility column is found by its name wherever it stands."""
    section = _raw(lines[start])
    names = _header_names(lines, start + 1) or []
    # a header that opens with the number (序号 | 任务 | 内容 | 责任单位): a row cell by cell starts at its number
    number_first = bool(names) and bool(_NUMBER_HEAD.match(names[0]))
    header = _header(lines, start + 1)
    after = names[1:] if number_first else [c for c in names if not _NUMBER_HEAD.match(c)]
    title_at = next((k for k, c in enumerate(after) if re.search(r"任务|事项|项目|工作", c) and "内容" not in c), None)
    if header and RESPONSIBLE.match(header[-1]):
        header = None                 # the responsibility column is the last: the row's last cell (as merged
    resp_last = header is None        # and blank cells leave it, even where a page break shifted the row)
    out: list[Clause] = []
    expected = 1
    i, n = start + 1, len(lines)
    while i < n:
        cells = _cells(lines[i])
        if not cells or not _row_number(cells, expected):
            i += 1
            continue
        if len(cells) >= 3:                            # the whole row on this line
            first = last = i
            # a row the extraction broke inside a cell: until the row ends in its 责任部门 cell,
            # a following line that is not a row of its own continues it
            while ((not _ORG_END.search(_cells("".join(lines[first:last + 1]))[-1]) if resp_last
                    else len(_columns(_raw_cells("".join(lines[first:last + 1])), expected, header)
                             .get(header[-1], "")) == 0)
                   and last + 1 < n and lines[last + 1].strip()
                   and not _row_number(_cells(lines[last + 1]), expected + 1) and last - first < 3):
                last += 1
            cells = _cells("".join(lines[first:last + 1]))
            columns = _columns(_raw_cells("".join(lines[first:last + 1])), expected, header)
        else:                                          # one cell per line: the block around it; a line
            first = i                                  # holding only a tab is an empty cell, not a gap
            while not number_first and first - 1 > start and lines[first - 1].strip(" \r") \
                    and not _row_number(_cells(lines[first - 1]), expected - 1):
                first -= 1
            last = i
            while last + 1 < n and lines[last + 1].strip(" \r") and not _row_number(_cells(lines[last + 1]), expected + 1):
                last += 1
        text = " ".join(_plain(lines[k]) for k in range(first, last + 1) if lines[k].strip())
        if len(cells) < 3:
            columns = _columns(_joined_cells(lines[first:last + 1], keep_empty=True), expected, header)
        row = cells if len(cells) >= 3 else _joined_cells(lines[first:last + 1])
        out.append(Clause(f"list-{expected}", "checklist", expected, section, _row_title(row, expected, title_at), text,
                          first + 1, last + 1, cells=row, columns=columns))
        expected += 1
        i = last + 1
    return out


def _joined_cells(block: list[str], keep_empty: bool = False) -> list[str]:
    """One cell per line; a line that does not start with a tab continues the cell above
    (a cell wrapped by the extraction). ``keep_empty``: a line holding only a tab is an empty cell."""
    cells: list[str] = []
    closed = False
    for line in block:
        if line.startswith("\t") or not cells or closed:
            cells.append(line.strip())
        else:
            cells[-1] += line.strip()
        closed = line.rstrip().endswith("|")          # a table flattened cell by cell: 内容 |
        if closed:
            cells[-1] = cells[-1].strip("| ").strip()        # | 1 | opens a row with a bar too
    return cells if keep_empty else [c for c in cells if c]


def _row_title(cells: list[str], number: int, title_at: int | None = None) -> str:
    """The item of a row: the header's task or item column (任务目录, 服务项目 …) when it has one,
    else the cell after the target group (the second cell after the number)."""
    idx = next((k for k, c in enumerate(cells) if unicodedata.normalize("NFKC", c) == str(number)), 0)
    rest = cells[idx + 1:]
    if title_at is not None and title_at < len(rest):
        return rest[title_at]
    return rest[1] if len(rest) > 1 else (rest[0] if rest else "")
