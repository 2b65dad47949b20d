"""Reading plans (issue 16): shapes of other localities' plans, made from a repository plan
(Pingdingshan) so that the curated catalog says what the draft must hold — a checklist whose
responsibility column stands among the others under a header and goes over a page break, a
shared level prefix (市、县（区）…), bracketed alternatives and level prefixes, OCR'd clause
numbers, numbering that restarts per section — and departments the directory does not know
proposed as new ones."""
import re

import yaml

from obligations.directory import Directory, dump_directory, parse_directory
from obligations.extract.draft import extract_catalog, plan_id_for, proposal_key, to_yaml, with_proposals
from obligations.extract.structure import read_structure
from tests.test_extract_draft import DIRECTORY, curated, draft_of, source

PLAN = "pingdingshan-2025"


def keys(clause: dict) -> list[str]:
    return [d["key"] for d in clause["departments"]]


def stated(clause: dict) -> list[str]:
    return sorted(o["cadence"]["kind"] for o in clause["obligations"] if o["cadence"]["origin"] == "stated")


def _tasks_of(doc: dict) -> list[dict]:
    return [c for c in doc["clauses"] if c["kind"] == "task"]


def table_variant() -> str:
    """The checklist rebuilt: 类别 | 序号 | 服务对象 | 服务项目 | 责任单位 | 服务内容 | 服务标准, the header
    repeated after a page break (a form feed) half way."""
    text = source(PLAN)
    head, _, _ = text.partition("附件：")
    rows = [c for c in read_structure(text).clauses if c.kind == "checklist"]
    want = {c["id"]: c for c in curated(PLAN)["clauses"]}
    header = "类别\t序号\t服务对象\t服务项目\t责任单位\t服务内容\t服务标准"
    out = [head + "附件：流动儿童在居住地享有关爱服务基础清单", "", header]
    for row in rows:
        if row.number == 13:
            out += ["\f", header]
        c = want[row.id]
        cols = row.columns or {}
        depts = "、".join(d["name"] for d in c["departments"])
        content = cols.get("服务内容") or row.cells[-2]
        out.append("\t".join([c.get("category") or "" if row.number == 1 or c.get("category") != want[
            f"list-{row.number - 1}"].get("category") else "", str(row.number), c.get("target") or "",
            c.get("item") or "", depts, content, "按有关规定执行"]))
    return "\n".join(out) + "\n"


def test_a_responsibility_column_among_the_others_under_a_header():
    text = table_variant()
    assert "\t责任单位\t服务内容" in text and text.count("类别\t序号") == 2
    doc = draft_of(text, PLAN).document
    got = {c["id"]: c for c in doc["clauses"] if c["kind"] == "checklist"}
    want = {c["id"]: c for c in curated(PLAN)["clauses"] if c["kind"] == "checklist"}
    assert set(got) == set(want)
    assert [cid for cid in want if keys(got[cid]) != keys(want[cid])] == []
    assert [cid for cid in want if stated(got[cid]) != stated(want[cid])] == []
    assert [cid for cid in want if got[cid]["item"] != want[cid]["item"]] == []


_PARENS = re.compile(r"（((?:市[^（）、]+、)+市[^（）、]+)按照职责分工负责）")


def prefix_variant() -> str:
    """Each task's list opened by one shared prefix (（市、县（区）民政局、教体局…）), a bracketed
    alternative (卫生健康委（卫健局）), a level prefix of another form (区县医保局), and the clause
    numbers damaged by OCR (1" 2' 3丨 …)."""
    def shared(m: re.Match) -> str:
        names = [n.removeprefix("市") if not n.startswith(("市委", "市中级", "市检", "市法")) else n
                 for n in m.group(1).split("、")]
        names = ["卫生健康委（卫健局）" if n == "卫生健康委" else "区县医保局" if n == "医保局" else n for n in names]
        return "（市、县（区）" + "、".join(names) + "按照职责分工负责）"

    text = _PARENS.sub(shared, source(PLAN))
    marks = ['"', "'", "丨", "`", "’", "”", "·", "'", '"', "丨", "`"]
    for n, mark in enumerate(marks, start=1):
        text = re.sub(rf"^{n}\.", f"{n}{mark}", text, count=1, flags=re.M)
    return text


def test_a_shared_level_prefix_bracketed_alternatives_and_ocr_numbers():
    text = prefix_variant()
    assert "（市、县（区）民政局、教体局" in text and "卫生健康委（卫健局）" in text and '\n1"精准' in text
    doc = draft_of(text, PLAN).document
    got, want = _tasks_of(doc), _tasks_of(curated(PLAN))
    assert [c["id"] for c in got] == [c["id"] for c in want]
    assert [c["id"] for c, w in zip(got, want, strict=True) if keys(c) != keys(w)] == []
    assert [c["id"] for c, w in zip(got, want, strict=True) if stated(c) != stated(w)] == []
    assert extract_catalog(text, DIRECTORY, PLAN).proposals == []        # nothing new: all known names


def section_variant() -> str:
    """The tasks numbered again under each section: （一）1. 2. 3. （二）1. 2. 3. （三）1. …"""
    out, n = [], 0
    for line in source(PLAN).splitlines():
        if re.match(r"^（[一二三四五]）", line) and n < 11:
            count = 0
        m = re.match(r"^(\d{1,2})\.", line)
        if m and int(m.group(1)) == n + 1 and n < 11:
            n += 1
            count += 1
            line = f"{count}." + line[m.end():]
        out.append(line)
    return "\n".join(out) + "\n"


def test_numbering_that_restarts_per_section_keeps_ids_unique():
    text = section_variant()
    assert text.count("\n1.") == 3
    doc = draft_of(text, PLAN).document
    got, want = _tasks_of(doc), _tasks_of(curated(PLAN))
    assert [c["id"] for c in got] == ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "3.4", "3.5"]
    assert [c["title"] for c in got] == [c["title"] for c in want]
    assert [c["id"] for c, w in zip(got, want, strict=True) if keys(c) != keys(w)] == []
    assert [c["id"] for c, w in zip(got, want, strict=True) if stated(c) != stated(w)] == []
    assert not any("按顺序" in (c.get("review") or "") for c in got)


def test_a_department_the_directory_does_not_know_is_proposed_not_lost():
    text = ("某某市测试实施方案\n\n一、主要任务\n"
            "1.建立台账。各县区民政局要建立台账，每季度更新一次。（市委宣传部、市民政局、市城管执法局按照职责分工负责）\n"
            "2.开展走访。各县区民政局要开展走访，每月一次。（市、县（区）城管执法局、民政局按照职责分工负责）\n"
            "3.做好保障。各县区民政局要做好保障（城市中心城区的市辖区之间异地居住或生活的除外）。\n")
    draft = draft_of(text, "t")
    first, second, third = draft.clauses
    assert keys(first) == ["dangwei_xuanchuanbu", "civil_affairs", "chengguan_zhifaju"]
    assert keys(second) == ["chengguan_zhifaju", "civil_affairs"] and "提议新增部门" in first["review"]
    assert keys(third) == [] and "不像部门名称" in third["review"]        # a condition, not a department
    props = {p["key"]: p for p in draft.proposals}
    assert set(props) == {"dangwei_xuanchuanbu", "chengguan_zhifaju"}
    assert props["chengguan_zhifaju"]["levels"] == ["city", "county"] and props["chengguan_zhifaju"]["name"] == "城管执法局"
    assert props["dangwei_xuanchuanbu"]["names"] == {"city": "委宣传部"} and "条款 1" in props["dangwei_xuanchuanbu"]["review"]
    # the directory with them: valid as a file, and resolves the names as written
    doc = with_proposals(DIRECTORY.doc, draft.proposals)
    assert len(doc.departments) == len(DIRECTORY.doc.departments) + 2
    again = parse_directory(dump_directory(doc), "directory.yaml")
    assert again.resolve("市城管执法局").key == "chengguan_zhifaju" and again.resolve("县委宣传部").key == "dangwei_xuanchuanbu"
    assert "review" in yaml.safe_load(dump_directory(doc))["departments"][-1]
    assert with_proposals(doc, draft.proposals) == doc                  # added once
    assert "chengguan_zhifaju" in to_yaml(draft, "source.txt")
    # the plan's own locality is no new department: 某某市民政局 is the civil affairs bureau
    assert keys(draft_of(text.replace("（市委宣传部、", "（某某市民政局、市委宣传部、"), "t").clauses[0])[0] == "civil_affairs"
    assert Directory(doc).knows("chengguan_zhifaju")


def test_proposed_keys_are_readable_and_unique():
    assert proposal_key("妇儿工委办", set()) == "fuer_gongweiban"
    assert proposal_key("融媒体中心", set()) == "rongmei_tizhongxin"
    assert proposal_key("城管执法局", {"chengguan_zhifaju"}) == "chengguan_zhifaju_2"
    assert re.fullmatch(r"[a-z][a-z0-9_]*", proposal_key("12345热线办", set()))


def test_what_web_copies_do_to_a_plan():
    """Pinyin put after characters, doubled separators after a heading number, a definition item,
    the plan's own 文号 and a date without 年月日: read as the plan means them."""
    from obligations.extract.plan_info import read_plan_info
    from obligations.extract.structure import without_reading_aids

    aided = "關(guān)于印發(fā)某市實(shí)施方案（试行）的通知(app)"
    assert without_reading_aids(aided) == "關于印發某市實施方案（试行）的通知(app)"
    assert without_reading_aids("某(guān)市") == "某(guān)市"          # one is no reading aid: left as written
    text = "\n".join([
        "某市民政局文件", "某民发〔2025〕7号",
        "关于印发江城市加强流动儿童关爱保护实施方案的通知",
        "根据《加强流动儿童关爱保护行动方案》（民发〔2024〕35号），结合实际，制定本方案。",
        "某市民政局", "20250301",
        "一,、工作目(mù)标(biāo)",
        "1.到2026年(nián)，流动儿童关爱服务更加精准。",
        "二,、主要任务",
        "1.明确工作对象。本方案所称流动儿童是指跨县域异地居住6个月以上、不满十六周岁的未成年人。",
        "2.认定服务对象。困境儿童是指因家庭贫困导致生活困难的儿童，由市民政局会同市教育局认定（市民政局、市教育局按职责分工负责）。",
        "3.建立信息台账。市民政局每季度更新一次流动儿童信息台账（市民政局负责）。",
    ])
    doc = extract_catalog(text, DIRECTORY, "t").document
    tasks = _tasks_of(doc)
    assert [c["title"] for c in tasks] == ["认定服务对象", "建立信息台账"]      # no goal, no bare definition
    assert stated(tasks[1]) == ["quarterly"]
    info = read_plan_info(text, DIRECTORY, None)
    assert info.implements == ["民发〔2024〕35号"]          # not its own 某民发〔2025〕7号
    joined = read_plan_info("江城市民政局 江城市教育局关于加强流动儿童关爱保护的實施意見\n一、工作任务\n", DIRECTORY, None)
    assert joined.title == "关于加强流动儿童关爱保护的實施意見" and joined.locality == "江城市"   # issuers cut off
    assert str(info.issued) == "2025-03-01" and info.locality == "江城市"


def test_a_division_of_duties_headed_by_the_units_that_owe_them():
    """一、市民政局、市教育局。<duties> — the heading names who owes the item; a heading that only
    reads like an organ (健全儿童福利机构, 成立工作专班) names no one."""
    text = "\n".join([
        "江城市未成年人保护委员会成员单位职责任务分工",
        "一、市民政局、市教育局。牵头建立流动儿童信息台账，每半年更新一次。",
        "二、团市委。组织志愿者开展关爱服务活动。",
        "三、健全儿童福利机构。推进未成年人救助保护机构建设。",
    ])
    tasks = _tasks_of(extract_catalog(text, DIRECTORY, "t").document)
    assert [keys(c) for c in tasks] == [["civil_affairs", "education"], ["youth_league"], []]
    assert tasks[0]["departments"][0]["role"] == "lead" and stated(tasks[0]) == ["semiannual"]


def test_a_division_of_duties_with_no_numbering():
    """省教育厅：<duties> — a line naming the units, then their duties; the notice's addressee line
    (各市民政局、教育局：) is no unit line."""
    text = "\n".join([
        "江城市未成年人保护工作领导小组", "成员单位职责", "",
        "各区民政局、教育局：", "现将成员单位职责印发给你们。", "",
        "市民政局：", "", "牵头建立流动儿童信息台账，每季度更新一次。", "",
        "市教育局、市卫健委：", "", "做好在校流动儿童心理健康服务。",
    ])
    doc = extract_catalog(text, DIRECTORY, "t").document
    tasks = _tasks_of(doc)
    assert [(c["title"], keys(c)) for c in tasks] == [("市民政局", ["civil_affairs"]),
                                                      ("市教育局、市卫健委", ["education", "health"])]
    assert stated(tasks[0]) == ["quarterly"] and doc["plan"]["locality"] == "江城市"


def test_a_task_list_flattened_cell_by_cell():
    """序号 | 任务 | 具体内容 | 责任单位 with every cell on its own line ending in |, no blank line
    between rows: each row starts at its number, its title is the task cell."""
    text = "\n".join([
        "各区民政局：", "现将重点工作任务清单印发给你们。", "附件", "江城市2026年重点工作任务清单",
        "序号 | 任务目录 |", "具体内容 |", "责任单位 |",
        "1 |", "建立信息台账。 |", "摸清流动儿童底数，每季度更新一次。 |", "市民政局、市公安局 |",
        "2 |", "开展心理关爱。 |", "每学期开展一次心理健康筛查。 |", "市教育局 |",
    ])
    rows = [c for c in extract_catalog(text, DIRECTORY, "t").document["clauses"] if c["kind"] == "checklist"]
    assert [(c["title"], keys(c)) for c in rows] == [("建立信息台账。", ["civil_affairs", "public_security"]),
                                                     ("开展心理关爱。", ["education"])]
    assert [c["lines"] for c in rows] == [[8, 11], [12, 15]] and stated(rows[0]) == ["quarterly"]


def test_a_definition_that_also_gives_a_duty_stays_a_task():
    text = "\n".join(["江城市流动儿童关爱保护实施方案", "一、重点任务",
                      "1.明确工作对象。流动儿童是指跨县域异地居住6个月以上的未成年人，各区要逐一登记建档。",
                      "2.开展摸底排查。每半年更新一次台账（市民政局负责）。"])
    assert [c["title"] for c in _tasks_of(extract_catalog(text, DIRECTORY, "t").document)] == ["明确工作对象", "开展摸底排查"]


def test_a_text_that_is_only_a_table_with_the_responsibility_column_first():
    """A task breakdown that is nothing but its table (no notice, no 附件), flattened one cell a
    line with bars on both sides of the row number (| 1 |), the responsibility column before the
    task (序号 | 责任单位 | 考核指标 | 进度 | 实施部门 | 完成时限): each row is read, its 责任单位 cell
    gives its department (not the 实施部门 one), its 考核指标 cell its cadence; the table's title
    cell is the plan's title."""
    text = "\n".join([
        "| 江城区2026年度区民政局重点工作任务分解 |", "| 序号 |", "责任单位 |", "考核指标 |", "分月序时进度 |",
        "实施部门 |", "完成时限 |",
        "| 1 |", "区民政局 |", "按照救助政策要求,按月完成救助审核确认工作。 |", "①1-3月份完成审核;②4-6月份完成审核。 |",
        "社会事务科 |", "2026年12月底 |",
        "| 2 |", "区教育局 |", "按季度报送流动儿童入学情况。 |", "全年推进 |", "基础教育科 |", "2026年12月底 |",
    ])
    doc = extract_catalog(text, DIRECTORY, "t").document
    rows = [c for c in doc["clauses"] if c["kind"] == "checklist"]
    assert [keys(c) for c in rows] == [["civil_affairs"], ["education"]]
    assert rows[0]["title"].startswith("按照救助政策要求") and [c["lines"] for c in rows] == [[8, 13], [14, 19]]
    assert [stated(c) for c in rows] == [["monthly"], ["quarterly"]]
    assert doc["plan"]["title"] == "江城区2026年度区民政局重点工作任务分解"
    # undated: the plan's id takes the year its title names, not the year it is drafted in
    assert plan_id_for({**doc["plan"], "locality": "江城区"}, 2030) == "jiangcheng-2026"


def test_an_item_that_only_gives_a_contact_is_no_task():
    """A notice calling for comments numbers the ways to send them (1.…邮寄至…, 2.…发送至邮箱…): no
    task; an item that gives a hotline and a duty stays one."""
    text = "\n".join([
        "江城市民政局关于征求《江城市流动儿童关爱保护实施方案（征求意见稿）》意见的公告",
        "公众可通过以下途径提出意见:", "1.通过信函方式将意见邮寄至:江城市民政局儿童福利科,联系电话:0100-1234567。",
        "2.通过电子邮件方式将意见发送至邮箱:etfl@example.org。",
        "江城市流动儿童关爱保护实施方案", "一、重点任务",
        "1.开通关爱热线。开通热线电话:0100-7654321,每季度通报接听情况（市民政局负责）。",
        "2.开展摸底排查。每半年更新一次台账（市民政局负责）。",
    ])
    assert [c["title"] for c in _tasks_of(extract_catalog(text, DIRECTORY, "t").document)] == ["开通关爱热线", "开展摸底排查"]


def test_one_township_named_among_the_departments_is_said_to_be_a_unit():
    """市民政局、城东街道: a subdistrict is one unit, not a kind of department; it is left out of the
    departments with a note that says so (not 'no department name'), and generic 各乡镇 is no unit."""
    from obligations.extract.draft import is_unit_name

    text = "\n".join(["江城市2026年重点工作任务清单", "一、重点任务",
                      "1.建设示范站。新建1个未成年人保护工作站（市民政局、城东街道负责）。"])
    clause = _tasks_of(extract_catalog(text, DIRECTORY, "t").document)[0]
    assert keys(clause) == ["civil_affairs"] and "“城东街道”是一个乡镇（街道）等单位" in clause["review"]
    assert is_unit_name("城东街道", DIRECTORY) and is_unit_name("丁堰镇", DIRECTORY)
    assert not any(is_unit_name(n, DIRECTORY) for n in ("各乡镇", "乡镇(街道)", "行政村", "市民政局", "团市委"))


def test_a_place_named_only_in_a_document_the_plan_implements_is_not_its_place():
    """A copy without its title: the place is the unit the text names most, but a document cited
    with its number (《广东省民政厅等21部门关于印发〈…〉的通知》(粤民发〔2024〕70号)) is a higher
    unit's, so the places in it do not count."""
    from obligations.extract.plan_info import read_plan_info

    text = "\n".join([
        "根据《广东省民政厅等21部门关于印发〈广东省加强流动儿童关爱保护实施方案〉的通知》(粤民发〔2024〕70号)、"
        "《广东省民政厅关于做好流动儿童摸排工作的通知》(粤民函〔2024〕12号)精神,结合我市实际,制定本方案。",
        "一、重点任务", "1.加强摸排。将在平顶山市居住6个月以上的流动儿童纳入摸排范围,每半年更新一次(市民政局负责)。"])
    info = read_plan_info(text, DIRECTORY, None)
    assert (info.locality, info.level) == ("平顶山市", "city")
    assert info.implements == ["粤民发〔2024〕70号", "粤民函〔2024〕12号"]
