"""The catalog format refuses bad input with every problem as `file:line: field: reason`."""
import textwrap

import pytest

from obligations.catalog import CatalogError, PolicyDefault, effective_catalog, parse_catalog

GOOD = textwrap.dedent("""\
    plan:
      id: test-plan
      title: 测试方案
      issuer: 福建省民政厅
      locality: 福建省
      level: province
      issued: 2025-01-09
    clauses:
      - id: "1"
        kind: task
        title: 开展监测摸排
        text: 至少每半年更新一次流动儿童信息。（省民政厅、省教育厅按照职责分工负责）
        lines: [3, 3]
        departments:
          - {name: 省民政厅, role: lead}
          - {name: 省教育厅, role: co}
        obligations:
          - id: "1.1"
            what: 更新流动儿童信息
            who: [civil_affairs, education]
            scope: county
            cadence:
              kind: semiannual
              origin: stated
              text: 至少每半年更新一次
      - id: "2"
        kind: task
        text: 制定服务清单。
        lines: [5, 6]
        departments:
          - {name: 市民政局, role: lead}
        obligations:
          - id: "2.1"
            what: 发布清单
            who: [civil_affairs]
            scope: city
            cadence: {kind: biennial, origin: stated, text: 每两年更新发布一次}
          - id: "2.2"
            what: 报送备案
            who: [civil_affairs]
            scope: city
            cadence:
              kind: event
              after: {obligation: "2.1", days: 10}
              origin: stated
              text: 下发后10日内报送备案
    """)


def problems(text, directory, source_lines=None):
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, "plans/x/catalog.yaml", directory, source_lines)
    return [str(p) for p in info.value.problems]


def test_good_catalog_validates(directory):
    catalog = parse_catalog(GOOD, "plans/x/catalog.yaml", directory)
    assert [c.id for c in catalog.clauses] == ["1", "2"]
    assert catalog.clauses[1].obligations[1].cadence.after.obligation == "2.1"


def test_unknown_cadence_kind_names_file_line_field(directory):
    text = GOOD.replace("kind: semiannual", "kind: fortnightly")
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:23: clauses[0].obligations[0].cadence.kind: 取值 'fortnightly' 不在允许范围内 "
        "(允许: 'once', 'monthly', 'quarterly', 'semiannual', 'annual', 'biennial', 'rrule' or 'event')"
    ]


def test_department_missing_from_directory(directory):
    text = GOOD.replace("{name: 省教育厅, role: co}", "{name: 省魔法部, role: co}")
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:16: clauses[0].departments[1].name: 部门名称 '省魔法部' 不在部门目录中"
    ]


def test_department_key_contradicting_directory(directory):
    text = GOOD.replace("{name: 省教育厅, role: co}", "{name: 省教育厅, key: health, role: co}")
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:16: clauses[0].departments[1].key: 部门 '省教育厅' 在目录中对应 education，而不是 health"
    ]


def test_unknown_who_key(directory):
    text = GOOD.replace("who: [civil_affairs, education]", "who: [civil_affairs, educaton]")
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:20: clauses[0].obligations[0].who[1]: 'educaton' 不是部门目录中的部门键或角色键"
    ]


def test_months_outside_range(directory):
    text = GOOD.replace("kind: semiannual\n", "kind: semiannual\n          months: [4, 13]\n")
    found = problems(text, directory)
    assert found == ["plans/x/catalog.yaml:24: clauses[0].obligations[0].cadence.months: 月份必须在 1–12 之间，发现 [13]"]


def test_duplicate_clause_id(directory):
    text = GOOD.replace('- id: "2"', '- id: "1"')
    assert problems(text, directory) == ["plans/x/catalog.yaml:26: clauses[1].id: 条款编号 '1' 重复 (第 9 行已有)"]


def test_after_names_no_obligation(directory):
    text = GOOD.replace('after: {obligation: "2.1", days: 10}', 'after: {obligation: "9.9", days: 10}')
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:44: clauses[1].obligations[1].cadence.after.obligation: after 指向的义务 '9.9' 不存在"
    ]


def test_every_error_is_listed_not_just_the_first(directory):
    text = (GOOD.replace('- id: "2"', '- id: "1"')
                .replace("{name: 省教育厅, role: co}", "{name: 省魔法部, role: co}")
                .replace('after: {obligation: "2.1", days: 10}', 'after: {obligation: "9.9", days: 10}'))
    found = problems(text, directory)
    assert len(found) == 3
    assert {f.split(": ")[0] for f in found} == {"plans/x/catalog.yaml:26", "plans/x/catalog.yaml:16",
                                                 "plans/x/catalog.yaml:44"}


def test_missing_required_field_points_at_its_parent(directory):
    text = GOOD.replace("        what: 更新流动儿童信息\n", "")
    assert problems(text, directory) == ["plans/x/catalog.yaml:18: clauses[0].obligations[0].what: 缺少必填字段"]


def test_stated_cadence_needs_its_literal_phrase(directory):
    text = GOOD.replace("          text: 至少每半年更新一次\n", "")
    [found] = problems(text, directory)
    assert found.startswith("plans/x/catalog.yaml:22: clauses[0].obligations[0].cadence: ")
    assert "text" in found


def test_once_needs_deadline_and_bad_rrule_is_refused(directory):
    text = GOOD.replace("kind: semiannual", "kind: once").replace(
        "cadence: {kind: biennial,", 'cadence: {kind: rrule, rrule: "FREQ=SOMETIMES",')
    found = problems(text, directory)
    assert any("clauses[0].obligations[0].cadence" in f and "deadline" in f for f in found)
    assert any(f.startswith("plans/x/catalog.yaml:37: clauses[1].obligations[0].cadence.rrule: RRULE 无法解析") for f in found)


def test_lines_beyond_source_text(directory):
    assert problems(GOOD, directory, source_lines=5) == [
        "plans/x/catalog.yaml:29: clauses[1].lines: 行号 [5, 6] 超出原文 source.txt 的 5 行"
    ]


def test_yaml_syntax_error_and_duplicate_key(directory):
    [found] = problems(GOOD.replace("title: 测试方案", "title: [测试方案"), directory)
    assert found.startswith("plans/x/catalog.yaml:") and "YAML 语法错误" in found
    dup = GOOD.replace("  level: province\n", "  level: province\n  level: city\n")
    assert "plans/x/catalog.yaml:7: plan.level: 重复的键" in problems(dup, directory)


def test_effective_catalog_gives_uncovered_departments_the_policy_cadence(directory):
    text = GOOD.replace("who: [civil_affairs, education]", "who: [civil_affairs]")
    catalog = parse_catalog(text, "x.yaml", directory)
    eff = effective_catalog(catalog, PolicyDefault(kind="monthly", scope="county"), directory)
    obs = {o.id: o for _, o in eff.obligations()}
    assert obs["1.p"].who == ["education"]
    assert obs["1.p"].cadence.origin == "policy" and obs["1.p"].cadence.kind == "monthly"
    assert obs["1.p"].scope == "county"
    assert "2.p" not in obs  # clause 2's only department owes stated duties
    assert eff.clauses[0].departments[0].key == "civil_affairs"  # keys resolved from names
