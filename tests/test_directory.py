"""The directory: name resolution across levels and localities, the tree, its validation."""
import textwrap

import pytest

from obligations.directory import DirectoryError, parse_directory


@pytest.mark.parametrize("name,key,level", [
    ("省民政厅", "civil_affairs", "province"),
    ("市民政局", "civil_affairs", "city"),
    ("县民政局", "civil_affairs", "county"),
    ("县级民政部门", "civil_affairs", "county"),
    ("设区市民政局", "civil_affairs", "city"),
    ("平潭综合实验区社会事业局", "civil_affairs", "city"),
    ("市教体局", "education", "city"),           # Pingdingshan's education and sports bureau
    ("市教育局", "education", "city"),
    ("市卫健委", "health", "city"),
    ("市卫生健康委", "health", "city"),           # = 市卫健委
    ("省卫生健康委", "health", "province"),
    ("市中级法院", "court", "city"),
    ("市法院", "court", "city"),                 # = 市中级法院
    ("市中级人民法院", "court", "city"),
    ("省高级人民法院", "court", "province"),
    ("市检察院", "procuratorate", "city"),
    ("团省委", "youth_league", "province"),
    ("团市委", "youth_league", "city"),
    ("省委网信办", "cyberspace", "province"),
    ("中共福建省委政法委员会", "political_legal_committee", "province"),
    ("省妇儿工委办公室", "women_children_committee", "province"),
    ("省疾控局", "disease_control", "province"),
    ("市疾控中心", "disease_control", "city"),
    ("市房产事务中心", "housing", "city"),
    ("省住房城乡建设厅", "housing", "province"),
    ("省人力资源社会保障厅", "hrss", "province"),
    ("市人社局", "hrss", "city"),
    ("省发改委", "development_reform", "province"),
    ("市文化广电和旅游局", "culture_tourism", "city"),
    ("省广电局", "radio_tv", "province"),
    ("海峡出版发行集团", "publishing", None),
    ("福建省医疗保障局", "medical_insurance", "province"),
    ("村(社区)儿童主任", "children_director", None),
    ("儿童主任", "children_director", None),
])
def test_names_resolve_to_keys(directory, name, key, level):
    found = directory.resolve(name)
    assert found is not None, name
    assert (found.key, found.level) == (key, level)


@pytest.mark.parametrize("name", ["省魔法部", "市", "", "委员会", "民政厅厅"])
def test_unknown_names_do_not_resolve(directory, name):
    assert directory.resolve(name) is None


def test_tree_has_fujian_cities_and_pingtan_with_contacts(directory):
    units = directory.units()
    by_code = {u.code: u for u in units}
    fujian = by_code["350000"]
    cities = [u for u in units if u.parent_code == "350000"]
    assert [c.name for c in cities] == ["福州市", "厦门市", "莆田市", "三明市", "泉州市", "漳州市", "南平市",
                                        "龙岩市", "宁德市", "平潭综合实验区"]
    assert fujian.supervisor_name == "福建省人民政府督查室"
    fuzhou = by_code["350100"]
    contacts = {c.department_key: c for c in fuzhou.contacts}
    assert contacts["civil_affairs"].name == "福州市民政局"
    assert contacts["civil_affairs"].email == "civil_affairs@fuzhou.example.org"
    assert contacts["court"].name == "福州市中级人民法院"
    pingtan = {c.department_key: c for c in by_code["350128"].contacts}
    assert pingtan["civil_affairs"].name == "平潭综合实验区社会事业局"
    pds = {c.department_key: c for c in by_code["410400"].contacts}
    assert pds["education"].name == "平顶山市教体局"
    village = next(u for u in units if u.level == "village" and u.path.startswith("350000/350100/"))
    assert [c.department_key for c in village.contacts] == ["children_director"]
    assert village.contacts[0].email.endswith(".example.org")
    assert all(u.path.endswith(u.code + "/") for u in units)
    assert {u.level for u in units} == {"province", "city", "county", "township", "village"}
    assert all(c.email is None or c.email.endswith("example.org") for u in units for c in u.contacts)


BAD = textwrap.dedent("""\
    departments:
      - key: civil_affairs
        name: 民政部门
        levels: [province, city]
        aliases: [民政局]
      - key: education
        name: 教育部门
        levels: [province, planet]
        aliases: [民政局]
    jurisdictions:
      - name: 福建省
        code: "350000"
        level: province
        children:
          - {name: 福州市, code: "350000", level: city}
          - {name: 某省, code: "350200", level: province, contacts: {magic: {email: a@example.org}}}
    """)


def test_directory_errors_are_located(directory):
    with pytest.raises(DirectoryError) as info:
        parse_directory(BAD, "plans/directory.yaml")
    assert [str(p) for p in info.value.problems] == [
        "plans/directory.yaml:8: departments[1].levels[1]: 取值 'planet' 不在允许范围内 "
        "(允许: 'province', 'city', 'county', 'township' or 'village')"]
    fixed = BAD.replace("planet", "county")
    with pytest.raises(DirectoryError) as info:
        parse_directory(fixed, "plans/directory.yaml")
    found = [str(p) for p in info.value.problems]
    assert "plans/directory.yaml:9: departments[1].aliases: 名称 民政局 同时指向 civil_affairs 和 education" in found
    assert "plans/directory.yaml:15: jurisdictions[0].children[0].code: 区划代码 350000 重复" in found
    assert ("plans/directory.yaml:16: jurisdictions[0].children[1].level: "
            "下级单位的层级 province 必须低于上级的 province") in found
    assert "plans/directory.yaml:16: jurisdictions[0].children[1].contacts: 未知的部门键 magic" in found
